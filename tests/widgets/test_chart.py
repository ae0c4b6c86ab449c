"""The chart sends a bounded number of points per view, full detail when zoomed in, markers
with entry/exit, equity/drawdown, and streams incrementally (also from other threads)."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pandas as pd
import pytest
from bokeh.embed import json_item

from ost_lab.widgets.chart import BacktestChart, chart_widget, plot_result
from ost_lab.widgets.threading import Marshal

T0 = 1_700_000_000_000_000_000
MIN = 60_000_000_000


def _series(n: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(2)
    ts = T0 + np.arange(n, dtype=np.int64) * MIN
    c = 100 + np.cumsum(rng.normal(size=n) * 0.05)
    return ts, c, c + 0.2, c - 0.2, c, np.full(n, 10.0)


@pytest.fixture(scope="module")
def big() -> BacktestChart:
    ts, o, h, lo, c, v = _series(2_000_000)
    eq = pd.Series(1e5 + np.cumsum(np.ones(len(ts))), index=pd.to_datetime(ts, utc=True))
    fills = pd.DataFrame({"ts": ts[::1000], "symbol": "X", "qty": np.tile([5.0, -5.0], 1000),
                          "price": c[::1000], "commission": 1.0, "tag": ""})  # fmt: skip
    return BacktestChart(ts, o, h, lo, c, v, fills=fills, equity=eq, max_points=2000)


def test_two_million_bars_send_at_most_max_points(big: BacktestChart) -> None:
    assert big.bars.n == 2_000_000
    assert len(big.bar_source.data["x"]) <= 2000
    assert len(big.equity_source.data["x"]) <= 2000
    assert big.mode == "line"
    # the serialized document really carries only the decimated columns
    payload = json_item(big.layout)
    assert len(str(payload)) < 2_000_000


def test_zoom_in_shows_full_resolution(big: BacktestChart) -> None:
    ts = np.asarray(big.bars["x"])
    big.x_range.start = float(ts[500_000])  # as a browser range change would
    big.x_range.end = float(ts[500_120])
    data = big.bar_source.data
    assert (np.asarray(data["count"]) == 1).all()
    view = (np.asarray(data["x"]) >= ts[500_000]) & (np.asarray(data["x"]) <= ts[500_120])
    assert view.sum() == 121
    np.testing.assert_array_equal(np.asarray(data["high"])[view], big.bars["high"][500_000:500_121])
    assert big.mode == "candle"
    big.set_range(int(T0), int(T0 + 2_000_000 * MIN))
    assert len(big.bar_source.data["x"]) <= 2000 and big.mode == "line"


def test_markers_entry_exit_and_hover() -> None:
    ts, o, h, lo, c, v = _series(100)
    fills = pd.DataFrame({"ts": ts[[10, 20, 30, 40]], "symbol": "X",
                          "qty": [10.0, -10.0, -5.0, 5.0], "price": c[[10, 20, 30, 40]],
                          "commission": 0.5, "tag": ""})  # fmt: skip
    ch = BacktestChart(ts, o, h, lo, c, v, fills=fills, indicators={"sma": c * 0 + 100})
    assert list(ch.buy_source.data["kind"]) == ["entry", "exit"]
    assert list(ch.sell_source.data["kind"]) == ["exit", "entry"]
    assert ch.mode == "candle"
    assert list(ch.bar_source.data["sma"]) == [100.0] * 100
    hovers = [t for f in ch.figures for t in f.tools if type(t).__name__ == "HoverTool"]
    assert hovers and any(ch.buys in h.renderers for h in hovers)


def test_drawdown_pane() -> None:
    ts, o, h, lo, c, v = _series(4)
    eq = pd.Series([100.0, 120.0, 90.0, 130.0], index=pd.to_datetime(ts, utc=True))
    ch = BacktestChart(ts, o, h, lo, c, v, equity=eq)
    np.testing.assert_allclose(ch.equity_source.data["drawdown"], [0, 0, -0.25, 0])


def test_stream_on_owner_thread_follows_tail() -> None:
    ts, o, h, lo, c, v = _series(50)
    ch = BacktestChart(ts[:40], o[:40], h[:40], lo[:40], c[:40], v[:40])
    ch.stream_bars(ts[40:], o[40:], h[40:], lo[40:], c[40:], v[40:])
    assert ch.bars.n == 50 and len(ch.bar_source.data["x"]) == 50
    assert ch.view()[1] == pytest.approx(ts[-1] / 1e6)


def test_stream_from_thread_buffers_until_loop_runs() -> None:
    loop = asyncio.new_event_loop()
    try:
        ts, o, h, lo, c, v = _series(30)
        ch = BacktestChart(ts[:10], o[:10], h[:10], lo[:10], c[:10], v[:10],
                           marshal=Marshal(loop))  # fmt: skip

        def produce() -> None:
            for i in range(10, 30):
                ch.stream_bars(ts[i : i + 1], o[i : i + 1], h[i : i + 1], lo[i : i + 1],
                               c[i : i + 1], v[i : i + 1])  # fmt: skip
            ch.stream_equity(ts[29], 1e5)

        t = threading.Thread(target=produce)
        t.start()
        t.join()
        assert ch.bars.n == 10  # nothing touched off the kernel thread
        loop.run_until_complete(asyncio.sleep(0))
        assert ch.bars.n == 30 and len(ch.bar_source.data["x"]) == 30
        assert ch.equity.n == 1
    finally:
        loop.close()


def test_widget_and_result_plot() -> None:
    from ost_lab.replay import Backtest
    from tests.widgets.strategies import Flip, frame

    res = Backtest(frame(200), Flip).run()
    layout = plot_result(res)
    assert len(layout.children) == 4
    w = plot_result(res, widget=True)
    assert type(w).__name__ == "BokehModel"
    ch = BacktestChart.from_result(res)
    assert len(ch.buy_source.data["x"]) + len(ch.sell_source.data["x"]) == len(res.fills)
    assert type(chart_widget(ch)).__name__ == "BokehModel"


def test_bar_width_ignores_session_gaps() -> None:
    ts, o, h, lo, c, v = _series(20)
    ts = ts.copy()
    ts[10:] += 1000 * MIN  # overnight gap
    ch = BacktestChart(ts, o, h, lo, c, v)
    w = np.asarray(ch.bar_source.data["w"])
    assert w.max() == pytest.approx(60_000 * 0.8)
