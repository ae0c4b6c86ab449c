"""Immutable market and order events. All timestamps are int nanoseconds since the Unix epoch (UTC).

Timestamp conventions (they are what makes "no look-ahead" checkable):

* ``Bar.ts`` is the time the bar *closed*, i.e. when its OHLCV became known. ``Bar.ts_open`` is
  when the bar's first trade could happen (defaults to ``ts``). A fill at a bar's open carries
  ``ts_open``; the strategy sees the bar at ``ts``.
* ``Tick.ts`` is the time of the quote/trade.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

from ost_lab.core.types import OrderStatus, Side

__all__ = ["Bar", "FillEvent", "MarketEvent", "OrderEvent", "Tick", "trusted_bars"]


class _BarFields(NamedTuple):
    symbol: str
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    ts_open: int = -1


class Bar(_BarFields):
    """One OHLCV bar of one symbol; ``ts`` is the close time (when it becomes visible).

    An immutable named tuple: the constructor validates (``ts_open`` defaults to ``ts``, OHLC
    must be consistent); array feeds that validated their columns once, vectorised, build bars
    with :func:`trusted_bars` at C speed instead.
    """

    __slots__ = ()

    def __new__(
        cls,
        symbol: str,
        ts: int,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float = 0.0,
        ts_open: int = -1,
    ) -> Bar:
        if ts_open < 0:
            ts_open = ts
        if ts_open > ts:
            raise ValueError("bar ts_open must not be after ts (the close time)")
        if not (low <= min(open, close) and high >= max(open, close)):
            raise ValueError(f"inconsistent OHLC for {symbol} at {ts}")
        return tuple.__new__(cls, (symbol, ts, open, high, low, close, volume, ts_open))


def trusted_bars(rows: Iterable[tuple[Any, ...]]) -> Iterator[Bar]:
    """Bars from already validated ``(symbol, ts, open, high, low, close, volume, ts_open)``
    rows, built at C speed without per-bar checks: for array feeds that validated their columns
    once, vectorised (see ``ost_lab.replay.data``)."""
    return map(_new_bar, rows)


_new_bar = partial(tuple.__new__, Bar)


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


class OrderEvent(NamedTuple):
    """One state-machine transition of one order (an immutable named tuple: cheap to make)."""

    ts: int
    order_id: str
    status: OrderStatus
    prev_status: OrderStatus
    reason: str = ""


class FillEvent(NamedTuple):
    """One execution. ``qty`` is unsigned; ``signed_qty`` carries the side. (An immutable
    named tuple: cheap to make.)"""

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


#: ``OrderEvent`` / ``FillEvent`` from a tuple of every field in order, built at C speed (no
#: Python-level constructor frame): for the simulated venue's hot path.
new_order_event = partial(tuple.__new__, OrderEvent)
new_fill_event = partial(tuple.__new__, FillEvent)
