"""Cross-check against backtesting.py (an independent engine) on its shipped GOOG daily bars:
SMA(10, 20) crossover, market orders at the next open, 0.2 % commission per fill, 10,000 cash,
whole shares, entries with all available funds (backtesting.py's default size). Trades (entry
and exit bars and prices, sizes) and the final equity must be equal, in both strategy APIs."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from ost_lab.replay import Backtest, BacktestResult
from ost_lab.replay.examples import SmaCross, sma_cross, sma_cross_state

bt = pytest.importorskip("backtesting")
from backtesting.lib import crossover  # noqa: E402
from backtesting.test import GOOG  # noqa: E402

FULL = 1.0 - sys.float_info.epsilon  # backtesting.py's default buy()/sell() size


def _sma(x: np.ndarray, n: int) -> pd.Series:
    return pd.Series(x).rolling(n).mean()


class BtCross(bt.Strategy):  # type: ignore[misc,name-defined]
    short = False

    def init(self) -> None:
        self.fast = self.I(_sma, self.data.Close, 10)
        self.slow = self.I(_sma, self.data.Close, 20)

    def next(self) -> None:
        if crossover(self.fast, self.slow):
            self.position.close()
            self.buy()
        elif crossover(self.slow, self.fast):
            self.position.close()
            if self.short:
                self.sell()


@pytest.fixture(scope="module", params=[False, True], ids=["long_only", "long_short"])
def reference(request: pytest.FixtureRequest) -> tuple[bool, pd.Series]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = bt.Backtest(GOOG, BtCross, cash=10_000, commission=0.002).run(short=request.param)
    return request.param, stats


def _trades(res: BacktestResult) -> pd.DataFrame:
    """ost_lab round trips as backtesting.py's columns (bar numbers from fill timestamps)."""
    ts_open = res.data.symbols["ASSET"].ts_open
    t = res.trades
    return pd.DataFrame(
        {
            "Size": np.where(t["side"] == "long", t["qty"], -t["qty"]).astype(int),
            "EntryBar": np.searchsorted(ts_open, t["entry_ts"].to_numpy()),
            "ExitBar": np.searchsorted(ts_open, t["exit_ts"].to_numpy()),
            "EntryPrice": t["entry_price"].to_numpy(),
            "ExitPrice": t["exit_price"].to_numpy(),
        }
    )


def _check(res: BacktestResult, stats: pd.Series) -> None:
    ref = stats["_trades"]
    ref = ref[ref["ExitBar"].notna()][["Size", "EntryBar", "ExitBar", "EntryPrice", "ExitPrice"]]
    ours = _trades(res)
    assert len(ours) == len(ref) > 20
    np.testing.assert_array_equal(ours["Size"], ref["Size"].astype(int))
    np.testing.assert_array_equal(ours["EntryBar"], ref["EntryBar"].astype(int))
    np.testing.assert_array_equal(ours["ExitBar"], ref["ExitBar"].astype(int))
    np.testing.assert_allclose(ours["EntryPrice"], ref["EntryPrice"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours["ExitPrice"], ref["ExitPrice"], rtol=0, atol=1e-9)
    assert res.final_equity == pytest.approx(stats["Equity Final [$]"], rel=1e-12)
    np.testing.assert_allclose(
        res.equity.to_numpy(), stats["_equity_curve"]["Equity"].to_numpy(), rtol=1e-12
    )


def test_strategy_class_matches_backtesting_py(reference: tuple[bool, pd.Series]) -> None:
    short, stats = reference
    res = Backtest(GOOG, SmaCross, cash=10_000, commission=0.002).run(short=short)
    _check(res, stats)


def test_kernel_matches_backtesting_py(reference: tuple[bool, pd.Series]) -> None:
    short, stats = reference
    res = Backtest(GOOG, sma_cross, cash=10_000, commission=0.002, state=sma_cross_state).run(
        params=[10, 20, float(short), FULL]
    )
    _check(res, stats)


def test_both_apis_give_identical_fills() -> None:
    cls = Backtest(GOOG, SmaCross, cash=10_000, commission=0.002).run(short=True)
    ker = Backtest(GOOG, sma_cross, cash=10_000, commission=0.002, state=sma_cross_state).run(
        params=[10, 20, 1.0, FULL]
    )
    cols = ["ts", "symbol", "qty", "price", "commission"]
    pd.testing.assert_frame_equal(cls.fills[cols], ker.fills[cols], check_exact=True)
    pd.testing.assert_series_equal(cls.equity, ker.equity, check_exact=True)
    assert cls.metrics["n_trades"] == ker.metrics["n_trades"] == len(cls.trades)
