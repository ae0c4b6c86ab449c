"""Immutable market and order events. All timestamps are int nanoseconds since the Unix epoch (UTC).

Timestamp conventions (they are what makes "no look-ahead" checkable):

* ``Bar.ts`` is the time the bar *closed*, i.e. when its OHLCV became known. ``Bar.ts_open`` is
  when the bar's first trade could happen (defaults to ``ts``). A fill at a bar's open carries
  ``ts_open``; the strategy sees the bar at ``ts``.
* ``Tick.ts`` is the time of the quote/trade.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ost_lab.core.types import OrderStatus, Side

__all__ = ["Bar", "FillEvent", "MarketEvent", "OrderEvent", "Tick"]


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar of one symbol; ``ts`` is the close time (when it becomes visible)."""

    symbol: str
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    ts_open: int = -1

    def __post_init__(self) -> None:
        if self.ts_open < 0:
            object.__setattr__(self, "ts_open", self.ts)
        if self.ts_open > self.ts:
            raise ValueError("bar ts_open must not be after ts (the close time)")
        if not (self.low <= min(self.open, self.close) and self.high >= max(self.open, self.close)):
            raise ValueError(f"inconsistent OHLC for {self.symbol} at {self.ts}")


@dataclass(frozen=True, slots=True)
class Tick:
    """A trade or quote update. ``price`` is the last trade (or mid); bid/ask are optional (nan)."""

    symbol: str
    ts: int
    price: float
    size: float = 0.0
    bid: float = math.nan
    ask: float = math.nan


MarketEvent = Bar | Tick


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One state-machine transition of one order."""

    ts: int
    order_id: str
    status: OrderStatus
    prev_status: OrderStatus
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FillEvent:
    """One execution. ``qty`` is unsigned; ``signed_qty`` carries the side."""

    ts: int
    order_id: str
    symbol: str
    side: Side
    qty: float
    price: float
    commission: float = 0.0
    tag: str = ""
    fill_id: str = ""

    @property
    def signed_qty(self) -> float:
        """Quantity with the side's sign (+ for buys, - for sells)."""
        return float(self.side) * self.qty
