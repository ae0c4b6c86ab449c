"""The write path: validated, merged, all-or-nothing writes of bars, ticks and reference data.

Every ingest runs in one ``BEGIN IMMEDIATE`` transaction. Bars are merged chunk by chunk against
what is stored: identical duplicates are skipped (idempotent re-ingest), duplicates with different
values are an error, and only new rows are inserted. The chunk blobs, ``coverage`` and the
``data_version`` counter (which invalidates readers' caches, in any process) change in the same
transaction.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from itertools import islice, pairwise
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ost_lab.secmaster import codec
from ost_lab.secmaster.errors import IngestError
from ost_lab.secmaster.schema import chunk_span_ns

I64 = npt.NDArray[np.int64]
T = TypeVar("T")
Labeler = Callable[[int], str]
"""Maps an index into the caller's input arrays to a human location, e.g. 'line 17'."""

USER_ID_BASE = 1 << 32
"""Instrument ids allotted to CSV/DataFrame symbols start here, above Databento's u32 ids."""


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction; rolls back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def bump_data_version(conn: sqlite3.Connection) -> None:
    """Mark the data as changed so every reader's cache is revalidated."""
    conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'data_version'")


def data_version(conn: sqlite3.Connection) -> int:
    """The counter bumped by every committed ingest."""
    return int(conn.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()[0])


def load_chunk(conn: sqlite3.Connection, instrument_id: int, rtype: int, chunk: int) -> I64 | None:
    """The stored (6, n) columns of one chunk, or None."""
    row = conn.execute(
        "SELECT n, data FROM ohlcv_chunks WHERE instrument_id = ? AND rtype = ? AND chunk = ?",
        (instrument_id, rtype, chunk),
    ).fetchone()
    return None if row is None else codec.decode(row[1], row[0])


def _check_bars(source: str, cols: I64, label: Labeler) -> None:
    _ts, o, h, lo, c, v = cols
    checks = (
        (lo > h, "high < low"),
        (o > h, "open > high"),
        (c > h, "close > high"),
        (o < lo, "open < low"),
        (c < lo, "close < low"),
        (v < 0, "negative volume"),
    )
    for bad, what in checks:
        if bad.any():
            i = int(np.argmax(bad))
            raise IngestError(
                source,
                f"{what}: open={o[i]} high={h[i]} low={lo[i]} close={c[i]} volume={v[i]} "
                "(fixed point x1e9)",
                label(i),
            )


def _sorted_unique(source: str, cols: I64, label: Labeler) -> tuple[I64, I64 | None]:
    """``cols`` sorted by ts with identical duplicate bars dropped, and the input order (None
    when the input was already strictly increasing, the usual case, which costs one pass)."""
    ts = cols[0]
    if bool((ts[1:] > ts[:-1]).all()):
        return cols, None
    order = np.argsort(ts, kind="stable")
    cols = cols[:, order]
    same = cols[0, 1:] == cols[0, :-1]
    if same.any():
        differ = same & (cols[1:, 1:] != cols[1:, :-1]).any(axis=0)
        if differ.any():
            j = int(np.argmax(differ))
            raise IngestError(
                source,
                f"two bars for ts_event={cols[0, j]} with different values "
                f"(also at {label(int(order[j]))})",
                label(int(order[j + 1])),
            )
        keep = np.concatenate([[True], ~same])
        cols, order = cols[:, keep], order[keep]
    return cols, order


def _stored_chunks(
    conn: sqlite3.Connection, instrument_id: int, rtype: int, lo: int, hi: int
) -> set[int]:
    """Ids of the stored chunks in [lo, hi] (a key-only range scan: blobs are not read)."""
    rows = conn.execute(
        "SELECT chunk FROM ohlcv_chunks WHERE instrument_id = ? AND rtype = ? "
        "AND chunk BETWEEN ? AND ?",
        (instrument_id, rtype, lo, hi),
    ).fetchall()
    return {r[0] for r in rows}


def write_bars(
    conn: sqlite3.Connection,
    source: str,
    instrument_id: int,
    rtype: int,
    cols: I64,
    label: Labeler,
    on_progress: Callable[[int], object] | None = None,
) -> int:
    """Merge bars ``cols`` = (6, n) [ts, open, high, low, close, volume] into the store.

    Must run inside :func:`transaction`. Returns the number of new rows. ``on_progress`` is
    called with numbers of input bars handled, summing to n (for a progress bar).
    """
    cols = np.asarray(cols, dtype=np.int64)
    n_in = cols.shape[1]
    if n_in == 0:
        return 0
    _check_bars(source, cols, label)
    cols, order = _sorted_unique(source, cols, label)
    span = chunk_span_ns(rtype)
    chunk_ids = cols[0] // span
    starts = np.flatnonzero(np.concatenate([[True], chunk_ids[1:] != chunk_ids[:-1]]))
    ends = np.append(starts[1:], cols.shape[1])
    stored_ids = _stored_chunks(conn, instrument_id, rtype, int(chunk_ids[0]), int(chunk_ids[-1]))
    fresh_parts: list[I64] = []
    chunks: list[tuple[int, I64]] = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        chunk = int(chunk_ids[a])
        part = cols[:, a:b]
        if chunk not in stored_ids:
            fresh_parts.append(part)
            chunks.append((chunk, part))
            continue
        stored = load_chunk(conn, instrument_id, rtype, chunk)
        assert stored is not None
        pos = np.searchsorted(stored[0], part[0])
        pos_c = np.minimum(pos, stored.shape[1] - 1)
        hit = stored[0, pos_c] == part[0]
        clash = hit & (stored[1:, pos_c] != part[1:]).any(axis=0)
        if clash.any():
            k = int(np.argmax(clash))
            raise IngestError(
                source,
                f"bar at ts_event={part[0, k]} differs from the stored bar "
                f"(stored OHLCV {stored[1:, pos_c[k]].tolist()}, new {part[1:, k].tolist()})",
                label(a + k if order is None else int(order[a + k])),
            )
        if hit.all():
            continue
        fresh = part[:, ~hit]
        merged = np.concatenate([stored, fresh], axis=1)
        fresh_parts.append(fresh)
        chunks.append((chunk, merged[:, np.argsort(merged[0], kind="stable")]))
    if not stored_ids:  # nothing stored in this range: every bar is new, no copy
        fresh_all = cols
    elif fresh_parts:
        fresh_all = np.concatenate(fresh_parts, axis=1)
    else:
        fresh_all = cols[:, :0]
    new_total = fresh_all.shape[1]
    if new_total:
        try:
            _write_new(conn, instrument_id, rtype, fresh_all, chunks, on_progress)
        except sqlite3.IntegrityError as exc:  # defensive: rows written outside this API
            raise IngestError(source, f"stored data conflicts: {exc}") from exc
        refresh_coverage(conn, instrument_id, rtype)
    if on_progress is not None and n_in > new_total:
        on_progress(n_in - new_total)
    return new_total


_BATCH = 128
"""Rows per multi-row INSERT statement (measured: 1024- and 4096-row statements are slower)."""
_SLICE = 64 * _BATCH
"""Rows converted to Python ints at a time (bounds the memory of the parameter lists)."""
_INSERT_ONE = "INSERT INTO ohlcv VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_BATCH = (
    "INSERT INTO ohlcv SELECT ?1, ?2, * FROM (VALUES "
    + ", ".join(["(?, ?, ?, ?, ?, ?)"] * _BATCH)
    + ")"
)


def _row_params(instrument_id: int, rtype: int, cols: I64) -> tuple[str, list[list[int]]]:
    """The statement and parameter lists inserting bars ``cols`` (6, n) into ``ohlcv``.

    Whole 128-row statements bind the instrument and rtype once per statement (about 2x faster
    binding than one row per statement); a remainder uses the one-row statement.
    """
    n = cols.shape[1]
    if n % _BATCH:
        rows = np.empty((n, 8), dtype=np.int64)
        rows[:, 0] = instrument_id
        rows[:, 1] = rtype
        rows[:, 2:] = cols.T
        return _INSERT_ONE, rows.tolist()
    params = np.empty((n // _BATCH, 6 * _BATCH + 2), dtype=np.int64)
    params[:, 0] = instrument_id
    params[:, 1] = rtype
    params[:, 2:].reshape(-1, _BATCH, 6)[:] = cols.T.reshape(-1, _BATCH, 6)
    return _INSERT_BATCH, params.tolist()


def _rows_task(instrument_id: int, rtype: int, cols: I64) -> tuple[str, Any]:
    return "rows", _row_params(instrument_id, rtype, cols)


def _chunk_task(instrument_id: int, rtype: int, chunk: int, cols: I64) -> tuple[str, Any]:
    """One ``ohlcv_chunks`` row of ``cols`` (the chunk's full, merged content)."""
    first, last = int(cols[0, 0]), int(cols[0, -1])
    return "chunk", (instrument_id, rtype, chunk, cols.shape[1], first, last, codec.encode(cols))


def _pipelined(tasks: Iterator[Callable[[], T]], depth: int = 2) -> Iterator[T]:
    """Results of ``tasks`` in order, computed by one worker thread at most ``depth`` ahead."""
    with ThreadPoolExecutor(1, thread_name_prefix="secmaster-prep") as pool:
        pending = deque(pool.submit(t) for t in islice(tasks, depth))
        while pending:
            fut = pending.popleft()
            nxt = next(tasks, None)
            if nxt is not None:
                pending.append(pool.submit(nxt))
            yield fut.result()


def _write_new(
    conn: sqlite3.Connection,
    instrument_id: int,
    rtype: int,
    fresh: I64,
    chunks: list[tuple[int, I64]],
    on_progress: Callable[[int], object] | None,
) -> None:
    """Insert new rows ``fresh`` into ``ohlcv`` and the (re-)encoded ``chunks`` into
    ``ohlcv_chunks``.

    Python ints for the parameters and the chunk blobs are made in a worker thread while this
    thread runs the inserts: ``sqlite3`` releases the GIL while a statement steps, so on two
    cores most of that preparation hides behind SQLite's B-tree work.
    """
    n = fresh.shape[1]
    full = n // _BATCH * _BATCH
    cuts = [*range(0, full, _SLICE), full] if full else [0]
    if full < n:
        cuts.append(n)
    slices = list(pairwise(cuts))

    def tasks() -> Iterator[Callable[[], tuple[str, Any]]]:
        done = 0
        for k, (a, b) in enumerate(slices):
            yield partial(_rows_task, instrument_id, rtype, fresh[:, a:b])
            upto = len(chunks) * (k + 1) // len(slices)  # interleave the chunk encodings
            for chunk, m in chunks[done:upto]:
                yield partial(_chunk_task, instrument_id, rtype, chunk, m)
            done = upto

    blobs = []
    for kind, payload in _pipelined(tasks()):
        if kind == "chunk":
            blobs.append(payload)
            continue
        sql, params = payload
        conn.executemany(sql, params)
        if on_progress is not None:
            on_progress(len(params) * (_BATCH if sql is _INSERT_BATCH else 1))
    conn.executemany("INSERT OR REPLACE INTO ohlcv_chunks VALUES (?, ?, ?, ?, ?, ?, ?)", blobs)


def refresh_coverage(conn: sqlite3.Connection, instrument_id: int, rtype: int) -> None:
    """Recompute one coverage row from the chunk index."""
    conn.execute(
        "INSERT OR REPLACE INTO coverage "
        "SELECT instrument_id, rtype, min(first_ts), max(last_ts), sum(n) FROM ohlcv_chunks "
        "WHERE instrument_id = ? AND rtype = ? GROUP BY instrument_id, rtype",
        (instrument_id, rtype),
    )


TICK_COLUMNS: dict[str, tuple[str, ...]] = {
    "trades": ("instrument_id", "ts_event", "sequence", "ts_recv", "price", "size", "side"),
    "quotes": (
        "instrument_id",
        "ts_event",
        "sequence",
        "ts_recv",
        "bid_px",
        "ask_px",
        "bid_sz",
        "ask_sz",
    ),
}
_TICK_KEY = ("instrument_id", "ts_event", "sequence")


def write_ticks(
    conn: sqlite3.Connection,
    source: str,
    table: str,
    columns: Mapping[str, Sequence[Any] | npt.NDArray[Any]],
    label: Labeler,
) -> int:
    """Insert tick rows into ``trades`` or ``quotes``; identical duplicates are skipped.

    A row whose key (instrument_id, ts_event, sequence) exists with other values is an error.
    Must run inside :func:`transaction`. Returns the number of new rows.
    """
    names = TICK_COLUMNS[table]
    data = [list(np.asarray(columns[c]).tolist()) for c in names]
    n = len(data[0])
    if n == 0:
        return 0
    rows = list(zip(*data, strict=True))
    seen: dict[tuple[Any, ...], int] = {}
    for i, row in enumerate(rows):
        key = row[:3]
        j = seen.setdefault(key, i)
        if j != i and rows[j] != row:
            raise IngestError(
                source, f"two {table} rows for key {key} with different values", label(i)
            )
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS _in_{table} AS SELECT * FROM {table} LIMIT 0")
    conn.execute(f"DELETE FROM _in_{table}")
    marks = ", ".join("?" * len(names))
    conn.executemany(f"INSERT INTO _in_{table} ({', '.join(names)}) VALUES ({marks})", rows)
    differs = " OR ".join(f"t.{c} IS NOT i.{c}" for c in names[3:])
    clash = conn.execute(
        f"SELECT i.instrument_id, i.ts_event, i.sequence FROM _in_{table} i JOIN {table} t "
        f"USING ({', '.join(_TICK_KEY)}) WHERE {differs} LIMIT 1"
    ).fetchone()
    if clash is not None:
        idx = rows.index(next(r for r in rows if r[:3] == tuple(clash)))
        raise IngestError(
            source, f"{table} row {tuple(clash)} differs from the stored row", label(idx)
        )
    before = conn.total_changes
    conn.execute(f"INSERT OR IGNORE INTO {table} SELECT * FROM _in_{table}")
    added = conn.total_changes - before
    conn.execute(f"DELETE FROM _in_{table}")
    return added


def upsert_publisher(
    conn: sqlite3.Connection, publisher_id: int, name: str, dataset: str, venue: str
) -> None:
    """Insert or refresh one publisher."""
    conn.execute(
        "INSERT INTO publishers VALUES (?, ?, ?, ?) ON CONFLICT(publisher_id) DO UPDATE SET "
        "name = excluded.name, dataset = excluded.dataset, venue = excluded.venue",
        (publisher_id, name, dataset, venue),
    )


_INSTRUMENT_FIELDS = (
    "symbol",
    "asset_class",
    "currency",
    "exchange",
    "publisher_id",
    "multiplier",
    "tick_size",
    "lot_size",
    "expiry",
    "description",
    "timezone",
    "session_start_min",
)


def upsert_instrument(conn: sqlite3.Connection, instrument_id: int, **fields: Any) -> None:
    """Insert an instrument or update the given fields of an existing one."""
    unknown = set(fields) - set(_INSTRUMENT_FIELDS)
    if unknown:
        raise ValueError(f"unknown instrument fields {sorted(unknown)}")
    exists = conn.execute(
        "SELECT 1 FROM instruments WHERE instrument_id = ?", (instrument_id,)
    ).fetchone()
    if exists is None:
        fields.setdefault("symbol", str(instrument_id))
        cols = ["instrument_id", *fields]
        conn.execute(
            f"INSERT INTO instruments ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            (instrument_id, *fields.values()),
        )
    elif fields:
        sets = ", ".join(f"{k} = ?" for k in fields)
        conn.execute(
            f"UPDATE instruments SET {sets} WHERE instrument_id = ?",
            (*fields.values(), instrument_id),
        )


def add_symbology(
    conn: sqlite3.Connection, symbol: str, instrument_id: int, start_date: str, end_date: str
) -> None:
    """Map ``symbol`` to ``instrument_id`` for dates [start_date, end_date) (ISO dates)."""
    conn.execute(
        "INSERT OR REPLACE INTO symbology VALUES (?, ?, ?, ?)",
        (symbol, instrument_id, start_date, end_date),
    )


def instrument_for_symbol(
    conn: sqlite3.Connection, symbol: str, create: Mapping[str, Any] | None = None
) -> int:
    """The instrument id a user symbol (CSV/DataFrame) maps to, allotting one if ``create``."""
    row = conn.execute(
        "SELECT instrument_id FROM symbology WHERE symbol = ? ORDER BY end_date DESC LIMIT 1",
        (symbol,),
    ).fetchone()
    if row is None:
        row = conn.execute(
            "SELECT instrument_id FROM instruments WHERE symbol = ? ORDER BY instrument_id DESC",
            (symbol,),
        ).fetchone()
    if row is not None:
        return int(row[0])
    if create is None:
        raise KeyError(symbol)
    top = conn.execute(
        "SELECT max(instrument_id) FROM instruments WHERE instrument_id >= ?", (USER_ID_BASE,)
    ).fetchone()[0]
    iid = USER_ID_BASE if top is None else int(top) + 1
    upsert_instrument(conn, iid, symbol=symbol, **dict(create))
    add_symbology(conn, symbol, iid, "1970-01-01", "9999-12-31")
    return iid
