"""The runs database: every backtest, sandbox and live run, recorded per run, readable as pandas.

One SQLite file in WAL mode, shared by notebook kernels (which write runs) and the Jupyter server
(which reads them and posts commands). Each process and thread opens its own ``RunsDB``.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ost_lab import paths
from ost_lab.dashboard.runs_schema import COMMANDS, MODES, STATUSES, migrate

NANO = 1_000_000_000
STALE_AFTER_S = 30.0
"""A running run whose heartbeat is older than this is taken to have crashed."""

RUN_COLUMNS = (
    "id",
    "name",
    "mode",
    "status",
    "started_ns",
    "ended_ns",
    "strategies",
    "instruments",
    "data_start_ns",
    "data_end_ns",
    "feed",
    "broker",
    "metrics",
    "error",
    "pid",
    "host",
    "heartbeat_ns",
    "progress",
    "last_equity",
    "total_return",
)
_JSON_COLUMNS = ("strategies", "instruments", "metrics")

# Per-run tables that a recorder appends to, with their columns (run_id and seq are added here).
_SEQ_TABLES: dict[str, tuple[str, ...]] = {
    "order_events": ("ts_ns", "order_id", "status", "reason"),
    "fills": ("ts_ns", "order_id", "symbol", "qty", "price", "commission", "tag", "venue_id"),
    "risk_events": ("ts_ns", "kind", "rule", "reason", "strategy", "order_id"),
    "mode_changes": ("ts_ns", "from_mode", "to_mode", "note"),
    "logs": ("ts_ns", "level", "message"),
}
_UPSERT_TABLES: dict[str, tuple[str, ...]] = {
    "orders": (
        "order_id",
        "ts_ns",
        "strategy",
        "symbol",
        "side",
        "qty",
        "order_type",
        "limit_price",
        "stop_price",
        "tif",
        "tag",
        "parent_id",
        "status",
        "filled_qty",
        "avg_price",
    ),
    "positions": ("ts_ns", "symbol", "tag", "qty", "avg_price", "realized", "unrealized"),
    "equity": ("ts_ns", "equity"),
}
_MONEY = {"price", "commission", "limit_price", "stop_price", "avg_price", "realized", "unrealized"}
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {**_SEQ_TABLES, **_UPSERT_TABLES}
"""The columns a recorder writes per table (run_id and seq are added by ``write_batch``)."""
Row = Mapping[str, Any] | Sequence[Any]
"""One record: a dict by column name, or a tuple of every column in TABLE_COLUMNS order."""
Columns = Mapping[str, Sequence[Any] | npt.NDArray[Any]]
"""Records column by column: column name -> values (a sequence or a 1-d array, all one length)."""
Records = Iterable[Row] | Columns
_INT64_BOUND = 2.0**63


class UnknownRun(KeyError):
    """No run with that id."""

    def __str__(self) -> str:
        return f"no run with id {self.args[0]!r}"


@dataclass(frozen=True)
class Command:
    """A command posted to a running engine, and whether the engine acknowledged it."""

    id: int
    run_id: str
    command: str
    args: dict[str, Any]
    created_ns: int
    acked_ns: int | None
    ack_note: str | None


def new_run_id(now_ns: int | None = None) -> str:
    """A readable, time-sortable id, unique even for runs started in the same nanosecond."""
    ns = time.time_ns() if now_ns is None else now_ns
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(ns // NANO))
    return f"{stamp}-{ns % NANO:09d}-{secrets.token_hex(3)}"


def to_nano(value: float | None) -> int | None:
    """A money amount as integer nano-units (the storage convention), exact to 1e-9."""
    return None if value is None else round(value * NANO)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunsDB:
    """A connection to the runs database; opening it migrates the schema and marks crashed runs."""

    def __init__(self, path: str | Path | None = None, *, stale_after_s: float = STALE_AFTER_S):
        self.path = Path(path) if path is not None else paths.runs_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.stale_after_s = stale_after_s
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        migrate(self.conn)
        self.sweep_crashed()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> RunsDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self) -> _Transaction:
        return _Transaction(self.conn)

    # ------------------------------------------------------------------ runs
    def create_run(
        self,
        *,
        name: str,
        mode: str,
        strategies: Sequence[Mapping[str, Any]] = (),
        instruments: Sequence[str] = (),
        data_start_ns: int | None = None,
        data_end_ns: int | None = None,
        feed: str | None = None,
        broker: str | None = None,
        pid: int | None = None,
    ) -> str:
        """Insert a new run with status ``running`` and return its id."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        now = time.time_ns()
        for _ in range(5):
            run_id = new_run_id(now)
            try:
                with self._tx():
                    self.conn.execute(
                        "INSERT INTO runs (id, name, mode, status, started_ns, strategies,"
                        " instruments, data_start_ns, data_end_ns, feed, broker, pid, host,"
                        " heartbeat_ns) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            run_id,
                            name,
                            mode,
                            now,
                            json.dumps(list(strategies), default=str),
                            json.dumps(list(instruments)),
                            data_start_ns,
                            data_end_ns,
                            feed,
                            broker,
                            os.getpid() if pid is None else pid,
                            socket.gethostname(),
                            now,
                        ),
                    )
                return run_id
            except sqlite3.IntegrityError:
                continue
        raise RuntimeError("could not allocate a unique run id")

    def heartbeat(
        self, run_id: str, *, progress: float | None = None, last_equity: float | None = None
    ) -> None:
        """Tell readers the run is alive, with its progress (0..1) and latest equity."""
        self.conn.execute(
            "UPDATE runs SET heartbeat_ns = ?, progress = COALESCE(?, progress),"
            " last_equity = COALESCE(?, last_equity) WHERE id = ?",
            (time.time_ns(), progress, to_nano(last_equity), run_id),
        )

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        metrics: Mapping[str, Any] | None = None,
        error: str | None = None,
        total_return: float | None = None,
    ) -> None:
        """Close a run with its final status and metrics."""
        if status not in STATUSES or status == "running":
            raise ValueError(f"a finished run's status is one of {STATUSES[1:]}, got {status!r}")
        with self._tx():
            cur = self.conn.execute(
                "UPDATE runs SET status = ?, ended_ns = ?, metrics = ?, error = ?,"
                " total_return = ?, progress = CASE WHEN ? = 'completed' THEN 1.0 ELSE progress END"
                " WHERE id = ?",
                (
                    status,
                    time.time_ns(),
                    None if metrics is None else json.dumps(_jsonable(metrics)),
                    error,
                    total_return,
                    status,
                    run_id,
                ),
            )
            if cur.rowcount == 0:
                raise UnknownRun(run_id)

    def sweep_crashed(self, now_ns: int | None = None) -> list[str]:
        """Mark ``running`` runs whose process is gone (same host) or whose heartbeat is stale."""
        now = time.time_ns() if now_ns is None else now_ns
        host = socket.gethostname()
        stale_before = now - int(self.stale_after_s * NANO)
        crashed = []
        rows = self.conn.execute(
            "SELECT id, pid, host, heartbeat_ns FROM runs WHERE status = 'running'"
        ).fetchall()
        for run_id, pid, run_host, heartbeat in rows:
            dead = run_host == host and pid is not None and not _pid_alive(int(pid))
            if dead or (heartbeat or 0) < stale_before:
                crashed.append(run_id)
        if crashed:
            with self._tx():
                self.conn.executemany(
                    "UPDATE runs SET status = 'crashed',"
                    " ended_ns = COALESCE(ended_ns, heartbeat_ns),"
                    " error = COALESCE(error, 'the process running it stopped without closing it')"
                    " WHERE id = ? AND status = 'running'",
                    [(r,) for r in crashed],
                )
        return crashed

    def delete_run(self, run_id: str, *, force: bool = False) -> None:
        """Delete a run and everything recorded for it; a running run only with ``force``."""
        row = self.conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise UnknownRun(run_id)
        if row[0] == "running" and not force:
            raise ValueError(f"run {run_id} is running: stop it first (or force)")
        with self._tx():
            self.conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    # ------------------------------------------------------------ recording
    def write_batch(self, run_id: str, batch: Mapping[str, Records]) -> None:
        """Append one batch of records (table name -> records) in a single transaction.

        A table's records are rows (dicts by column name, or tuples of every column in the order
        of :data:`TABLE_COLUMNS`) or columns (a mapping column name -> values, numpy arrays or
        sequences of one length; columns left out are null): columns are the cheapest way to
        write many records. Money fields are given as floats and stored as nano-units (None and
        NaN as null). ``orders``, ``positions`` and ``equity`` rows replace earlier rows with the
        same key (an order's latest state).
        """
        self.write_prepared(run_id, prepare_batch(batch))

    def write_prepared(self, run_id: str, statements: Iterable[Statement]) -> None:
        """Execute what :func:`prepare_batch` made, in a single transaction.

        Preparing converts (holding the GIL); this mostly waits for SQLite, which runs without
        it. So a recorder can prepare a batch in one thread and write it in another, even
        statement by statement as they are made (``statements`` is consumed as it goes).
        """
        it = iter(statements)
        first = next(it, None)
        if first is None:
            return
        with self._tx():
            starts: dict[str, int] = {}
            for st in chain([first], it):
                params = list(st.params)
                params[0] = run_id
                if st.table in _SEQ_TABLES:
                    if st.table not in starts:
                        starts[st.table] = self.conn.execute(
                            f"SELECT COALESCE(MAX(seq), -1) + 1 FROM {st.table} WHERE run_id = ?",
                            (run_id,),
                        ).fetchone()[0]
                    params[1] = starts[st.table]
                self.conn.execute(st.sql, params)

    # ------------------------------------------------------------- commands
    def post_command(self, run_id: str, command: str, args: Mapping[str, Any] | None = None) -> int:
        """Queue a command for a run's engine; returns the command id."""
        if command not in COMMANDS:
            raise ValueError(f"command must be one of {COMMANDS}, got {command!r}")
        self.get_run(run_id)
        with self._tx():
            cur = self.conn.execute(
                "INSERT INTO commands (run_id, command, args, created_ns) VALUES (?, ?, ?, ?)",
                (run_id, command, json.dumps(dict(args or {})), time.time_ns()),
            )
        return int(cur.lastrowid or 0)

    def pending_commands(self, run_id: str) -> list[Command]:
        """Commands for ``run_id`` that no engine has acknowledged yet, oldest first."""
        rows = self.conn.execute(
            "SELECT id, run_id, command, args, created_ns, acked_ns, ack_note FROM commands"
            " WHERE run_id = ? AND acked_ns IS NULL ORDER BY id",
            (run_id,),
        ).fetchall()
        return [_command(r) for r in rows]

    def ack_command(self, command_id: int, note: str = "done") -> None:
        self.conn.execute(
            "UPDATE commands SET acked_ns = ?, ack_note = ? WHERE id = ? AND acked_ns IS NULL",
            (time.time_ns(), note, command_id),
        )

    def get_command(self, command_id: int) -> Command:
        row = self.conn.execute(
            "SELECT id, run_id, command, args, created_ns, acked_ns, ack_note FROM commands"
            " WHERE id = ?",
            (command_id,),
        ).fetchone()
        if row is None:
            raise KeyError(f"no command with id {command_id}")
        return _command(row)

    # -------------------------------------------------------------- reading
    def get_run(self, run_id: str) -> dict[str, Any]:
        """One run's row as a dict (JSON fields decoded, money as floats)."""
        row = self.conn.execute(
            f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise UnknownRun(run_id)
        return _run_dict(row)

    def list_runs(
        self,
        *,
        mode: str | None = None,
        status: str | None = None,
        text: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Runs, newest first, filtered by mode, status and a text found in name/strategies/ids."""
        where, params = _run_filter(mode, status, text)
        rows = self.conn.execute(
            f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE {where}"
            " ORDER BY started_ns DESC, id DESC LIMIT ? OFFSET ?",
            (*params, int(limit), int(offset)),
        ).fetchall()
        return [_run_dict(r) for r in rows]

    def count_runs(
        self, *, mode: str | None = None, status: str | None = None, text: str | None = None
    ) -> int:
        """How many runs ``list_runs`` would page through with the same filters."""
        where, params = _run_filter(mode, status, text)
        return int(
            self.conn.execute(f"SELECT COUNT(*) FROM runs WHERE {where}", params).fetchone()[0]
        )

    def runs(self, **filters: Any) -> pd.DataFrame:
        """``list_runs`` as a DataFrame indexed by run id, with tz-aware start/end times."""
        frame = pd.DataFrame(self.list_runs(**filters), columns=list(RUN_COLUMNS))
        for col in ("started_ns", "ended_ns", "heartbeat_ns"):
            frame[col.removesuffix("_ns")] = pd.to_datetime(frame[col], utc=True, unit="ns")
        return frame.set_index("id")

    def table(self, run_id: str, table: str) -> pd.DataFrame:
        """One per-run table as a DataFrame, money as floats and ``ts`` as tz-aware UTC."""
        if table not in _SEQ_TABLES and table not in _UPSERT_TABLES:
            raise ValueError(f"unknown table {table!r}")
        self.get_run(run_id)
        cols = _SEQ_TABLES.get(table) or _UPSERT_TABLES[table]
        order = "seq" if table in _SEQ_TABLES else "ts_ns"
        frame = pd.read_sql_query(
            f"SELECT {', '.join(cols)} FROM {table} WHERE run_id = ? ORDER BY {order}",
            self.conn,
            params=(run_id,),
        )
        for col in cols:
            if col in _MONEY or (table == "equity" and col == "equity"):
                frame[col] = frame[col].astype("float64") / NANO
        frame.insert(0, "ts", pd.to_datetime(frame["ts_ns"], utc=True, unit="ns"))
        return frame

    def orders(self, run_id: str) -> pd.DataFrame:
        return self.table(run_id, "orders")

    def fills(self, run_id: str) -> pd.DataFrame:
        return self.table(run_id, "fills")

    def equity(self, run_id: str) -> pd.Series:
        """The run's equity curve, indexed by tz-aware UTC time."""
        frame = self.table(run_id, "equity")
        return pd.Series(
            frame["equity"].to_numpy(), index=pd.DatetimeIndex(frame["ts"]), name=run_id
        )

    def metrics(self, run_id: str) -> pd.Series:
        return pd.Series(self.get_run(run_id)["metrics"] or {}, name=run_id, dtype=object)

    def compare(self, run_ids: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Metrics side by side (one column per run) and the equity curves aligned on time."""
        metrics = pd.concat([self.metrics(r) for r in run_ids], axis=1)
        equity = pd.concat([self.equity(r) for r in run_ids], axis=1).sort_index()
        return metrics, equity


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on error (autocommit connections)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _run_filter(mode: str | None, status: str | None, text: str | None) -> tuple[str, list[str]]:
    """The WHERE clause (with its parameters) shared by listing and counting runs."""
    where, params = ["1 = 1"], []
    if mode:
        where.append("mode = ?")
        params.append(mode)
    if status:
        where.append("status = ?")
        params.append(status)
    if text:
        where.append("(name LIKE ? OR strategies LIKE ? OR instruments LIKE ? OR id LIKE ?)")
        params.extend([f"%{text}%"] * 4)
    return " AND ".join(where), params


def _stored_columns(table: str, records: Records) -> list[list[Any]]:
    """A table's records as one list per column (TABLE_COLUMNS order), money in nano-units.

    Empty when there are no records.
    """
    cols = TABLE_COLUMNS[table]
    columns: list[Any]
    if isinstance(records, Mapping):
        unknown = set(records) - set(cols)
        if unknown:
            raise ValueError(f"unknown columns for {table}: {sorted(unknown)}")
        lengths = {len(v) for v in records.values()}
        if len(lengths) > 1:
            raise ValueError(f"the columns of {table} differ in length: {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
        if not n:
            return []
        columns = [records[c] if c in records else [None] * n for c in cols]
    else:
        rows = list(records)
        if not rows:
            return []
        if isinstance(rows[0], Mapping):
            columns = [[r.get(c) for r in rows] for c in cols]  # type: ignore[union-attr]
        else:
            width = {len(r) for r in rows}
            if width != {len(cols)}:
                raise ValueError(
                    f"tuple rows must have the {len(cols)} columns {cols}, got {width}"
                )
            columns = list(zip(*rows, strict=True))
    out: list[list[Any]] = []
    for c, values in zip(cols, columns, strict=True):
        if c in _MONEY or c == "equity":
            out.append(to_nano_column(values))
        elif isinstance(values, np.ndarray):
            out.append(values.tolist())
        else:
            out.append(values if isinstance(values, list) else list(values))
    return out


def to_nano_column(values: Sequence[Any] | npt.NDArray[Any]) -> list[int | None]:
    """Money amounts as integer nano-units, exactly as :func:`to_nano` rounds each (half to
    even), converted as one array; None and NaN become None (null)."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"a column of money amounts must be 1-d, got shape {x.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.rint(x * NANO)
    missing = np.isnan(scaled)
    if np.isinf(scaled).any() or (np.abs(scaled[~missing]) >= _INT64_BOUND).any():
        raise ValueError("money amounts must be finite and below 9.2e9 (int64 nano-units)")
    if not missing.any():
        return scaled.astype(np.int64).tolist()
    out: list[int | None] = np.where(missing, 0.0, scaled).astype(np.int64).tolist()
    for i in np.flatnonzero(missing).tolist():
        out[i] = None
    return out


@dataclass(frozen=True)
class Statement:
    """One INSERT of up to ``_MAX_ROWS`` records of a table, from :func:`prepare_batch`.

    ``params[0]`` stands for the run id and, in a sequence table, ``params[1]`` for the run's
    next seq: :meth:`RunsDB.write_prepared` fills them in.
    """

    table: str
    sql: str
    params: list[Any]


_MAX_ROWS = 1024
"""Rows per INSERT at most: the GIL is taken once per statement (to bind it), not once per row.
Statements hold a power of two of rows, so that SQLite compiles each size once per connection
(compiling a 1000-row INSERT costs about as much as running it)."""
_MAX_PARAMS = 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


def prepare_batch(batch: Mapping[str, Records]) -> list[Statement]:
    """Convert a batch (see :meth:`RunsDB.write_batch`) into the statements that write it.

    Each statement inserts many rows as one ``INSERT ... SELECT ... FROM (VALUES ...)`` bound
    from the Python values (exact: no text round trip); a column holding one value (None, one
    text, one amount) is bound once per statement rather than once per row.
    """
    unknown = set(batch) - set(_SEQ_TABLES) - set(_UPSERT_TABLES)
    if unknown:
        raise ValueError(f"unknown tables in batch: {sorted(unknown)}")
    return [st for table, records in batch.items() for st in _table_statements(table, records)]


def _table_statements(table: str, records: Records) -> list[Statement]:
    columns = _stored_columns(table, records)
    if not columns:
        return []
    n = len(columns[0])
    cols = TABLE_COLUMNS[table]
    seq = table in _SEQ_TABLES
    constant = [
        (v[0] is None or type(v[0]) is str or c in _MONEY or c == "equity") and v.count(v[0]) == n
        for c, v in zip(cols, columns, strict=True)
    ]  # money columns are ints (or None) here; None and text equal only themselves
    if all(constant) and not seq:
        constant[0] = False  # VALUES needs a column
    varying: list[Sequence[Any]] = [range(n)] if seq else []
    varying += [v for v, k in zip(columns, constant, strict=True) if not k]
    head: list[Any] = [None, 0] if seq else [None]
    head += [v[0] for v, k in zip(columns, constant, strict=True) if k]
    most = max(1, min(_MAX_ROWS, (_MAX_PARAMS - len(head)) // len(varying)))
    out = []
    start = 0
    while start < n:
        stop = start + (1 << (min(most, n - start).bit_length() - 1))
        params = list(head)
        params.extend(chain.from_iterable(zip(*(c[start:stop] for c in varying), strict=True)))
        out.append(Statement(table, _insert_sql(table, tuple(constant), stop - start), params))
        start = stop
    return out


@functools.lru_cache(maxsize=128)
def _insert_sql(table: str, constant: tuple[bool, ...], n_rows: int) -> str:
    """``INSERT INTO table ... SELECT ?1, ... FROM (VALUES (...), ...)`` for ``n_rows`` rows:
    ?1 is the run id, ?2 the next seq (sequence tables), then one parameter per constant
    column; the VALUES rows hold the seq offset (sequence tables) and the other columns."""
    cols = TABLE_COLUMNS[table]
    seq = table in _SEQ_TABLES
    param = 3 if seq else 2
    value = 2 if seq else 1
    picked = []
    for is_constant in constant:
        if is_constant:
            picked.append(f"?{param}")
            param += 1
        else:
            picked.append(f"column{value}")
            value += 1
    row = "(" + ", ".join("?" * (value - 1)) + ")"
    values = ", ".join([row] * n_rows)
    if seq:
        return (
            f"INSERT INTO {table} (run_id, seq, {', '.join(cols)})"
            f" SELECT ?1, ?2 + column1, {', '.join(picked)} FROM (VALUES {values})"
        )
    return (
        f"INSERT OR REPLACE INTO {table} (run_id, {', '.join(cols)})"
        f" SELECT ?1, {', '.join(picked)} FROM (VALUES {values})"
    )


def _jsonable(obj: Any) -> Any:
    """Metrics as JSON: NaN and infinities become null (JSON has none), numpy scalars plain."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):
        obj = obj.item()
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    if isinstance(obj, pd.Timedelta | pd.Timestamp):
        return str(obj)
    return obj


def _run_dict(row: Sequence[Any]) -> dict[str, Any]:
    run = dict(zip(RUN_COLUMNS, row, strict=True))
    for col in _JSON_COLUMNS:
        run[col] = json.loads(run[col]) if run[col] else None
    if run["last_equity"] is not None:
        run["last_equity"] = run["last_equity"] / NANO
    return run


def _command(row: Sequence[Any]) -> Command:
    return Command(
        id=row[0],
        run_id=row[1],
        command=row[2],
        args=json.loads(row[3]),
        created_ns=row[4],
        acked_ns=row[5],
        ack_note=row[6],
    )
