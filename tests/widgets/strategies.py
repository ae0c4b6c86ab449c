"""Small strategies and data for widget tests."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from ost_lab.core.events import Bar
from ost_lab.core.strategy import Param, Strategy


def frame(n: int, seed: int = 3) -> pd.DataFrame:
    """``n`` one-minute OHLCV bars."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-01-02 14:30", periods=n, freq="1min", tz="UTC")
    c = 100 + np.cumsum(rng.normal(size=n) * 0.2)
    return pd.DataFrame({"open": c, "high": c + 0.3, "low": c - 0.3, "close": c,
                         "volume": 1000.0}, index=idx)  # fmt: skip


class Flip(Strategy):
    """Long for ``period`` bars, flat for ``period`` bars."""

    period = Param(10, min=1, max=100, doc="bars per phase")
    size = Param(10.0, min=1.0, max=1000.0, step=1.0, doc="shares")
    side = Param("long", choices=["long", "short"])
    enabled = Param(True)

    def on_bar(self, bar: Bar) -> None:
        n = len(self.data[bar.symbol])
        on = self.enabled and (n // self.period) % 2 == 0
        q = self.size if self.side == "long" else -self.size
        self.target_position(bar.symbol, q if on else 0)


class Blocking(Strategy):
    """Blocks on its first bar until ``release`` is set (to cancel a run mid-way)."""

    entered = threading.Event()
    release = threading.Event()
    bars_seen = 0

    def on_bar(self, bar: Bar) -> None:
        type(self).bars_seen += 1
        if not type(self).entered.is_set():
            type(self).entered.set()
            type(self).release.wait(30)
