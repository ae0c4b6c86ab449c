"""Recording runs into the runs database, off the engine's hot path.

A background thread per run beats the run's heartbeat, reports progress, polls the commands table
(so a stop posted through the control API reaches an engine whose kernel is busy) and writes what
the run produced. For an event-loop engine it tails what the engine appends anyway (order and fill
events, risk rejections, the equity curve), so the loop pays nothing per bar. A backtest's orders,
order events and fills are written when it ends, converted column by column in one batch (while
it runs the writer only follows the equity curve and positions, so the engine's thread keeps the
GIL); a live or sandbox run's are written as they come. A numba replay's result is written when it
ends.
"""

from __future__ import annotations

import gc
import hashlib
import inspect
import math
import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from enum import Enum
from itertools import compress, repeat
from operator import attrgetter, is_
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ost_lab.core.broker import BrokerEvent
from ost_lab.core.engine import Engine, RunControl, RunResult
from ost_lab.core.events import FillEvent, OrderEvent
from ost_lab.core.orders import Order
from ost_lab.core.types import OrderStatus, OrderType, Side, TimeInForce
from ost_lab.dashboard.runs_db import Command, Records, RunsDB, Statement, prepare_batch

if TYPE_CHECKING:
    from ost_lab.replay import Backtest, BacktestResult

FLUSH_INTERVAL_S = 0.25
"""How often the writer wakes: it bounds batch sizes and how soon a stop is obeyed."""
HEARTBEAT_INTERVAL_S = 1.0
MAX_EQUITY_POINTS = 20_000
LIVE_EQUITY_EVERY_NS = 1_000_000_000

Batch = dict[str, Records]
"""Table name -> records: rows (dicts, or tuples in runs_db.TABLE_COLUMNS order) or columns."""
Progress = Callable[[int, int | None], None]
Metrics = Mapping[str, Any] | Callable[[], Mapping[str, Any]]

#: Allocations between young-generation collections while a run is being finished (Python's
#: default is 700). The engine's run leaves its orders and events young; the last batch and the
#: metrics then allocate enough to start a full pass of the collector over them and the rest of
#: the process's heap, which at the default costs about as much as writing the batch. As in
#: the engine's array replays, cyclic garbage is still collected, in fewer, larger passes.
_GC_YOUNG = 50_000

_FINAL_STATUS = {"completed": "completed", "stopped": "completed", "cancelled": "cancelled"}


def describe_strategy(strategy: Any, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Class, name, parameters and a hash of the source: what identifies a strategy in a run.

    ``strategy`` is a ``Strategy`` instance or class, or a numba kernel function.
    """
    target = getattr(strategy, "py_func", strategy)  # a kernel's Python source
    cls = target if inspect.isclass(target) or inspect.isfunction(target) else type(target)
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        source = f"{cls.__module__}.{cls.__qualname__}"
    if params is None:
        values = getattr(strategy, "param_values", None)
        params = values() if callable(values) and not inspect.isclass(strategy) else {}
    return {
        "class": cls.__qualname__,
        "module": cls.__module__,
        "name": getattr(strategy, "name", None) or cls.__qualname__,
        "params": {k: _plain(v) for k, v in dict(params).items()},
        "source_sha256": hashlib.sha256(source.encode()).hexdigest(),
    }


class _Handoff:
    """Statements passed from one thread to another as they are made (iterate to take them)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Statement | None] = queue.SimpleQueue()
        self._taken: list[Statement] = []
        self._closed = False

    def extend(self, statements: Iterable[Statement]) -> None:
        for st in statements:
            self._queue.put(st)

    def close(self) -> None:
        """No more statements: iterating ends once the ones given are taken."""
        self._queue.put(None)

    def __iter__(self) -> Iterator[Statement]:
        while not self._closed:
            st = self._queue.get()
            if st is None:
                self._closed = True
                return
            self._taken.append(st)
            yield st

    def everything(self) -> list[Statement]:
        """All statements, taken or not (after :meth:`close`): to write them again."""
        for _ in self:  # take the rest
            pass
        return list(self._taken)


class RunRecorder:
    """One run's row, heartbeat, progress, command channel and batched writes.

    Subclasses say what to record by overriding ``collect`` (called by the writer thread and once
    more at the end) and ``last_equity``.
    """

    def __init__(
        self,
        *,
        name: str,
        mode: str = "backtest",
        db: str | Path | None = None,
        control: RunControl | None = None,
        strategies: Sequence[Mapping[str, Any]] = (),
        instruments: Sequence[str] = (),
        data_start_ns: int | None = None,
        data_end_ns: int | None = None,
        feed: str | None = None,
        broker: str | None = None,
        flush_interval_s: float = FLUSH_INTERVAL_S,
    ) -> None:
        self.db_path = db
        self.control = control or RunControl()
        self.flush_interval_s = flush_interval_s
        self.run_id = ""
        self._describe: dict[str, Any] = dict(
            name=name,
            mode=mode,
            strategies=list(strategies),
            instruments=list(instruments),
            data_start_ns=data_start_ns,
            data_end_ns=data_end_ns,
            feed=feed,
            broker=broker,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._last_heartbeat = 0.0
        self._progress = 0.0
        self._final: list[Batch] = []
        # the end of a run, between finish() and the writer thread
        self._last = _Handoff()  # the last batch, prepared by finish() as the writer writes it
        self._final_written = False
        self._outcome: tuple[str, dict[str, Any], BaseException | None] = ("failed", {}, None)
        self._outcome_ready = threading.Event()
        self._closed = threading.Event()  # the writer closed the run

    # -------------------------------------------------------- subclass hooks
    def collect(self, final: bool) -> Batch:
        """Records produced since the last call."""
        return {}

    def collect_parts(self, final: bool) -> Iterator[Batch]:
        """:meth:`collect` in parts (a table each, say): the run's last batch is written part by
        part while the next part is converted."""
        yield self.collect(final)

    def last_equity(self) -> float | None:
        return None

    # ------------------------------------------------------------- lifecycle
    def start(self) -> str:
        """Create the run (status running) and start the background writer."""
        with RunsDB(self.db_path) as db:
            self.run_id = db.create_run(**self._describe)
        self._thread = threading.Thread(
            target=self._loop, name=f"ost_lab recorder {self.run_id}", daemon=True
        )
        self._thread.start()
        return self.run_id

    def on_progress(self, done: int, total: int | None) -> None:
        """A progress callback for engines: remembered and sent with the next heartbeat."""
        if total:
            self._progress = min(1.0, done / total)

    def add_final(self, batch: Batch) -> None:
        """Records to write with the run's last batch, when it finishes."""
        with self._lock:
            self._final.append(batch)

    def finish(
        self,
        status: str = "completed",
        *,
        metrics: Metrics | None = None,
        error: BaseException | None = None,
    ) -> None:
        """Stop the writer, write what is left and close the run.

        This thread converts the last records and hands them to the writer thread, which
        writes them (SQLite inserts without holding the GIL) while this thread computes
        ``metrics`` (when given as a function), then closes the run. A metrics function that
        raises fails the run, and its exception is raised here. The writer thread checkpoints
        the WAL after the run is closed, off the caller's time (see :meth:`join`).
        """
        gc_threshold = gc.get_threshold()
        if gc_threshold[0] > 0:  # see _GC_YOUNG
            gc.set_threshold(max(gc_threshold[0], _GC_YOUNG), *gc_threshold[1:])
        failure: BaseException | None = None
        try:
            self._stop.set()
            try:
                with self._lock:  # after a flush in progress
                    for batch in self._final_parts():
                        self._last.extend(prepare_batch(batch))
            except BaseException as exc:
                error = failure = exc
            finally:
                self._last.close()
            values: dict[str, Any] = {}
            if error is None:
                try:
                    values = dict((metrics() if callable(metrics) else metrics) or {})
                except BaseException as exc:
                    error = failure = exc
            self._outcome = (status, values, error)
            self._outcome_ready.set()
            if not self._writer_closed_run():  # no writer thread, or it failed: do it here
                with RunsDB(self.db_path) as db:
                    if not self._final_written:
                        self._write(db, self._last.everything(), final=True)
                    self._close_run(db)
        finally:
            gc.set_threshold(*gc_threshold)
        if failure is not None:
            raise failure

    def join(self, timeout: float | None = None) -> None:
        """Wait for the writer thread to end (after :meth:`finish`, it checkpoints the WAL)."""
        if self._thread is not None:
            self._thread.join(timeout)

    # ------------------------------------------------------- background work
    def _loop(self) -> None:
        with RunsDB(self.db_path) as db:
            while not self._stop.wait(self.flush_interval_s):
                # commands first: a stop is obeyed before the batch is collected and written
                for command in db.pending_commands(self.run_id):
                    db.ack_command(command.id, self._obey(command))
                with self._lock:
                    statements = prepare_batch(self.collect(final=False))
                self._write(db, statements)
            # The last batch can be big (a backtest's orders, events and fills): the checkpoint
            # SQLite would run inside its COMMIT is done here once the run is closed instead.
            db.conn.execute("PRAGMA wal_autocheckpoint = 0")
            try:
                self._write(db, self._last, final=True)
                self._final_written = True
                self._outcome_ready.wait()
                self._close_run(db)
            except Exception:
                return  # finish() writes it again from its own thread, and raises there
            self._closed.set()
            db.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _writer_closed_run(self) -> bool:
        """Wait until the writer thread has closed the run; False if it cannot (none, or it
        ended without: an error, which finish() then meets again in its own thread)."""
        thread = self._thread
        if thread is None:
            return False
        while not self._closed.wait(0.05):
            if not thread.is_alive():
                return self._closed.is_set()
        return True

    def _close_run(self, db: RunsDB) -> None:
        status, values, error = self._outcome
        if error is not None:
            detail = "".join(traceback.format_exception(error)).strip()
            db.finish_run(self.run_id, "failed", error=detail[-4000:])
        else:
            db.finish_run(
                self.run_id, status, metrics=values, total_return=values.get("total_return")
            )

    def _obey(self, command: Command) -> str:
        if command.command in ("stop", "cancel"):
            self.control.cancel()
            return "cancelling the run"
        return f"{command.command!r} is not supported by this engine"

    def _final_parts(self) -> Iterator[Batch]:
        """The run's last records, part by part, then the records given to :meth:`add_final`."""
        yield from self.collect_parts(final=True)
        while self._final:
            yield self._final.pop(0)

    def _write(self, db: RunsDB, statements: Iterable[Statement], *, final: bool = False) -> None:
        db.write_prepared(self.run_id, statements)
        now = time.monotonic()
        if final or now - self._last_heartbeat >= HEARTBEAT_INTERVAL_S:
            db.heartbeat(self.run_id, progress=self._progress, last_equity=self.last_equity())
            self._last_heartbeat = now


class EngineRecorder(RunRecorder):
    """Records a core ``Engine`` run while it runs: ``with EngineRecorder(engine, name=...) as r:
    r.run()``.

    ``defer_records`` (default: for backtests) writes the orders, order events and fills when the
    run ends, all in one batch converted column by column, instead of every flush: the writer
    thread then only beats the heartbeat, reports progress, follows the equity curve and positions
    and obeys commands, and the engine's thread keeps the GIL to itself. Live and sandbox runs
    write them as they come, so the dashboard sees them during the run.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        name: str,
        mode: str = "backtest",
        db: str | Path | None = None,
        max_equity_points: int = MAX_EQUITY_POINTS,
        defer_records: bool | None = None,
        **describe: Any,
    ) -> None:
        describe.setdefault("strategies", [describe_strategy(s) for s in engine.strategies])
        describe.setdefault("instruments", sorted(engine.instruments))
        describe.setdefault("feed", type(engine.feed).__name__)
        describe.setdefault("broker", type(engine.broker).__name__)
        super().__init__(name=name, mode=mode, db=db, control=engine.control, **describe)
        self.engine = engine
        self.max_equity_points = max_equity_points
        self.defer_records = mode == "backtest" if defer_records is None else defer_records
        self.result: RunResult | None = None
        self._user_progress = engine.progress
        self._n_events = 0
        self._n_rejections = 0
        self._n_equity = 0
        self._last_equity_ts = -(2**62)
        self._last_written = -1
        self._positions_version = engine.portfolio.version

    def __enter__(self) -> EngineRecorder:
        self.start()
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None:
            self.finish(error=exc)
        elif self.result is not None:
            self.finish()

    def start(self) -> str:
        self.engine.progress = self.on_progress
        return super().start()

    def on_progress(self, done: int, total: int | None) -> None:
        super().on_progress(done, total)
        if self._user_progress is not None:
            self._user_progress(done, total)

    def run(self) -> RunResult:
        """Run the engine, recording it."""
        self.result = self.engine.run()
        return self.result

    def finish(
        self,
        status: str | None = None,
        *,
        metrics: Metrics | None = None,
        error: BaseException | None = None,
    ) -> None:
        """Close the run; its metrics are computed while the last records are written."""
        result = self.result
        if status is None:
            status = _FINAL_STATUS[result.status] if result is not None else "failed"
        if metrics is None and result is not None and error is None:
            equity, fills = result.equity, result.fills
            metrics = lambda: _metrics(equity, fills)  # noqa: E731
        try:
            super().finish(status, metrics=metrics, error=error)
        finally:
            self.engine.progress = self._user_progress

    def last_equity(self) -> float | None:
        _, values = self.engine.portfolio.equity_history()
        return values[-1] if values else None

    def collect(self, final: bool) -> Batch:
        """New records since the last flush (the engine's lists only grow while it runs)."""
        batch: Batch = {}
        for part in self.collect_parts(final):
            batch.update(part)
        return batch

    def collect_parts(self, final: bool) -> Iterator[Batch]:
        """:meth:`collect` a table at a time: order events, fills, orders, then the rest."""
        engine = self.engine
        if final or not self.defer_records:
            end = len(engine.events)
            events = engine.events[self._n_events : end]
            yield from _event_tables(events, engine.orders, ended=final)
            self._n_events = end
        batch: Batch = {}
        rejections = engine.rejections[self._n_rejections : len(engine.rejections)]
        self._n_rejections += len(rejections)
        if rejections:
            batch["risk_events"] = [
                dict(ts_ns=engine.now, kind="rejection", rule=rej.rule, reason=rej.reason,
                     strategy=strategy)
                for strategy, rej in rejections
            ]  # fmt: skip
        ts, values = engine.portfolio.equity_history()
        batch["equity"] = self._equity_rows(ts, values, final)
        version = engine.portfolio.version
        if final or version != self._positions_version:  # after fills: a positions snapshot
            self._positions_version = version
            batch["positions"] = self._position_rows()
        yield batch

    def _position_rows(self) -> list[dict[str, Any]]:
        """A snapshot of every book's positions (per symbol and tag) after new fills."""
        portfolio = self.engine.portfolio
        rows = []
        for tag, book in sorted(portfolio.books.items()):
            for symbol, pos in sorted(book.positions.items()):
                mark = portfolio.marks.get(symbol, pos.avg_price)
                rows.append(
                    dict(
                        ts_ns=self.engine.now,
                        symbol=symbol,
                        tag=tag,
                        qty=pos.qty,
                        avg_price=pos.avg_price if pos.qty else None,
                        realized=pos.realized_pnl,
                        unrealized=pos.unrealized_pnl(mark),
                    )
                )
        return rows

    def _equity_rows(
        self, ts: Sequence[int], values: Sequence[float], final: bool
    ) -> dict[str, list[Any]]:
        """New equity points, as columns: every point up to the bound, then every k-th; by time
        when live. The last point is always written when the run finishes.
        """
        end = min(len(ts), len(values))  # the engine appends to ts first
        start, self._n_equity = self._n_equity, end
        total = self.engine.total
        stride = max(1, math.ceil(total / self.max_equity_points)) if total else 0
        if stride:
            first = -(-start // stride) * stride  # the first multiple of stride at or after start
            picked: range | list[int] = range(first, end, stride)
            out_ts, out_eq = list(ts[first:end:stride]), list(values[first:end:stride])
        else:
            picked = []
            for i in range(start, end):
                if ts[i] - self._last_equity_ts >= LIVE_EQUITY_EVERY_NS:
                    picked.append(i)
                    self._last_equity_ts = ts[i]
            out_ts, out_eq = [ts[i] for i in picked], [values[i] for i in picked]
        last = picked[-1] if picked else -1
        if final and end and self._last_written != end - 1 and last != end - 1:
            out_ts.append(ts[end - 1])
            out_eq.append(values[end - 1])
            last = end - 1
        if last >= 0:
            self._last_written = last
        return {"ts_ns": out_ts, "equity": out_eq}


def record(
    engine: Engine, *, name: str, mode: str = "backtest", **describe: Any
) -> tuple[str, RunResult]:
    """Run ``engine`` while recording it; returns the run id and the result."""
    with EngineRecorder(engine, name=name, mode=mode, **describe) as rec:
        result = rec.run()
    return rec.run_id, result


def record_backtest(
    backtest: Backtest,
    *,
    name: str,
    db: str | Path | None = None,
    control: RunControl | None = None,
    progress: Progress | None = None,
    max_equity_points: int = MAX_EQUITY_POINTS,
    **run_kwargs: Any,
) -> tuple[str, BacktestResult]:
    """Run a replay while recording it; returns the run id and the result.

    The run shows up (with progress and heartbeat) as soon as it starts, a stop posted from the
    dashboard cancels it, and its fills, orders, equity and metrics are written when it ends.
    ``run_kwargs`` go to ``Backtest.run`` (strategy parameters, kernel ``params``, chunk size).
    """
    control = control or RunControl()
    data = backtest.data.symbols
    params = run_kwargs.get("params")
    strategy_params = {k: v for k, v in run_kwargs.items() if k not in ("params", "chunk_bars")}
    if params is not None:
        strategy_params["params"] = np.asarray(params).tolist()
    rec = RunRecorder(
        name=name,
        mode="backtest",
        db=db,
        control=control,
        strategies=[describe_strategy(backtest.strategy, strategy_params or None)],
        instruments=list(data),
        data_start_ns=min((int(b.ts_open[0]) for b in data.values() if len(b)), default=None),
        data_end_ns=max((int(b.ts_close[-1]) for b in data.values() if len(b)), default=None),
        feed=f"replay of {backtest.data.n_bars:,} bars",
        broker="simulated venue",
    )
    rec.start()

    def report(done: int, total: int | None) -> None:
        rec.on_progress(done, total)
        if progress is not None:
            progress(done, total)

    try:
        result = backtest.run(control=control, progress=report, **run_kwargs)
    except BaseException as exc:
        rec.finish(error=exc)
        raise
    # converted here, written by the writer thread while this one computes the metrics
    rec.add_final(_result_batch(result, max_equity_points))
    rec.finish(
        _FINAL_STATUS[result.status],
        metrics=lambda: dict(result.metrics.items()) if len(result.equity) >= 2 else {},
    )
    return rec.run_id, result


def _result_batch(result: BacktestResult, max_equity_points: int) -> Batch:
    """A finished replay's fills, orders and (downsampled) equity curve as runs-DB columns."""
    f = result.fills
    fills = {
        "ts_ns": f["ts"].to_numpy(np.int64),
        "symbol": f["symbol"].tolist(),
        "qty": f["qty"].to_numpy(np.float64),
        "price": f["price"].to_numpy(np.float64),
        "commission": f["commission"].to_numpy(np.float64),
        "tag": f["tag"].tolist(),
    }
    o = result.orders
    orders = {
        "order_id": [str(x) for x in o["id"].tolist()],
        "ts_ns": o["ts"].to_numpy(np.int64),
        "symbol": o["symbol"].tolist(),
        "side": np.where(o["side"].to_numpy(np.int64) > 0, "BUY", "SELL").tolist(),
        "qty": o["qty"].to_numpy(np.float64),
        "order_type": [str(x).upper() for x in o["type"].tolist()],
        "limit_price": o["limit"].to_numpy(np.float64),  # NaN: none (null)
        "stop_price": o["stop"].to_numpy(np.float64),
        "status": [str(x) for x in o["status"].tolist()],
        "filled_qty": o["filled_qty"].to_numpy(np.float64),
        "avg_price": o["avg_fill_price"].to_numpy(np.float64),
    }
    eq = result.equity
    idx = eq.index.as_unit("ns").asi8 if isinstance(eq.index, pd.DatetimeIndex) else eq.index
    stride = max(1, math.ceil(len(eq) / max_equity_points))
    keep = np.arange(0, len(eq), stride)
    if len(eq) and keep[-1] != len(eq) - 1:
        keep = np.append(keep, len(eq) - 1)
    equity = {
        "ts_ns": np.asarray(idx, dtype=np.int64)[keep],
        "equity": eq.to_numpy(np.float64)[keep],
    }
    return {"fills": fills, "orders": orders, "equity": equity}


_ENUM_NAMES: dict[type[Enum], dict[Any, str]] = {
    e: {m: m.name for m in e} for e in (OrderStatus, OrderType, Side, TimeInForce)
}


def _names(enum: type[Enum], values: Sequence[Any]) -> list[str]:
    """Enum members' names (one dict per enum: IntEnum members of different enums are equal)."""
    names = _ENUM_NAMES[enum]
    try:
        return list(map(names.__getitem__, values))
    except KeyError:  # not a member of ``enum``: its own name, as the member would give
        return [v.name for v in values]


def _or_none(values: Sequence[Any]) -> list[Any]:
    """Empty strings (and other false values) as None (null)."""
    if not any(values):  # the usual case, at C speed
        return [None] * len(values)
    return [v or None for v in values]


def _attr(name: str, objects: Sequence[Any]) -> list[Any]:
    return list(map(attrgetter(name), objects))


def _split_events(events: Sequence[BrokerEvent]) -> tuple[list[OrderEvent], list[FillEvent]]:
    """The order events and the fills among ``events``, each in order."""
    kinds = list(map(type, events))
    order_events = list(compress(events, map(is_, repeat(OrderEvent), kinds)))
    fills = list(compress(events, map(is_, repeat(FillEvent), kinds)))
    if len(order_events) + len(fills) != len(events):  # subclasses (or other events)
        order_events = [ev for ev in events if isinstance(ev, OrderEvent)]
        fills = [ev for ev in events if isinstance(ev, FillEvent)]
    return order_events, fills  # type: ignore[return-value]


def _event_tables(
    events: Sequence[BrokerEvent], orders: Mapping[str, Order], *, ended: bool
) -> Iterator[Batch]:
    """Order events, fills and the latest state of the orders they touched, column by column
    (``ended``: the engine's run is over).

    The same values the engine holds, written as the row-by-row recorder wrote them (checked
    by tests/dashboard/test_recorder.py); lists built at C speed where possible, and no object
    per record for the cyclic collector to count.
    """
    order_events, fill_events = _split_events(events)
    touched: set[str] = set()
    if order_events:
        ts, oid, status, _, reason = zip(*order_events, strict=True)
        touched.update(oid)
        yield {
            "order_events": {
                "ts_ns": ts,
                "order_id": oid,
                "status": _names(OrderStatus, status),
                "reason": _or_none(reason),
            }
        }
    if fill_events:
        ts, oid, symbol, side, qty, price, commission, tag, fill_id = zip(*fill_events, strict=True)
        # FillEvent.signed_qty, float(side) * qty, for all fills at once
        signed = np.asarray(side, dtype=np.float64) * np.asarray(qty, dtype=np.float64)
        touched.update(oid)
        yield {
            "fills": {
                "ts_ns": ts,
                "order_id": oid,
                "symbol": symbol,
                "qty": signed,
                "price": price,
                "commission": commission,
                "tag": tag,
                "venue_id": _or_none(fill_id),
            }
        }
    if ended:  # nothing adds orders any more: all of them, in the engine's order
        latest = [o for oid, o in orders.items() if oid in touched]
    else:  # looked up one by one: the engine's thread may be adding orders
        latest = [orders[oid] for oid in sorted(touched) if oid in orders]
    if latest:
        yield {
            "orders": {
                "order_id": _attr("id", latest),
                "ts_ns": _attr("ts_init", latest),
                "strategy": _or_none(_attr("strategy_id", latest)),
                "symbol": _attr("symbol", latest),
                "side": _names(Side, _attr("side", latest)),
                "qty": _attr("qty", latest),
                "order_type": _names(OrderType, _attr("type", latest)),
                "limit_price": _attr("limit_price", latest),  # NaN: none (null)
                "stop_price": _attr("stop_price", latest),
                "tif": _names(TimeInForce, _attr("tif", latest)),
                "tag": _or_none(_attr("tag", latest)),
                "parent_id": _or_none(_attr("parent_id", latest)),
                "status": _names(OrderStatus, _attr("status", latest)),
                "filled_qty": _attr("filled_qty", latest),
                "avg_price": _attr("avg_fill_price", latest),
            }
        }


def _plain(value: Any) -> Any:
    """Parameter values as JSON-friendly Python (numpy scalars and arrays unwrapped)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _metrics(equity: pd.Series, fills: pd.DataFrame) -> dict[str, Any]:
    from ost_lab.core.metrics import performance

    if len(equity) < 2:
        return {}
    return dict(performance(equity, fills).items())
