"""Tick replays from secmaster-style tick columns (trades and quotes)."""

from __future__ import annotations

import numpy as np
from replay_helpers import script, spec

from ost_lab.core import Strategy, Tick
from ost_lab.replay import Backtest

T0 = 1_700_000_000 * 10**9


def _trades() -> dict[str, np.ndarray]:
    return {
        "ts_event": T0 + np.array([0, 1, 1, 5, 9]) * 1000,
        "price": np.array([100.0, 100.5, 99.8, 99.4, 101.0]),
        "size": np.array([10.0, 5.0, 7.0, 3.0, 1.0]),
    }


def test_kernel_on_trades_fills_at_later_ticks() -> None:
    # market at tick 0 -> the next trade (100.5); buy limit 99.5 at tick 0 -> first trade at or
    # below it (99.4, tick 3); both stamped with the tick's time
    orders = spec(0, 1, 2) + spec(0, 1, 1, 1, limit=99.5)
    res = Backtest(_trades(), script, symbol="ES").run(params=orders)
    assert res.fills["price"].tolist() == [100.5, 99.4]
    assert res.fills["ts"].tolist() == [T0 + 1000, T0 + 5000]
    assert len(res.equity) == 5


class _BuyOnce(Strategy):
    def on_tick(self, tick: Tick) -> None:
        if not self.open_orders() and self.position == 0:
            self.buy(1, tick.symbol, limit=99.5)


def test_strategy_on_trades_and_quotes() -> None:
    res = Backtest(_trades(), _BuyOnce, symbol="ES").run()
    assert res.fills["price"].tolist() == [99.4]
    quotes = {
        "ts_event": T0 + np.array([0, 1, 2]) * 1000,
        "bid_px": np.array([99.0, 99.2, 99.3]),
        "ask_px": np.array([99.6, 99.5, 99.4]),
    }
    res = Backtest(quotes, _BuyOnce, symbol="ES").run()
    assert res.fills["price"].tolist() == [99.5]  # buys trade at the ask once it reaches 99.5
