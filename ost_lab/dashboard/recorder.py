"""Recording a run into the runs database, off the engine's hot path.

A background thread tails what the engine appends anyway (order and fill events, risk rejections,
the equity curve), writes it in batches, beats the run's heartbeat and polls the commands table. So
the engine loop pays nothing per bar for recording, and a stop posted through the control API
reaches the engine while the kernel that runs it is busy.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ost_lab.core.engine import Engine, RunResult
from ost_lab.core.events import FillEvent, OrderEvent
from ost_lab.core.orders import Order
from ost_lab.core.strategy import Strategy
from ost_lab.dashboard.runs_db import Command, RunsDB

FLUSH_INTERVAL_S = 0.25
"""How often the writer wakes: it bounds batch sizes and how soon a stop is obeyed."""
HEARTBEAT_INTERVAL_S = 1.0
MAX_EQUITY_POINTS = 20_000
LIVE_EQUITY_EVERY_NS = 1_000_000_000

_STATUS = {"completed": "completed", "stopped": "completed", "cancelled": "cancelled"}


def describe_strategy(strategy: Strategy) -> dict[str, Any]:
    """Class, name, parameters and a hash of the source: what identifies a strategy in a run."""
    cls = type(strategy)
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        source = f"{cls.__module__}.{cls.__qualname__}"
    return {
        "class": cls.__qualname__,
        "module": cls.__module__,
        "name": strategy.name,
        "params": strategy.param_values(),
        "source_sha256": hashlib.sha256(source.encode()).hexdigest(),
    }


class EngineRecorder:
    """Records one engine run: ``with EngineRecorder(engine, name=...) as rec: rec.run()``."""

    def __init__(
        self,
        engine: Engine,
        *,
        name: str,
        mode: str = "backtest",
        db: str | Path | None = None,
        instruments: Sequence[str] | None = None,
        data_start_ns: int | None = None,
        data_end_ns: int | None = None,
        feed: str | None = None,
        broker: str | None = None,
        max_equity_points: int = MAX_EQUITY_POINTS,
        flush_interval_s: float = FLUSH_INTERVAL_S,
    ) -> None:
        self.engine = engine
        self.db_path = db
        self.max_equity_points = max_equity_points
        self.flush_interval_s = flush_interval_s
        self._describe = dict(
            name=name,
            mode=mode,
            strategies=[describe_strategy(s) for s in engine.strategies],
            instruments=list(instruments or sorted(engine.instruments)),
            data_start_ns=data_start_ns,
            data_end_ns=data_end_ns,
            feed=feed or type(engine.feed).__name__,
            broker=broker or type(engine.broker).__name__,
        )
        self.run_id = ""
        self.result: RunResult | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._n_events = 0
        self._n_rejections = 0
        self._n_equity = 0
        self._last_equity_ts = -(2**62)
        self._last_written = -1
        self._last_heartbeat = 0.0
        self._progress = 0.0
        self._dirty_orders: set[str] = set()
        self._user_progress = engine.progress

    # ----------------------------------------------------------- lifecycle
    def __enter__(self) -> EngineRecorder:
        self.start()
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None:
            self.finish(error=exc)
        elif self.result is not None:
            self.finish()

    def start(self) -> str:
        """Create the run (status running) and start the background writer."""
        with RunsDB(self.db_path) as db:
            self.run_id = db.create_run(**self._describe)  # type: ignore[arg-type]
        self.engine.progress = self._on_progress
        self._thread = threading.Thread(
            target=self._loop, name=f"ost_lab recorder {self.run_id}", daemon=True
        )
        self._thread.start()
        return self.run_id

    def run(self) -> RunResult:
        """Run the engine, recording it."""
        self.result = self.engine.run()
        return self.result

    def finish(self, error: BaseException | None = None) -> None:
        """Stop the writer, flush the rest and close the run with its status and metrics."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with RunsDB(self.db_path) as db:
            self._flush(db, final=True)
            if error is not None:
                detail = "".join(traceback.format_exception(error)).strip()
                db.finish_run(self.run_id, "failed", error=detail[-4000:])
                return
            result = self.result
            metrics = _metrics(result) if result is not None else {}
            status = _STATUS[result.status] if result is not None else "failed"
            db.finish_run(
                self.run_id, status, metrics=metrics, total_return=metrics.get("total_return")
            )
        self.engine.progress = self._user_progress

    # ------------------------------------------------------ background work
    def _on_progress(self, n: int, total: int | None) -> None:
        if total:
            self._progress = min(1.0, n / total)
        if self._user_progress is not None:
            self._user_progress(n, total)

    def _loop(self) -> None:
        with RunsDB(self.db_path) as db:
            while not self._stop.wait(self.flush_interval_s):
                self._flush(db)
                for command in db.pending_commands(self.run_id):
                    db.ack_command(command.id, self._obey(command))

    def _obey(self, command: Command) -> str:
        if command.command in ("stop", "cancel"):
            self.engine.control.cancel()
            return "cancelling the run"
        return f"{command.command!r} is not supported by this engine"

    def _flush(self, db: RunsDB, *, final: bool = False) -> None:
        with self._lock:
            batch = self._collect(final)
            if any(batch.values()):
                db.write_batch(self.run_id, batch)
            now = time.monotonic()
            if final or now - self._last_heartbeat >= HEARTBEAT_INTERVAL_S:
                _, eq = self.engine.portfolio.equity_history()
                db.heartbeat(
                    self.run_id, progress=self._progress, last_equity=eq[-1] if eq else None
                )
                self._last_heartbeat = now

    def _collect(self, final: bool) -> dict[str, list[dict[str, Any]]]:
        """New records since the last flush (the engine's lists only grow while it runs)."""
        engine = self.engine
        events = engine.events[self._n_events : len(engine.events)]
        self._n_events += len(events)
        rejections = engine.rejections[self._n_rejections : len(engine.rejections)]
        self._n_rejections += len(rejections)
        order_events, fills = [], []
        for ev in events:
            if isinstance(ev, OrderEvent):
                order_events.append(
                    dict(
                        ts_ns=ev.ts,
                        order_id=ev.order_id,
                        status=ev.status.name,
                        reason=ev.reason or None,
                    )
                )
                self._dirty_orders.add(ev.order_id)
            elif isinstance(ev, FillEvent):
                fills.append(
                    dict(
                        ts_ns=ev.ts,
                        order_id=ev.order_id,
                        symbol=ev.symbol,
                        qty=ev.signed_qty,
                        price=ev.price,
                        commission=ev.commission,
                        tag=ev.tag,
                        venue_id=ev.fill_id or None,
                    )
                )
                self._dirty_orders.add(ev.order_id)
        orders = [
            _order_row(engine.orders[oid])
            for oid in sorted(self._dirty_orders)
            if oid in engine.orders
        ]
        self._dirty_orders.clear()
        risk = [
            dict(
                ts_ns=engine.now,
                kind="rejection",
                rule=rej.rule,
                reason=rej.reason,
                strategy=strategy,
                order_id=None,
            )
            for strategy, rej in rejections
        ]
        return {
            "order_events": order_events,
            "fills": fills,
            "orders": orders,
            "risk_events": risk,
            "equity": self._equity_rows(final),
        }

    def _equity_rows(self, final: bool) -> list[dict[str, Any]]:
        """New equity points: every point up to the bound, then every k-th; by time when live.

        The last point is always written when the run finishes.
        """
        ts, values = self.engine.portfolio.equity_history()
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
        if (
            final
            and end
            and self._last_written != end - 1
            and (not picked or picked[-1] != end - 1)
        ):
            picked.append(end - 1)
        if picked:
            self._last_written = picked[-1]
        return [dict(ts_ns=ts[i], equity=values[i]) for i in picked]


def record(
    engine: Engine, *, name: str, mode: str = "backtest", **describe: Any
) -> tuple[str, RunResult]:
    """Run ``engine`` while recording it; returns the run id and the result."""
    with EngineRecorder(engine, name=name, mode=mode, **describe) as rec:
        result = rec.run()
    return rec.run_id, result


def _order_row(order: Order) -> dict[str, Any]:
    return dict(
        order_id=order.id,
        ts_ns=order.ts_init,
        strategy=order.strategy_id or None,
        symbol=order.symbol,
        side=order.side.name,
        qty=order.qty,
        order_type=order.type.name,
        limit_price=_num(order.limit_price),
        stop_price=_num(order.stop_price),
        tif=order.tif.name,
        tag=order.tag or None,
        parent_id=order.parent_id or None,
        status=order.status.name,
        filled_qty=order.filled_qty,
        avg_price=_num(order.avg_fill_price),
    )


def _num(x: float) -> float | None:
    return None if x is None or math.isnan(x) else x


def _metrics(result: RunResult) -> dict[str, Any]:
    from ost_lab.core.metrics import performance

    if len(result.equity) < 2:
        return {}
    return dict(performance(result.equity, result.fills).items())
