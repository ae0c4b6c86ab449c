"""``BacktestResult``: what a replay produced, the same type for both strategy APIs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from ost_lab.core.metrics import performance, round_trips
from ost_lab.replay.data import BarData

__all__ = ["ORDERS_COLUMNS", "BacktestResult"]

#: Columns of :attr:`BacktestResult.orders`.
ORDERS_COLUMNS = (
    "id", "ts", "symbol", "side", "type", "qty", "limit", "stop", "filled_qty",
    "avg_fill_price", "status",
)  # fmt: skip


@dataclass
class BacktestResult:
    """Equity curve (at each bar close), fills (core ``FILLS_COLUMNS``), orders, and derived
    trades, positions and metrics (computed on first access)."""

    status: Literal["completed", "stopped", "cancelled"]
    equity: pd.Series
    make_fills: pd.DataFrame | Callable[[], pd.DataFrame]
    make_orders: Callable[[], pd.DataFrame]
    data: BarData
    params: dict[str, Any] = field(default_factory=dict)
    n_bars: int = 0

    @cached_property
    def fills(self) -> pd.DataFrame:
        """Every fill (core ``FILLS_COLUMNS``); a kernel replay's table is built on first
        access (for 10M bars with a fill every ~20 bars, about as long as the replay itself)."""
        src = self.make_fills
        return src() if callable(src) else src

    @cached_property
    def orders(self) -> pd.DataFrame:
        """Every order (``ORDERS_COLUMNS``), built on first access."""
        return self.make_orders()

    @cached_property
    def trades(self) -> pd.DataFrame:
        """Round trips (``core.metrics.round_trips``) with MFE/MAE from the bars."""
        return round_trips(self.fills, self._bars_frame())

    @cached_property
    def metrics(self) -> pd.Series:
        """``core.metrics.performance`` of the equity curve and fills."""
        return performance(self.equity, self.fills)

    @cached_property
    def positions(self) -> pd.DataFrame:
        """Net position per symbol (columns) after each bar close (equity index)."""
        idx = self.equity.index
        ts = idx.as_unit("ns").asi8 if isinstance(idx, pd.DatetimeIndex) else np.asarray(idx)
        out = {}
        for sym in self.data.symbols:
            f = self.fills[self.fills["symbol"] == sym]
            cum = np.cumsum(f["qty"].to_numpy())
            k = np.searchsorted(f["ts"].to_numpy(), ts, side="right")
            out[sym] = np.where(k > 0, cum[np.maximum(k - 1, 0)] if len(cum) else 0.0, 0.0)
        return pd.DataFrame(out, index=idx)

    @property
    def final_equity(self) -> float:
        """Last equity value."""
        return float(self.equity.iloc[-1]) if len(self.equity) else float("nan")

    def _bars_frame(self) -> pd.DataFrame:
        parts = []
        for sym, b in self.data.symbols.items():
            parts.append(
                pd.DataFrame({"symbol": sym, "high": b.high, "low": b.low}, index=b.ts_close)
            )
        return pd.concat(parts) if parts else pd.DataFrame(columns=["symbol", "high", "low"])

    def plot(self, symbol: str | None = None, *, widget: bool = False, **kwargs: Any) -> Any:
        """The backtest chart of ``ost_lab.widgets``: candles, volume, trade markers, equity and
        drawdown on one time axis, decimated for long histories. ``widget=True`` returns a live
        widget that shows full detail as you zoom in. (Loaded on call: replays need no Bokeh.)"""
        from ost_lab.widgets.chart import plot_result

        return plot_result(self, symbol, widget=widget, **kwargs)
