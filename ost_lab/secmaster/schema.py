"""The securities-master schema and its migrations (version in ``PRAGMA user_version``).

Bars live twice: row-wise in ``ohlcv`` (the source of truth, queryable by SQL) and as compressed
column chunks in ``ohlcv_chunks`` (a derived read accelerator written in the same transaction).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from ost_lab.secmaster.errors import SecmasterError

RTYPE_1S, RTYPE_1M, RTYPE_1H, RTYPE_1D, RTYPE_EOD = 32, 33, 34, 35, 36
NS = 1_000_000_000
RTYPE_PERIOD_NS: dict[int, int] = {
    RTYPE_1S: NS,
    RTYPE_1M: 60 * NS,
    RTYPE_1H: 3600 * NS,
    RTYPE_1D: 86400 * NS,
    RTYPE_EOD: 86400 * NS,
}
TIMEFRAME_RTYPE: dict[str, int] = {"1s": 32, "1m": 33, "1h": 34, "1d": 35, "eod": 36}
RTYPE_TIMEFRAME: dict[int, str] = {v: k for k, v in TIMEFRAME_RTYPE.items()}
CHUNK_BARS = 8192
"""Bars per chunk period: a chunk covers ``CHUNK_BARS`` bar periods of time."""

_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta VALUES ('data_version', 0);
CREATE TABLE publishers (
  publisher_id INTEGER PRIMARY KEY, name TEXT NOT NULL, dataset TEXT NOT NULL, venue TEXT NOT NULL
);
CREATE TABLE instruments (
  instrument_id INTEGER PRIMARY KEY,
  symbol TEXT NOT NULL,
  asset_class TEXT NOT NULL DEFAULT 'equity',
  currency TEXT NOT NULL DEFAULT 'USD',
  exchange TEXT NOT NULL DEFAULT '',
  publisher_id INTEGER REFERENCES publishers(publisher_id),
  multiplier REAL NOT NULL DEFAULT 1 CHECK (multiplier > 0),
  tick_size INTEGER CHECK (tick_size IS NULL OR tick_size > 0),
  lot_size INTEGER CHECK (lot_size IS NULL OR lot_size > 0),
  expiry INTEGER,
  description TEXT NOT NULL DEFAULT '',
  timezone TEXT NOT NULL DEFAULT 'UTC',
  session_start_min INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX instruments_symbol ON instruments(symbol COLLATE NOCASE);
CREATE INDEX instruments_asset_class ON instruments(asset_class);
CREATE TABLE symbology (
  symbol TEXT NOT NULL,
  instrument_id INTEGER NOT NULL,
  start_date TEXT NOT NULL,
  end_date TEXT NOT NULL,
  CHECK (start_date < end_date),
  PRIMARY KEY (symbol, start_date, instrument_id)
) WITHOUT ROWID;
CREATE TABLE ohlcv (
  instrument_id INTEGER NOT NULL,
  rtype INTEGER NOT NULL CHECK (rtype BETWEEN 32 AND 36),
  ts_event INTEGER NOT NULL,
  open INTEGER NOT NULL,
  high INTEGER NOT NULL,
  low INTEGER NOT NULL,
  close INTEGER NOT NULL,
  volume INTEGER NOT NULL CHECK (volume >= 0),
  CHECK (low <= open AND low <= close AND open <= high AND close <= high),
  PRIMARY KEY (instrument_id, rtype, ts_event)
) WITHOUT ROWID;
CREATE TABLE ohlcv_chunks (
  instrument_id INTEGER NOT NULL,
  rtype INTEGER NOT NULL,
  chunk INTEGER NOT NULL,
  n INTEGER NOT NULL CHECK (n > 0),
  first_ts INTEGER NOT NULL,
  last_ts INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (instrument_id, rtype, chunk)
) WITHOUT ROWID;
CREATE TABLE coverage (
  instrument_id INTEGER NOT NULL,
  rtype INTEGER NOT NULL,
  first_ts INTEGER NOT NULL,
  last_ts INTEGER NOT NULL,
  row_count INTEGER NOT NULL,
  PRIMARY KEY (instrument_id, rtype)
) WITHOUT ROWID;
CREATE TABLE trades (
  instrument_id INTEGER NOT NULL,
  ts_event INTEGER NOT NULL,
  sequence INTEGER NOT NULL,
  ts_recv INTEGER NOT NULL,
  price INTEGER NOT NULL,
  size INTEGER NOT NULL CHECK (size >= 0),
  side TEXT NOT NULL CHECK (side IN ('A', 'B', 'N')),
  PRIMARY KEY (instrument_id, ts_event, sequence)
) WITHOUT ROWID;
CREATE TABLE quotes (
  instrument_id INTEGER NOT NULL,
  ts_event INTEGER NOT NULL,
  sequence INTEGER NOT NULL,
  ts_recv INTEGER NOT NULL,
  bid_px INTEGER,
  ask_px INTEGER,
  bid_sz INTEGER NOT NULL CHECK (bid_sz >= 0),
  ask_sz INTEGER NOT NULL CHECK (ask_sz >= 0),
  PRIMARY KEY (instrument_id, ts_event, sequence)
) WITHOUT ROWID;
CREATE TABLE ingests (
  source TEXT NOT NULL, sha256 TEXT NOT NULL, kind TEXT NOT NULL, rows INTEGER NOT NULL,
  ingested_at INTEGER NOT NULL, PRIMARY KEY (sha256, kind)
) WITHOUT ROWID;
"""


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    """Run ``;``-separated DDL inside the caller's transaction (executescript would commit)."""
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    lambda db: _run_script(db, _V1),
]
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path | str, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (creating and migrating) the secmaster at ``path`` in WAL mode, autocommit off."""
    path = Path(path)
    if readonly:
        if not path.exists():
            raise SecmasterError(f"no securities master at {path}")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: big ingests stay in memory
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = OFF")
        migrate(conn, readonly=readonly)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise SecmasterError(f"{path}: not a usable securities master ({exc})") from exc
    return conn


def migrate(conn: sqlite3.Connection, *, readonly: bool = False) -> int:
    """Bring the schema up to ``SCHEMA_VERSION``; each step runs in its own transaction."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise SecmasterError(
            f"securities master schema version {version} is newer than this ost_lab "
            f"({SCHEMA_VERSION}); upgrade ost_lab"
        )
    if version == SCHEMA_VERSION:
        return version
    if readonly:
        raise SecmasterError(f"schema version {version} needs a migration; open read-write")
    db = sqlite_utils.Database(conn)
    for step in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[step](db)
            conn.execute(f"PRAGMA user_version = {step + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION


def rtype_for(timeframe: str | int) -> int:
    """The Databento rtype of a native timeframe ('1s', '1m', '1h', '1d', 'eod') or rtype int."""
    if isinstance(timeframe, int):
        if timeframe not in RTYPE_PERIOD_NS:
            raise SecmasterError(f"unknown OHLCV rtype {timeframe}")
        return timeframe
    try:
        return TIMEFRAME_RTYPE[timeframe.lower()]
    except KeyError:
        raise SecmasterError(
            f"unknown native timeframe {timeframe!r}; use one of {sorted(TIMEFRAME_RTYPE)}"
        ) from None


def chunk_span_ns(rtype: int) -> int:
    """Nanoseconds of time covered by one chunk of ``rtype`` bars."""
    return CHUNK_BARS * RTYPE_PERIOD_NS[rtype]
