"""Recording replays (both strategy APIs) into the runs database."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from ost_lab.core import RunControl
from ost_lab.dashboard.recorder import record_backtest
from ost_lab.dashboard.runs_db import RunsDB
from ost_lab.replay import Backtest
from ost_lab.replay.examples import SmaCross, sma_cross, sma_cross_state

KERNEL_PARAMS = [10.0, 20.0, 1.0, 0.5]


def _walk(n: int, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    idx = pd.date_range("2024-01-02 14:30", periods=n, freq="1min", tz="UTC")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
            "volume": 1000.0,
        },
        index=idx,
    )


def _record_sma(api, db_path):
    """Record the SMA crossover on 3,000 bars, as a kernel or as a Strategy class."""
    if api == "kernel":
        bt = Backtest(_walk(3000), sma_cross, state=sma_cross_state, commission=0.001)
        return record_backtest(bt, name="kernel sma", db=db_path, params=KERNEL_PARAMS)
    bt = Backtest(_walk(3000), SmaCross, commission=0.001)
    return record_backtest(bt, name="class sma", db=db_path, fast=10, slow=20)


@pytest.mark.parametrize("api", ["strategy class", "kernel"])
def test_recorded_replay_matches_its_result(tmp_path, api):
    db_path = tmp_path / "runs.sqlite"
    run_id, result = _record_sma(api, db_path)
    with RunsDB(db_path) as db:
        run = db.get_run(run_id)
        assert run["status"] == "completed" and run["progress"] == 1.0
        assert run["instruments"] == ["ASSET"]
        assert run["data_start_ns"] == _walk(3000).index[0].value
        [strategy] = run["strategies"]
        if api == "kernel":
            assert strategy["class"] == "sma_cross"
            assert strategy["params"] == {"params": KERNEL_PARAMS}
        else:
            assert strategy["class"] == "SmaCross"
            assert strategy["params"] == {"fast": 10, "slow": 20}
        assert run["metrics"]["total_return"] == pytest.approx(result.metrics["total_return"])
        fills = db.fills(run_id)
        assert len(fills) == len(result.fills) > 10
        assert (fills["ts_ns"].to_numpy() == result.fills["ts"].to_numpy()).all()
        assert np.array_equal(fills["qty"].to_numpy(), result.fills["qty"].to_numpy())
        assert np.allclose(fills["price"], result.fills["price"], rtol=0, atol=1e-9)
        assert len(db.orders(run_id)) == len(result.orders)
        equity = db.equity(run_id)
        assert len(equity) == len(result.equity)
        assert np.allclose(equity.to_numpy(), result.equity.to_numpy(), rtol=0, atol=1e-9)


def test_long_replays_keep_a_bounded_equity_curve(tmp_path):
    bt = Backtest(_walk(5000), sma_cross, state=sma_cross_state)
    run_id, result = record_backtest(
        bt, name="bounded", db=tmp_path / "r.sqlite", max_equity_points=700, params=KERNEL_PARAMS
    )
    with RunsDB(tmp_path / "r.sqlite") as db:
        equity = db.equity(run_id)
    stride = -(-5000 // 700)  # every 8th point, and the last
    assert len(equity) == -(-5000 // stride) + 1 <= 701
    assert equity.index[-1] == result.equity.index[-1]


def test_a_stop_command_cancels_a_recorded_replay(tmp_path):
    """The stop travels through the runs database, as it does from the dashboard."""
    db_path = tmp_path / "runs.sqlite"
    control = RunControl()
    started = threading.Event()

    def progress(done: int, total: int | None) -> None:
        started.set()
        # hold the replay at its first progress point until the stop has come through the
        # database (however fast the replay runs, it cannot finish first)
        deadline = time.monotonic() + 30
        while not control.cancel_requested and time.monotonic() < deadline:
            time.sleep(0.01)

    def operator() -> None:
        started.wait(30)
        with RunsDB(db_path) as db:
            [run] = db.list_runs(status="running")
            db.post_command(run["id"], "stop")

    threading.Thread(target=operator).start()
    bt = Backtest(_walk(30_000), SmaCross)
    run_id, result = record_backtest(
        bt, name="to stop", db=db_path, control=control, progress=progress, chunk_bars=500
    )
    assert result.status == "cancelled"
    assert result.n_bars < 30_000 or len(result.equity) < 30_000
    with RunsDB(db_path) as db:
        assert db.get_run(run_id)["status"] == "cancelled"
        assert db.pending_commands(run_id) == []


def test_a_failing_replay_is_recorded_as_failed(tmp_path):
    class Broken(SmaCross):
        def on_bar(self, bar):  # type: ignore[no-untyped-def]
            raise RuntimeError("strategy bug")

    with pytest.raises(RuntimeError, match="strategy bug"):
        record_backtest(Backtest(_walk(100), Broken), name="broken", db=tmp_path / "r.sqlite")
    with RunsDB(tmp_path / "r.sqlite") as db:
        [run] = db.list_runs()
    assert run["status"] == "failed" and "strategy bug" in run["error"]


@pytest.mark.parametrize("api", ["strategy class", "kernel"])
def test_a_recorded_replay_stores_its_orders_and_fills_exactly(tmp_path, api):
    db_path = tmp_path / "runs.sqlite"
    run_id, result = _record_sma(api, db_path)

    def nano(x: float) -> int | None:
        return None if np.isnan(x) else round(float(x) * 1_000_000_000)

    f, o = result.fills, result.orders
    fills = [
        (i, int(t), None, s, float(q), nano(p), nano(c), tag)
        for i, (t, s, q, p, c, tag) in enumerate(
            zip(f["ts"], f["symbol"], f["qty"], f["price"], f["commission"], f["tag"], strict=True)
        )
    ]
    orders = sorted(
        (str(r["id"]), int(r["ts"]), r["symbol"], "BUY" if r["side"] > 0 else "SELL",
         float(r["qty"]), str(r["type"]).upper(), nano(r["limit"]), nano(r["stop"]),
         str(r["status"]), float(r["filled_qty"]), nano(r["avg_fill_price"]))
        for r in o.to_dict("records")
    )  # fmt: skip
    with RunsDB(db_path) as db:
        got_fills = db.conn.execute(
            "SELECT seq, ts_ns, order_id, symbol, qty, price, commission, tag FROM fills"
            " WHERE run_id = ? ORDER BY seq",
            (run_id,),
        ).fetchall()
        got_orders = db.conn.execute(
            "SELECT order_id, ts_ns, symbol, side, qty, order_type, limit_price, stop_price,"
            " status, filled_qty, avg_price FROM orders WHERE run_id = ? ORDER BY order_id",
            (run_id,),
        ).fetchall()
    assert got_fills == fills and len(fills) > 10
    assert got_orders == orders
