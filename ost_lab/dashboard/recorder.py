"""Recording runs into the runs database, off the engine's hot path.

A background thread per run beats the run's heartbeat, reports progress, polls the commands table
(so a stop posted through the control API reaches an engine whose kernel is busy) and writes what
the run produced in batches. For an event-loop engine it tails what the engine appends anyway
(order and fill events, risk rejections, the equity curve), so the loop pays nothing per bar; a
numba replay's result is written when it ends.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ost_lab.core.engine import Engine, RunControl, RunResult
from ost_lab.core.events import FillEvent, OrderEvent
from ost_lab.core.orders import Order
from ost_lab.dashboard.runs_db import Command, Row, RunsDB

if TYPE_CHECKING:
    from ost_lab.replay import Backtest, BacktestResult

FLUSH_INTERVAL_S = 0.25
"""How often the writer wakes: it bounds batch sizes and how soon a stop is obeyed."""
HEARTBEAT_INTERVAL_S = 1.0
MAX_EQUITY_POINTS = 20_000
LIVE_EQUITY_EVERY_NS = 1_000_000_000

Batch = dict[str, Sequence[Row]]
"""Table name -> rows (dicts, or tuples in runs_db.TABLE_COLUMNS order)."""
Progress = Callable[[int, int | None], None]

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

    # -------------------------------------------------------- subclass hooks
    def collect(self, final: bool) -> Batch:
        """Records produced since the last call."""
        return {}

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

    def finish(
        self,
        status: str = "completed",
        *,
        metrics: Mapping[str, Any] | None = None,
        error: BaseException | None = None,
    ) -> None:
        """Stop the writer, write what is left and close the run."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with RunsDB(self.db_path) as db:
            self._flush(db, final=True)
            if error is not None:
                detail = "".join(traceback.format_exception(error)).strip()
                db.finish_run(self.run_id, "failed", error=detail[-4000:])
                return
            metrics = dict(metrics or {})
            db.finish_run(
                self.run_id, status, metrics=metrics, total_return=metrics.get("total_return")
            )

    # ------------------------------------------------------- background work
    def _loop(self) -> None:
        with RunsDB(self.db_path) as db:
            while not self._stop.wait(self.flush_interval_s):
                self._flush(db)
                for command in db.pending_commands(self.run_id):
                    db.ack_command(command.id, self._obey(command))

    def _obey(self, command: Command) -> str:
        if command.command in ("stop", "cancel"):
            self.control.cancel()
            return "cancelling the run"
        return f"{command.command!r} is not supported by this engine"

    def _flush(self, db: RunsDB, *, final: bool = False) -> None:
        with self._lock:
            batch = self.collect(final)
            if any(batch.values()):
                db.write_batch(self.run_id, batch)
            now = time.monotonic()
            if final or now - self._last_heartbeat >= HEARTBEAT_INTERVAL_S:
                db.heartbeat(self.run_id, progress=self._progress, last_equity=self.last_equity())
                self._last_heartbeat = now


class EngineRecorder(RunRecorder):
    """Records a core ``Engine`` run while it runs: ``with EngineRecorder(engine, name=...) as r:
    r.run()``."""

    def __init__(
        self,
        engine: Engine,
        *,
        name: str,
        mode: str = "backtest",
        db: str | Path | None = None,
        max_equity_points: int = MAX_EQUITY_POINTS,
        **describe: Any,
    ) -> None:
        describe.setdefault("strategies", [describe_strategy(s) for s in engine.strategies])
        describe.setdefault("instruments", sorted(engine.instruments))
        describe.setdefault("feed", type(engine.feed).__name__)
        describe.setdefault("broker", type(engine.broker).__name__)
        super().__init__(name=name, mode=mode, db=db, control=engine.control, **describe)
        self.engine = engine
        self.max_equity_points = max_equity_points
        self.result: RunResult | None = None
        self._user_progress = engine.progress
        self._n_events = 0
        self._n_rejections = 0
        self._n_equity = 0
        self._last_equity_ts = -(2**62)
        self._last_written = -1
        self._dirty_orders: set[str] = set()

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
        metrics: Mapping[str, Any] | None = None,
        error: BaseException | None = None,
    ) -> None:
        result = self.result
        if status is None:
            status = _FINAL_STATUS[result.status] if result is not None else "failed"
        if metrics is None and result is not None and error is None:
            metrics = _metrics(result.equity, result.fills)
        super().finish(status, metrics=metrics, error=error)
        self.engine.progress = self._user_progress

    def last_equity(self) -> float | None:
        _, values = self.engine.portfolio.equity_history()
        return values[-1] if values else None

    def collect(self, final: bool) -> Batch:
        """New records since the last flush (the engine's lists only grow while it runs)."""
        engine = self.engine
        events = engine.events[self._n_events : len(engine.events)]
        self._n_events += len(events)
        rejections = engine.rejections[self._n_rejections : len(engine.rejections)]
        self._n_rejections += len(rejections)
        # rows as tuples in the runs DB's column order (runs_db.TABLE_COLUMNS): no dict per row
        order_events: list[tuple[Any, ...]] = []
        fills: list[tuple[Any, ...]] = []
        dirty = self._dirty_orders
        for ev in events:
            if isinstance(ev, OrderEvent):
                order_events.append((ev.ts, ev.order_id, ev.status.name, ev.reason or None))
            elif isinstance(ev, FillEvent):
                fills.append((ev.ts, ev.order_id, ev.symbol, ev.signed_qty, ev.price,
                              ev.commission, ev.tag, ev.fill_id or None))  # fmt: skip
            dirty.add(ev.order_id)
        orders = [
            _order_row(engine.orders[oid])
            for oid in sorted(self._dirty_orders)
            if oid in engine.orders
        ]
        self._dirty_orders.clear()
        risk = [
            dict(ts_ns=engine.now, kind="rejection", rule=rej.rule, reason=rej.reason,
                 strategy=strategy)
            for strategy, rej in rejections
        ]  # fmt: skip
        ts, values = engine.portfolio.equity_history()
        return {
            "order_events": order_events,
            "fills": fills,
            "orders": orders,
            "risk_events": risk,
            "equity": self._equity_rows(ts, values, final),
            "positions": self._position_rows() if fills or final else [],
        }

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
        self, ts: list[int], values: list[float], final: bool
    ) -> list[tuple[int, float]]:
        """New equity points: every point up to the bound, then every k-th; by time when live.

        The last point is always written when the run finishes.
        """
        end = len(ts)
        start, self._n_equity = self._n_equity, end
        total = self.engine.total
        stride = max(1, math.ceil(total / self.max_equity_points)) if total else 0
        if stride:
            first = -(-start // stride) * stride  # the first multiple of stride at or after start
            picked = list(range(first, end, stride))
        else:
            picked = []
            for i in range(start, end):
                if ts[i] - self._last_equity_ts >= LIVE_EQUITY_EVERY_NS:
                    picked.append(i)
                    self._last_equity_ts = ts[i]
        if final and end and self._last_written != end - 1 and picked[-1:] != [end - 1]:
            picked.append(end - 1)
        if picked:
            self._last_written = picked[-1]
        return [(ts[i], values[i]) for i in picked]


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
    with RunsDB(db) as out:
        out.write_batch(rec.run_id, _result_batch(result, max_equity_points))
    rec.finish(_FINAL_STATUS[result.status], metrics=_metrics(result.equity, result.fills))
    return rec.run_id, result


def _result_batch(result: BacktestResult, max_equity_points: int) -> Batch:
    """A finished replay's fills, orders and (downsampled) equity curve as runs-DB rows."""
    f = result.fills
    fills = [
        dict(ts_ns=int(ts), symbol=sym, qty=float(q), price=float(p), commission=float(c), tag=tag)
        for ts, sym, q, p, c, tag in zip(
            f["ts"], f["symbol"], f["qty"], f["price"], f["commission"], f["tag"], strict=True
        )
    ]
    orders = [
        dict(
            order_id=str(o["id"]),
            ts_ns=int(o["ts"]),
            symbol=o["symbol"],
            side="BUY" if int(o["side"]) > 0 else "SELL",
            qty=float(o["qty"]),
            order_type=str(o["type"]).upper(),
            limit_price=_num(o["limit"]),
            stop_price=_num(o["stop"]),
            status=str(o["status"]),
            filled_qty=float(o["filled_qty"]),
            avg_price=_num(o["avg_fill_price"]),
        )
        for o in result.orders.to_dict("records")
    ]
    eq = result.equity
    idx = eq.index.as_unit("ns").asi8 if isinstance(eq.index, pd.DatetimeIndex) else eq.index
    stride = max(1, math.ceil(len(eq) / max_equity_points))
    keep = list(range(0, len(eq), stride))
    if len(eq) and keep[-1] != len(eq) - 1:
        keep.append(len(eq) - 1)
    values = eq.to_numpy()
    equity = [dict(ts_ns=int(idx[i]), equity=float(values[i])) for i in keep]
    return {"fills": fills, "orders": orders, "equity": equity}


def _order_row(order: Order) -> tuple[Any, ...]:
    """An order's latest state in the runs DB's ``orders`` column order."""
    return (
        order.id,
        order.ts_init,
        order.strategy_id or None,
        order.symbol,
        order.side.name,
        order.qty,
        order.type.name,
        _num(order.limit_price),
        _num(order.stop_price),
        order.tif.name,
        order.tag or None,
        order.parent_id or None,
        order.status.name,
        order.filled_qty,
        _num(order.avg_fill_price),
    )


def _num(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


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
