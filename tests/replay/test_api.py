"""Public surface: inputs (DataFrame, dict, secmaster Bars/MultiBars), result contents,
progress, cancellation between chunks, plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from replay_helpers import bars, script, spec

from ost_lab.core import FILLS_COLUMNS, RunControl, Strategy
from ost_lab.core.events import Bar
from ost_lab.replay import Backtest, BacktestResult
from ost_lab.replay.broker import submit_fraction
from ost_lab.replay.examples import SmaCross, sma_cross, sma_cross_state
from ost_lab.replay.result import ORDERS_COLUMNS
from ost_lab.secmaster.reader import Bars, MultiBars


def _walk(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    c = 100 + np.cumsum(rng.normal(0, 0.5, n))
    o = np.concatenate([[100.0], c[:-1]])
    idx = pd.date_range("2024-01-02 14:30", periods=n, freq="min", tz="UTC")
    return pd.DataFrame(
        {
            "open": o,
            "high": np.maximum(o, c) + 0.1,
            "low": np.minimum(o, c) - 0.1,
            "close": c,
            "volume": 1000.0,
        },
        index=idx,
    )


P = [10.0, 20.0, 1.0, 0.5]


def test_result_contents() -> None:
    df = _walk(2000)
    res = Backtest(df, sma_cross, state=sma_cross_state, commission=0.001).run(params=P)
    assert isinstance(res, BacktestResult) and res.status == "completed"
    assert list(res.fills.columns) == list(FILLS_COLUMNS)
    assert list(res.orders.columns) == list(ORDERS_COLUMNS)
    assert len(res.equity) == len(df) and res.equity.index.tz is not None
    # equity = cash + position x close: rebuild it from the fills independently
    f = res.fills
    pos = res.positions["ASSET"].to_numpy()
    ts = res.equity.index.as_unit("ns").asi8
    cash = 100_000.0 - np.array(
        [(f["qty"] * f["price"] + f["commission"])[f["ts"].to_numpy() <= t].sum() for t in ts]
    )
    np.testing.assert_allclose(res.equity.to_numpy(), cash + pos * df["close"].to_numpy())
    assert res.metrics["n_fills"] == len(f) and res.metrics["n_trades"] == len(res.trades)


def test_secmaster_bars_and_multibars_are_accepted() -> None:
    df = _walk(300)
    ts = df.index.as_unit("ns").asi8
    cols = [df[c].to_numpy() for c in ("open", "high", "low", "close")]
    b = Bars("XYZ", "1m", ts, *cols, df["volume"].to_numpy().astype(np.int64))
    r1 = Backtest(b, SmaCross).run(fast=5, slow=15)
    r2 = Backtest(df, SmaCross, symbol="XYZ").run(fast=5, slow=15)
    pd.testing.assert_frame_equal(r1.fills, r2.fills)
    assert set(r1.fills["symbol"]) == {"XYZ"}
    two = MultiBars(
        ["A", "B"],
        "1m",
        ts,
        *[np.stack([x, x * 2], axis=1) for x in cols],
        np.stack([df["volume"].to_numpy().astype(np.int64)] * 2, axis=1),
        np.ones((len(ts), 2), dtype=bool),
    )
    res = Backtest(two, SmaCross).run(fast=5, slow=15)
    assert set(res.positions.columns) == {"A", "B"}


class _Pair(Strategy):
    """Buys A and sells B on the first bar of each."""

    def on_bar(self, bar: Bar) -> None:
        if self.position_of(bar.symbol) == 0 and not self.open_orders(bar.symbol):
            (self.buy if bar.symbol == "A" else self.sell)(10, bar.symbol)


def test_dict_of_frames_multi_instrument() -> None:
    a, b = _walk(50, 1), _walk(50, 2)
    res = Backtest({"A": a, "B": b}, _Pair).run()
    assert res.fills.groupby("symbol")["qty"].sum().to_dict() == {"A": 10.0, "B": -10.0}
    assert res.fills.set_index("symbol")["price"].to_dict() == {
        "A": a["open"].iloc[1],
        "B": b["open"].iloc[1],
    }
    with pytest.raises(ValueError, match="one symbol"):
        Backtest({"A": a, "B": b}, sma_cross).run(params=P)


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel", "strategy"])
def test_progress_and_cancel_between_chunks(kernel: bool) -> None:
    df = _walk(5000)
    strat = sma_cross if kernel else SmaCross
    seen: list[tuple[int, int]] = []
    ctl = RunControl()

    def on_chunk(done: int, total: int) -> None:
        seen.append((done, total))
        if done >= 2000:
            ctl.cancel()

    bt = Backtest(df, strat, state=sma_cross_state)
    kw = {"params": P} if kernel else {}
    res = bt.run(control=ctl, on_chunk=on_chunk, chunk_bars=1000, **kw)
    assert res.status == "cancelled"
    assert seen[:2] == [(1000, 5000), (2000, 5000)]
    assert len(res.equity) == 2000
    full: list[tuple[int, int]] = []
    res = bt.run(progress=lambda d, t: full.append((d, t)), chunk_bars=1000, **kw)
    assert res.status == "completed" and full[-1] == (5000, 5000)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="fill_timing"):
        Backtest(_walk(10), SmaCross, fill_timing="close")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Backtest(_walk(10), object()).run()
    with pytest.raises(ValueError, match="increasing"):
        Backtest(_walk(10).iloc[::-1], SmaCross)


def test_plot_returns_a_bokeh_layout() -> None:
    pytest.importorskip("bokeh")
    from bokeh.models import LayoutDOM

    df = bars([(100, 101, 99, 100, 1e6)] * 3)
    res = Backtest(df, script).run(params=spec(0, 1, 1))
    assert isinstance(res.plot(), LayoutDOM)


@pytest.mark.parametrize("short", [False, True])
def test_fixed_units_sma_cross_both_apis(short: bool) -> None:
    # units > 0: every entry is `units` at the next open, whatever the funds; exits close
    df = _walk(3000, seed=4)
    kw = {"cash": 1_000.0, "commission": 0.001, "slippage": 1.0}
    ker = Backtest(df, sma_cross, state=sma_cross_state, **kw).run(
        params=[10, 20, float(short), 0.5, 7.0]
    )
    cls = Backtest(df, SmaCross, **kw).run(short=short, units=7.0)
    cols = ["ts", "qty", "price", "commission"]
    pd.testing.assert_frame_equal(ker.fills[cols], cls.fills[cols], check_exact=True)
    pd.testing.assert_series_equal(ker.equity, cls.equity, check_exact=True)
    # independent: crossings of pandas' rolling means, traded at the next bar's open
    f, s = df["close"].rolling(10).mean(), df["close"].rolling(20).mean()
    up = ((f.shift() < s.shift()) & (f > s)).to_numpy()[:-1]
    down = ((f.shift() > s.shift()) & (f < s)).to_numpy()[:-1]
    want: list[float] = []
    pos = 0.0
    for i in range(len(df) - 1):
        if up[i]:
            want.append(-pos + 7.0 if pos < 0 else 7.0)
        elif down[i] and (pos > 0 or short):
            want.append(-pos - (7.0 if short else 0.0))
        else:
            continue
        pos += want[-1]
    got = ker.fills.groupby("ts")["qty"].sum().tolist()
    assert got == want
    assert len(want) > 100
    slip = np.sign(ker.fills["qty"]) * 1e-4 + 1.0
    opens = df["open"].reindex(pd.DatetimeIndex(ker.fills["ts"], tz="UTC")).to_numpy()
    np.testing.assert_array_equal(ker.fills["price"].to_numpy(), opens * slip)


def test_fraction_order_with_a_side_other_than_plus_or_minus_one_is_refused() -> None:
    class Sideways(Strategy):
        def on_bar(self, bar: Bar) -> None:
            submit_fraction(self, 0, 0.5)

    df = bars([(100, 101, 99, 100, 1e6), (100, 101, 99, 100, 1e6)])
    with pytest.raises(ValueError, match=r"side must be \+1 \(buy\) or -1 \(sell\), got 0"):
        Backtest(df, Sideways).run()
