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
    fills: pd.DataFrame
    make_orders: Callable[[], pd.DataFrame]
    data: BarData
    params: dict[str, Any] = field(default_factory=dict)
    n_bars: int = 0

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

    def plot(self, symbol: str | None = None) -> Any:
        """A Bokeh layout: price with entry/exit markers, and the equity curve below (inline
        resources; the full chart lives in ``ost_lab.widgets``)."""
        from bokeh.layouts import column
        from bokeh.plotting import figure
        from bokeh.resources import INLINE  # noqa: F401  (inline resources for notebooks)

        sym = symbol or next(iter(self.data.symbols))
        b = self.data.symbols[sym]
        t = pd.to_datetime(b.ts_open, utc=True)
        price = figure(x_axis_type="datetime", height=300, sizing_mode="stretch_width", title=sym)
        price.line(t, b.close, color="gray", legend_label="close")
        f = self.fills[self.fills["symbol"] == sym]
        ft = pd.to_datetime(f["ts"].to_numpy(), utc=True)
        buy = f["qty"].to_numpy() > 0
        price.scatter(ft[buy], f["price"].to_numpy()[buy], marker="triangle", color="green",
                      size=9, legend_label="buy")  # fmt: skip
        price.scatter(ft[~buy], f["price"].to_numpy()[~buy], marker="inverted_triangle",
                      color="red", size=9, legend_label="sell")  # fmt: skip
        eq = figure(x_axis_type="datetime", height=180, sizing_mode="stretch_width",
                    x_range=price.x_range, title="equity")  # fmt: skip
        eq.line(self.equity.index, self.equity.to_numpy(), color="navy")
        return column(price, eq, sizing_mode="stretch_width")
