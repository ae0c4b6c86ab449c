"""Recording engine runs: what the engine did is what the runs database holds."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import requests

from ost_lab.core import Bar, Engine, Param, Strategy
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
