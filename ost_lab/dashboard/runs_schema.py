"""The runs database's schema, versioned by ``PRAGMA user_version``.

Money (prices, commissions, equity, PnL) is stored as INTEGER nano-units (value × 1e9); timestamps
as INTEGER nanoseconds since the Unix epoch, UTC. Bars are not stored here (see the secmaster).
"""

from __future__ import annotations

import sqlite3

MODES = ("backtest", "sandbox", "paper", "live")
STATUSES = ("running", "completed", "failed", "cancelled", "crashed")
COMMANDS = ("stop", "cancel", "kill")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


_V1 = f"""
CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    mode          TEXT NOT NULL CHECK (mode IN {_in(MODES)}),
    status        TEXT NOT NULL CHECK (status IN {_in(STATUSES)}),
    started_ns    INTEGER NOT NULL,
    ended_ns      INTEGER,
    strategies    TEXT NOT NULL DEFAULT '[]',
    instruments   TEXT NOT NULL DEFAULT '[]',
    data_start_ns INTEGER,
    data_end_ns   INTEGER,
    feed          TEXT,
    broker        TEXT,
    metrics       TEXT,
    error         TEXT,
    pid           INTEGER,
    host          TEXT,
    heartbeat_ns  INTEGER,
    progress      REAL,
    last_equity   INTEGER,
    total_return  REAL
);
CREATE INDEX runs_started ON runs (started_ns DESC);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE orders (
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    order_id    TEXT NOT NULL,
    ts_ns       INTEGER NOT NULL,
    strategy    TEXT,
    symbol      TEXT NOT NULL,
    side        TEXT NOT NULL,
    qty         REAL NOT NULL,
    order_type  TEXT NOT NULL,
    limit_price INTEGER,
    stop_price  INTEGER,
    tif         TEXT,
    tag         TEXT,
    parent_id   TEXT,
    status      TEXT NOT NULL,
    filled_qty  REAL NOT NULL DEFAULT 0,
    avg_price   INTEGER,
    PRIMARY KEY (run_id, order_id)
) WITHOUT ROWID;

CREATE TABLE order_events (
    run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    ts_ns    INTEGER NOT NULL,
    order_id TEXT NOT NULL,
    status   TEXT NOT NULL,
    reason   TEXT,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE fills (
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    ts_ns      INTEGER NOT NULL,
    order_id   TEXT,
    symbol     TEXT NOT NULL,
    qty        REAL NOT NULL,
    price      INTEGER NOT NULL,
    commission INTEGER NOT NULL DEFAULT 0,
    tag        TEXT,
    venue_id   TEXT,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE positions (
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    ts_ns      INTEGER NOT NULL,
    symbol     TEXT NOT NULL,
    tag        TEXT NOT NULL DEFAULT '',
    qty        REAL NOT NULL,
    avg_price  INTEGER,
    realized   INTEGER,
    unrealized INTEGER,
    PRIMARY KEY (run_id, ts_ns, symbol, tag)
) WITHOUT ROWID;

CREATE TABLE equity (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    ts_ns  INTEGER NOT NULL,
    equity INTEGER NOT NULL,
    PRIMARY KEY (run_id, ts_ns)
) WITHOUT ROWID;

CREATE TABLE risk_events (
    run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    ts_ns    INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    rule     TEXT,
    reason   TEXT,
    strategy TEXT,
    order_id TEXT,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE mode_changes (
    run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    ts_ns     INTEGER NOT NULL,
    from_mode TEXT NOT NULL,
    to_mode   TEXT NOT NULL,
    note      TEXT,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE logs (
    run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    ts_ns   INTEGER NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE commands (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    command    TEXT NOT NULL CHECK (command IN {_in(COMMANDS)}),
    args       TEXT NOT NULL DEFAULT '{{}}',
    created_ns INTEGER NOT NULL,
    acked_ns   INTEGER,
    ack_note   TEXT
);
CREATE INDEX commands_pending ON commands (run_id) WHERE acked_ns IS NULL;
"""

MIGRATIONS: tuple[str, ...] = (_V1,)
"""MIGRATIONS[i] brings a database from user_version i to i + 1."""

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to SCHEMA_VERSION; returns the version.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Each migration runs in its own
    ``BEGIN IMMEDIATE`` transaction and re-reads the version inside it, so two processes opening a
    new database at once (the Jupyter server and a kernel) cannot both apply it.
    """
    for target in range(1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"runs database schema version {version} is newer than this ost_lab "
                    f"({SCHEMA_VERSION}); upgrade ost_lab"
                )
            if version == target - 1:
                for statement in MIGRATIONS[target - 1].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION
