"""BacktestPanel: parameters -> strategy, background run marshalled onto the loop, result
tabs, recording link, cancel."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from ost_lab.replay import Backtest
from ost_lab.secmaster import Secmaster
from ost_lab.widgets.panel import BacktestPanel
from ost_lab.widgets.picker import InstrumentPicker
from ost_lab.widgets.threading import Marshal
from tests.widgets.strategies import Blocking, Flip, frame


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


def test_run_wait_fills_tabs(loop: asyncio.AbstractEventLoop) -> None:
    p = BacktestPanel(Flip, frame(300), record=False)
    res = p.run(wait=True, period=5, side="short")
    assert res.status == "completed" and p.result is res
    assert res.params == {"period": 5, "size": 10.0, "side": "short", "enabled": True}
    assert (res.fills["qty"].iloc[0]) < 0  # short first
    assert p.form.inputs["period"].value == 5
    metrics, box, trades, orders = p.tabs.children
    assert "sharpe" in metrics.value and "total_return" in metrics.value
    assert "<table" in trades.value and "mfe" in trades.value
    assert "FILLED" in orders.value
    assert type(box.children[0]).__name__ == "BokehModel"
    assert p.chart is not None and len(p.chart.buy_source.data["x"]) > 0
    assert p.progress.value == 1.0 and p.progress.bar_style == "success"
    assert p.status_text.startswith("completed")
    assert "not recorded" in p.link.value
    assert not p.run_button.disabled and p.cancel_button.disabled


def test_params_widgets_drive_strategy() -> None:
    p = BacktestPanel(Flip, frame(100), record=False)
    p.form.inputs["enabled"].value = False
    res = p.run(wait=True)
    assert len(res.fills) == 0 and "no trades" in p.tabs.children[2].value


def test_background_run_is_marshalled(loop: asyncio.AbstractEventLoop) -> None:
    p = BacktestPanel(Flip, frame(2000), record=False, marshal=Marshal(loop),
                      backtest={"symbol": "X"})  # fmt: skip
    assert p.run() is None  # returns at once
    p._thread.join(30)  # type: ignore[union-attr]
    assert p.result is None and p.status_text == "running"  # not applied off-thread
    loop.run_until_complete(asyncio.sleep(0))  # the kernel loop gets a turn
    assert p.result is not None and p.result.status == "completed"
    assert p.progress.value == 1.0 and p.tabs.children[0].value


def test_recorded_run_is_linked() -> None:
    calls: list[dict[str, Any]] = []

    def recorder(bt: Backtest, **kw: Any) -> tuple[str, Any]:
        calls.append(kw)
        params = {k: v for k, v in kw.items() if k not in ("name", "db", "control", "progress")}
        return "run-42", bt.run(control=kw["control"], progress=kw["progress"], **params)

    p = BacktestPanel(Flip, frame(100), recorder=recorder, runs_db="x.sqlite", name="flip")
    p.run(wait=True, period=3)
    assert p.run_id == "run-42" and 'data-run-id="run-42"' in p.link.value
    assert calls[0]["name"] == "flip" and calls[0]["db"] == "x.sqlite"
    assert calls[0]["period"] == 3 and calls[0]["control"] is p.control


def test_cancel_stops_background_run(loop: asyncio.AbstractEventLoop) -> None:
    Blocking.entered.clear()
    Blocking.release.clear()
    Blocking.bars_seen = 0
    p = BacktestPanel(Blocking, frame(5000), record=False, marshal=Marshal(loop))
    p.run()
    assert Blocking.entered.wait(30)
    assert p.running and not p.cancel_button.disabled
    p.cancel_button.click()
    Blocking.release.set()
    res = p.wait(30)
    assert res.status == "cancelled" and Blocking.bars_seen < 5000
    assert p.progress.bar_style == "warning" and p.status_text.startswith("cancelled")
    loop.run_until_complete(asyncio.sleep(0))  # the queued completion is a no-op now
    assert p.result is res


def test_errors_are_shown_and_raised() -> None:
    def boom(bt: Backtest, **kw: Any) -> tuple[str, Any]:
        raise RuntimeError("db locked")

    p = BacktestPanel(Flip, frame(50), recorder=boom)
    with pytest.raises(RuntimeError):
        p.run(wait=True)
    assert "db locked" in p.status.value and p.progress.bar_style == "danger"
    with pytest.raises(RuntimeError, match="in progress"):
        p._thread = type("T", (), {"is_alive": lambda self: True})()  # type: ignore[assignment]
        p.run()


def test_panel_with_picker(secmaster: Secmaster) -> None:
    pk = InstrumentPicker(secmaster)
    pk.select("AAPL")
    p = BacktestPanel(Flip, picker=pk, record=False)
    res = p.run(wait=True)
    assert list(res.data.symbols) == ["AAPL"] and res.n_bars == 1170


def test_real_recorder_records_the_run(tmp_path: Any) -> None:
    from ost_lab.dashboard.runs_db import RunsDB

    db = tmp_path / "runs.sqlite"
    p = BacktestPanel(Flip, frame(200), runs_db=db, name="panel-flip")
    res = p.run(wait=True, period=4)
    assert p.run_id and res.status == "completed"
    with RunsDB(db) as runs:
        run = runs.get_run(p.run_id)
        assert run["name"] == "panel-flip"
        assert len(runs.fills(p.run_id)) == len(res.fills)


def test_indicator_overlays_follow_params() -> None:
    def sma(bars: Any, params: dict[str, Any]) -> dict[str, Any]:
        import pandas as pd

        return {"sma": pd.Series(bars.close).rolling(params["period"]).mean().to_numpy()}

    p = BacktestPanel(Flip, frame(100), record=False, indicators=sma)
    p.run(wait=True, period=6)
    assert p.chart is not None and p.chart.indicator_names == ("sma",)
    vals = p.chart.bar_source.data["sma"]
    assert sum(v != v for v in vals) == 5  # NaN for the first period - 1 bars
