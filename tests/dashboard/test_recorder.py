"""Recording engine runs: what the engine did is what the runs database holds."""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import requests

from ost_lab.core import (
    Bar,
    Commission,
    Engine,
    FillEvent,
    OrderEvent,
    Param,
    RiskEngine,
    RiskLimits,
    Side,
    Strategy,
)
from ost_lab.dashboard.recorder import EngineRecorder, record
from ost_lab.dashboard.runs_db import RunsDB

T0 = 1_700_000_000_000_000_000
MIN = 60_000_000_000


class Flipper(Strategy):
    """Buys when flat, sells when long, every ``every`` bars: many orders and fills."""

    every = Param(5, min=1)
    size = Param(3.0, min=1)

    def on_start(self) -> None:
        self.n = 0

    def on_bar(self, bar: Bar) -> None:
        self.n += 1
        if self.n % self.every:
            return
        if self.position == 0:
            self.buy(self.size, bar.symbol)
        else:
            self.sell(self.position, bar.symbol)


def bars(n: int | None, symbol: str = "XYZ") -> Iterator[Bar]:
    """A deterministic random walk; endless when ``n`` is None."""
    rng = np.random.default_rng(1)
    price, i = 100.0, 0
    while n is None or i < n:
        o = price
        c = max(1.0, o * (1 + rng.normal(0, 0.002)))
        h, lo = max(o, c) * 1.001, min(o, c) * 0.999
        yield Bar(symbol, T0 + (i + 1) * MIN, o, h, lo, c, 1000.0, ts_open=T0 + i * MIN)
        price, i = c, i + 1


def test_recorded_run_matches_the_engine_result(tmp_path):
    db_path = tmp_path / "runs.sqlite"
    engine = Engine(Flipper(), list(bars(3000)), initial_cash=10_000.0)
    run_id, result = record(engine, name="flipper", db=db_path, data_start_ns=T0)
    with RunsDB(db_path) as db:
        run = db.get_run(run_id)
        assert run["status"] == "completed" and run["progress"] == 1.0
        assert run["strategies"][0]["class"] == "Flipper"
        assert run["strategies"][0]["params"] == {"every": 5, "size": 3.0}
        assert len(run["strategies"][0]["source_sha256"]) == 64
        assert run["metrics"]["total_return"] == pytest.approx(
            result.equity.iloc[-1] / 10_000.0 - 1, rel=1e-12
        )
        assert run["total_return"] == run["metrics"]["total_return"]

        fills = db.fills(run_id)
        assert len(fills) == len(result.fills) > 100
        assert (fills["ts_ns"].to_numpy() == result.fills["ts"].to_numpy()).all()
        assert np.allclose(fills["qty"], result.fills["qty"], rtol=0, atol=0)
        assert np.allclose(fills["price"], result.fills["price"], rtol=0, atol=1e-9)

        orders = db.orders(run_id)
        assert len(orders) == len(result.orders)
        assert set(orders["status"]) == {o.status.name for o in result.orders}
        n_events = sum(len(o.events) for o in result.orders)
        assert len(db.table(run_id, "order_events")) == n_events

        positions = db.table(run_id, "positions")
        last = positions[positions["ts_ns"] == positions["ts_ns"].max()]
        [final] = last.itertuples()
        book = result.portfolio.books[final.tag].positions["XYZ"]
        assert (final.symbol, final.qty) == ("XYZ", book.qty)
        assert final.realized == pytest.approx(book.realized_pnl, abs=1e-9)

        equity = db.equity(run_id)
        assert len(equity) == len(result.equity)  # under the bound: every point
        assert np.allclose(equity.to_numpy(), result.equity.to_numpy(), rtol=0, atol=1e-9)


def test_long_equity_curves_are_downsampled_to_the_bound(tmp_path):
    db_path = tmp_path / "runs.sqlite"
    engine = Engine(Flipper(), list(bars(5000)), initial_cash=10_000.0)
    with EngineRecorder(engine, name="bounded", db=db_path, max_equity_points=1000) as rec:
        result = rec.run()
    with RunsDB(db_path) as db:
        equity = db.equity(rec.run_id)
    assert 900 <= len(equity) <= 1001
    assert equity.index[-1] == result.equity.index[-1]  # the last point is always kept
    assert equity.iloc[-1] == pytest.approx(result.equity.iloc[-1], abs=1e-9)


def test_a_failing_strategy_marks_the_run_failed(tmp_path):
    class Broken(Strategy):
        def on_bar(self, bar: Bar) -> None:
            raise ZeroDivisionError("boom in on_bar")

    db_path = tmp_path / "runs.sqlite"
    engine = Engine(Broken(), list(bars(10)))
    with pytest.raises(ZeroDivisionError):
        record(engine, name="broken", db=db_path)
    with RunsDB(db_path) as db:
        [run] = db.list_runs()
    assert run["status"] == "failed" and "boom in on_bar" in run["error"]


def test_recording_and_not_recording_give_identical_results(tmp_path):
    plain = Engine(Flipper(), list(bars(2000)), initial_cash=10_000.0).run()
    _, recorded = record(
        Engine(Flipper(), list(bars(2000)), initial_cash=10_000.0),
        name="same",
        db=tmp_path / "runs.sqlite",
    )
    pd.testing.assert_series_equal(plain.equity, recorded.equity)
    pd.testing.assert_frame_equal(plain.fills, recorded.fills)


def test_stop_posted_to_the_api_cancels_a_busy_run_within_a_second(lab_server):
    """The engine runs on this (busy) thread; the stop arrives over HTTP through the runs DB."""
    db_path = lab_server.env["OST_LAB_RUNS"]
    engine = Engine(Flipper(), bars(None), initial_cash=10_000.0)  # endless feed
    rec = EngineRecorder(engine, name="endless replay", db=db_path)
    run_id = rec.start()
    posted: dict[str, float] = {}

    def operator() -> None:
        headers = lab_server.headers
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # wait until the dashboard sees it running
            status = requests.get(lab_server.api("ost-lab/api/status"), headers=headers).json()
            if any(r["id"] == run_id for r in status["running"]):
                break
            time.sleep(0.05)
        time.sleep(0.5)
        posted["t"] = time.monotonic()
        answer = requests.post(
            lab_server.api(f"ost-lab/api/runs/{run_id}/stop"),
            params={"wait_ms": 2000},
            headers=headers,
        )
        posted["acked"] = answer.json()["acked"]

    thread = threading.Thread(target=operator)
    thread.start()
    result = rec.run()  # blocks this thread until the stop arrives
    stopped_after = time.monotonic() - posted["t"]
    rec.finish()
    thread.join()
    assert result.status == "cancelled"
    assert stopped_after < 1.0
    assert posted["acked"] is True
    with RunsDB(db_path) as db:
        run = db.get_run(run_id)
        assert run["status"] == "cancelled"
        assert len(db.fills(run_id)) == len(result.fills) > 0  # what it had is recorded
    assert not math.isnan(result.equity.iloc[-1])


class Busy(Strategy):
    """Every kind of record: market round trips, brackets (held children, OCO exits), limit
    entries cancelled with their exits, fractional sizes and risk rejections."""

    def on_start(self) -> None:
        self.n = 0
        self.resting: list = []

    def on_bar(self, bar: Bar) -> None:
        self.n += 1
        k = self.n % 12
        if k == 1:
            self.buy(3.3, bar.symbol, tag="fast")
        elif k == 3 and self.position_of(bar.symbol, "fast"):
            self.sell(self.position_of(bar.symbol, "fast"), bar.symbol, tag="fast")
        elif k == 5:
            self.bracket(Side.BUY, 2.0, bar.symbol, take_profit=bar.close * 1.002,
                         stop_loss=bar.close * 0.998)  # fmt: skip
        elif k == 7:  # an entry that does not fill: cancelled below, with its exits
            c = bar.close
            entry, _, _ = self.bracket(
                Side.BUY, 1.0, bar.symbol, limit=c * 0.9, take_profit=c, stop_loss=c * 0.8
            )
            self.resting.append(entry)
        elif k == 9:
            for order in self.resting:
                self.cancel(order)
            self.resting.clear()
        elif k == 11:
            self.buy(10_000.0, bar.symbol)  # over max_order_qty: rejected


def _busy_engine(n: int | None) -> Engine:
    return Engine(
        Busy(),
        list(bars(n)) if n is not None else bars(None),
        initial_cash=1e6,
        commission=Commission(per_unit=0.013, minimum=0.35),
        risk=RiskEngine(RiskLimits(max_order_qty=1_000)),
    )


def _expected(engine: Engine) -> dict[str, list[tuple]]:
    """What the runs DB must hold for ``engine``'s run, written out from its own objects with
    the row-by-row formulas (money as nano-units, rounded half to even)."""

    def nano(x: float) -> int | None:
        return None if math.isnan(x) else round(x * 1_000_000_000)

    events = [e for e in engine.events if isinstance(e, OrderEvent)]
    fills = [e for e in engine.events if isinstance(e, FillEvent)]
    touched = sorted({e.order_id for e in engine.events} & engine.orders.keys())
    order_events = [
        (i, e.ts, e.order_id, e.status.name, e.reason or None) for i, e in enumerate(events)
    ]
    fill_rows = [
        (i, f.ts, f.order_id, f.symbol, f.signed_qty, nano(f.price), nano(f.commission),
         f.tag, f.fill_id or None)
        for i, f in enumerate(fills)
    ]  # fmt: skip
    orders = [
        (o.id, o.ts_init, o.strategy_id or None, o.symbol, o.side.name, o.qty, o.type.name,
         nano(o.limit_price), nano(o.stop_price), o.tif.name, o.tag or None,
         o.parent_id or None, o.status.name, o.filled_qty, nano(o.avg_fill_price))
        for o in map(engine.orders.__getitem__, touched)
    ]  # fmt: skip
    return {"order_events": order_events, "fills": fill_rows, "orders": orders}


def _stored(db: RunsDB, run_id: str) -> dict[str, list[tuple]]:
    """The raw rows (integers as stored) of a run's orders, order events and fills."""
    cols = {
        "order_events": "seq, ts_ns, order_id, status, reason",
        "fills": "seq, ts_ns, order_id, symbol, qty, price, commission, tag, venue_id",
        "orders": "order_id, ts_ns, strategy, symbol, side, qty, order_type, limit_price,"
        " stop_price, tif, tag, parent_id, status, filled_qty, avg_price",
    }
    key = {"order_events": "seq", "fills": "seq", "orders": "order_id"}
    return {
        table: db.conn.execute(
            f"SELECT {c} FROM {table} WHERE run_id = ? ORDER BY {key[table]}", (run_id,)
        ).fetchall()
        for table, c in cols.items()
    }


@pytest.mark.parametrize("mode", ["backtest", "sandbox"])
def test_the_runs_db_holds_exactly_what_the_engine_did(tmp_path, mode):
    """Every order event, fill and order, value for value: a backtest's written when it ends
    (column by column), a sandbox run's while it runs."""
    db_path = tmp_path / "runs.sqlite"
    engine = _busy_engine(4000)
    with EngineRecorder(engine, name="busy", mode=mode, db=db_path) as rec:
        assert rec.defer_records is (mode == "backtest")
        result = rec.run()
    expected = _expected(engine)
    assert len(expected["order_events"]) > 1000 and len(expected["fills"]) > 300
    reasons = {e[4] for e in expected["order_events"]} - {None}
    assert any("not filled" in r for r in reasons) and any("max_order_qty" in r for r in reasons)
    assert {o[6] for o in expected["orders"]} >= {"MARKET", "LIMIT", "STOP"}
    assert any(o[11] for o in expected["orders"])  # bracket children name their parent
    with RunsDB(db_path) as db:
        assert _stored(db, rec.run_id) == expected
        assert len(db.table(rec.run_id, "risk_events")) == len(result.rejections) > 0
        assert db.get_run(rec.run_id)["status"] == "completed"


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("mode", ["backtest", "sandbox"])
def test_a_running_run_shows_progress_equity_and_positions(tmp_path, mode):
    """While it runs, a backtest shows its heartbeat, progress, equity curve and positions
    (its orders and fills come when it ends); a sandbox run shows its fills as they happen."""
    db_path = tmp_path / "runs.sqlite"
    seen: dict[str, int] = {}

    def look(done: int, total: int | None) -> None:
        if done != 2000:
            return
        with RunsDB(db_path) as db:
            [run] = db.list_runs(status="running")

            def shown() -> bool:
                run.update(db.get_run(run["id"]))
                return (run["progress"] or 0) >= 0.5 and len(db.equity(run["id"])) >= 1000

            _wait_for(shown)  # the writer thread catches up with the paused engine
            seen["fills"] = len(db.fills(run["id"]))
            seen["positions"] = len(db.table(run["id"], "positions"))
            assert run["last_equity"] is not None and run["heartbeat_ns"] > run["started_ns"]

    engine = _busy_engine(4000)
    engine.progress = look
    engine.progress_every = 500
    with EngineRecorder(engine, name="watched", mode=mode, db=db_path) as rec:
        result = rec.run()
    assert seen["positions"] >= 1
    if mode == "backtest":
        assert seen["fills"] == 0
    else:
        assert seen["fills"] > 100
    with RunsDB(db_path) as db:
        assert len(db.fills(rec.run_id)) == len(result.fills)


def test_finish_writes_the_last_batch_itself_when_the_writer_thread_fails(tmp_path, monkeypatch):
    db_path = tmp_path / "runs.sqlite"
    real = RunsDB.write_prepared
    calls: list[str] = []

    def flaky(self, run_id, statements):
        """The writer thread's last batch fails after taking its first statement."""
        last = not isinstance(statements, list)  # handed over statement by statement
        calls.append(threading.current_thread().name)
        if last and threading.current_thread() is not threading.main_thread():
            next(iter(statements))
            raise sqlite3.OperationalError("disk I/O error")
        return real(self, run_id, statements)

    monkeypatch.setattr(RunsDB, "write_prepared", flaky)
    engine = Engine(Flipper(), list(bars(1000)), initial_cash=10_000.0)
    run_id, result = record(engine, name="retried", db=db_path)
    assert calls[-2:] == [f"ost_lab recorder {run_id}", threading.main_thread().name]
    with RunsDB(db_path) as db:
        assert db.get_run(run_id)["status"] == "completed"
        assert len(db.fills(run_id)) == len(result.fills) > 50


def test_failing_metrics_fail_the_run_and_are_raised(tmp_path):
    db_path = tmp_path / "runs.sqlite"
    engine = Engine(Flipper(), list(bars(500)), initial_cash=10_000.0)
    rec = EngineRecorder(engine, name="bad metrics", db=db_path)
    rec.start()
    result = rec.run()

    def metrics() -> dict:
        raise ArithmeticError("metrics bug")

    with pytest.raises(ArithmeticError, match="metrics bug"):
        rec.finish(metrics=metrics)
    with RunsDB(db_path) as db:
        run = db.get_run(rec.run_id)
        assert run["status"] == "failed" and "metrics bug" in run["error"]
        assert len(db.fills(rec.run_id)) == len(result.fills) > 0  # the records are kept
