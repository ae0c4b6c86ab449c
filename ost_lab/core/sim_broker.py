"""A simulated broker: matches working orders against bars/ticks with :mod:`core.matching`.

Used by replay (over history) and sandbox (over a live feed), so both fill the same way. The
replay package may swap the Python loop for numba kernels built from the same matching rules.

Fill timing (explicit, see docs/core.md):

* ``"next_open"`` (default): an order submitted while bar t is handled is first matched against
  bar t+1; a market order fills at bar t+1's open (fill ts = ``bar.ts_open``).
* ``"close"``: a MARKET order submitted in ``on_bar(t)`` fills at once at bar t's close (fill ts
  = bar t's ts). Other types still start working with bar t+1.

Ticks are matched as a bar with open = high = low = close = the tick price (``ask`` for buys and
``bid`` for sells when present).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from ost_lab.core import matching
from ost_lab.core.broker import BrokerEvent
from ost_lab.core.events import Bar, MarketEvent, new_fill_event
from ost_lab.core.orders import Order
from ost_lab.core.types import TERMINAL_STATUSES as _TERMINAL
from ost_lab.core.types import (
    Instrument,
    OrderType,
    TimeInForce,
    TrailingOffsetType,
    members_of,
)

# enum members read on hot paths (see members_of)
_OT = members_of(OrderType)
_TIF = members_of(TimeInForce)
_TRAIL = members_of(TrailingOffsetType)

__all__ = ["Commission", "FillTiming", "SimulatedBroker"]

FillTiming = Literal["next_open", "close"]

_IMMEDIATE = frozenset({_TIF.IOC, _TIF.FOK})
_SLIPPED = frozenset({_OT.MARKET, _OT.STOP, _OT.MARKET_IF_TOUCHED, _OT.TRAILING_STOP})


@dataclass(frozen=True, slots=True)
class Commission:
    """Commission per fill: ``max(minimum, per_unit * qty + bps/1e4 * notional)``."""

    per_unit: float = 0.0
    bps: float = 0.0
    minimum: float = 0.0

    def __call__(self, qty: float, price: float, multiplier: float = 1.0) -> float:
        fee = self.per_unit * qty + self.bps * 1e-4 * qty * price * multiplier
        return max(self.minimum, fee) if fee > 0 or self.minimum > 0 else 0.0


class SimulatedBroker:
    """Implements :class:`~ost_lab.core.broker.Broker` with simulated fills."""

    #: Intrabar path assumed by the fill rules (``matching.PESSIMISTIC`` / ``BAR_DIRECTION``).
    intrabar: int = matching.PESSIMISTIC
    #: Order latency: an order submitted at ``ts`` is matched only against market events that
    #: start at or after ``ts + latency_ns`` (and a ``close``-timing market order does not fill
    #: at submission).
    latency_ns: int = 0

    def __init__(
        self,
        instruments: Mapping[str, Instrument] | None = None,
        *,
        fill_timing: FillTiming = "next_open",
        commission: Commission | None = None,
        slippage_ticks: float = 0.0,
        max_volume_fraction: float = 0.0,
    ) -> None:
        if fill_timing not in ("next_open", "close"):
            raise ValueError(f"unknown fill_timing {fill_timing!r}")
        self.instruments: dict[str, Instrument] = dict(instruments or {})
        self.fill_timing: FillTiming = fill_timing
        self.commission = commission or Commission()
        self.slippage_ticks = float(slippage_ticks)
        self.max_volume_fraction = float(max_volume_fraction)
        self._working: dict[str, Order] = {}
        self._last: dict[str, MarketEvent] = {}  # the latest event of each symbol
        self._events: list[BrokerEvent] = []
        self._fill_seq = 0
        self._arrival: dict[str, int] = {}  # order id -> arrival ts (latency_ns > 0 only)

    @property
    def event_queue(self) -> list[BrokerEvent]:
        """The live list events are queued in (never rebound): empty means nothing to drain."""
        return self._events

    # ------------------------------------------------------------ protocol
    def submit(self, order: Order, ts: int) -> None:
        """Accept the order; in ``close`` timing fill a market order at the last close now."""
        events = self._events
        events += order.submit_accept(ts)
        otype = order.type
        if otype is _OT.TRAILING_STOP and math.isnan(order.stop_price):
            last = self._last_price(order.symbol)
            if last is not None:
                order.stop_price = self._trail_init(order, last)
        if self.latency_ns > 0:
            self._arrival[order.id] = ts + self.latency_ns
        elif otype is _OT.MARKET and self.fill_timing == "close":
            last = self._last_price(order.symbol)
            if last is not None:
                self._fill_on_submit(order, ts, last)
                return
        self._working[order.id] = order

    def _fill_on_submit(self, order: Order, ts: int, price: float) -> None:
        """Fill a ``close``-timing market order at ``price`` (the last close) as it arrives."""
        self._fill(order, ts, order.leaves_qty, price)

    def cancel(self, order: Order, ts: int) -> None:
        """Cancel at once (the simulated venue confirms immediately)."""
        if self._working.pop(order.id, None) is not None and order.is_open:
            self._events.append(order.cancel(max(ts, order.ts_last)))

    def modify(
        self,
        order: Order,
        ts: int,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
    ) -> None:
        """Apply a modification at once; rejected modifications raise ``ValueError``."""
        if order.id not in self._working:
            raise ValueError(f"order {order.id} is not working")
        self._events.append(order.modify(max(ts, order.ts_last), qty, limit_price, stop_price))

    def drain_events(self) -> list[BrokerEvent]:
        """Events since the last call."""
        out = self._events.copy()
        self._events.clear()
        return out

    def working_orders(self) -> list[Order]:
        """Orders currently working, in submission order."""
        return list(self._working.values())

    def idle_shortcut(
        self,
    ) -> tuple[Mapping[str, Order], dict[str, MarketEvent], Callable[[MarketEvent], None]] | None:
        """``(working orders, latest event per symbol, match)``, the first two live, for a
        caller that feeds many events: :meth:`on_market_data` is ``latest[event.symbol] =
        event`` and then, while an order works, ``match(event)``; the caller may do both itself
        and save a call per event. None when a subclass changes :meth:`on_market_data` (no
        shortcut then)."""
        if type(self).on_market_data is not SimulatedBroker.on_market_data:
            return None
        return self._working, self._last, self._match_event

    def on_market_data(self, event: MarketEvent) -> None:
        """Match working orders of the event's symbol against it (O(1) when none works)."""
        self._last[event.symbol] = event
        if self._working:
            self._match_event(event)

    def _match_event(self, event: MarketEvent) -> None:
        sym = event.symbol
        is_bar = False
        if isinstance(event, Bar):
            is_bar = True
            _, ts_close, o, h, lo, c, volume, ts_open = event  # Bar's field order
            buy_px = sell_px = math.nan
        else:
            o = h = lo = c = event.price
            ts_open = ts_close = event.ts
            volume = event.size
            buy_px, sell_px = event.ask, event.bid
        arrival = self._arrival
        working = self._working
        if len(working) == 1:  # the common case: no list comprehension frame
            orders = list(working.values())
            if orders[0].symbol != sym:
                return
        else:
            orders = [x for x in working.values() if x.symbol == sym]
        if len(orders) > 1 and is_bar:  # in the order the bar reaches them (ties as sent)
            path = self.intrabar
            orders.sort(key=lambda x: _rank(x, o, h, lo, c, path))
        oco_hit: set[str] | None = None  # OCO partners of orders that filled on this event
        for order in orders:
            if arrival and arrival.get(order.id, ts_open) > ts_open:
                continue  # not at the venue yet
            if oco_hit is not None and order.id in oco_hit:
                continue  # its partner traded first: the engine cancels it on that fill
            filled = order.filled_qty
            self._match(order, o, h, lo, c, ts_open, ts_close, volume, buy_px, sell_px)
            if order.oco_ids and order.filled_qty > filled:
                oco_hit = set(order.oco_ids) if oco_hit is None else oco_hit | set(order.oco_ids)
            if order.status in _TERMINAL:
                del working[order.id]
                if arrival:
                    arrival.pop(order.id, None)

    # ------------------------------------------------------------ internals
    def _inst(self, symbol: str) -> Instrument:
        inst = self.instruments.get(symbol)
        if inst is None:
            inst = self.instruments[symbol] = Instrument(symbol)
        return inst

    def _last_price(self, symbol: str) -> float | None:
        """Close (or price) of the symbol's latest event, None before any."""
        ev = self._last.get(symbol)
        if ev is None:
            return None
        return ev.close if isinstance(ev, Bar) else ev.price

    @staticmethod
    def _trail_init(order: Order, ref: float) -> float:
        pct = order.trailing_offset_type is _TRAIL.PERCENT
        return matching.trailing_stop_init(int(order.side), ref, order.trailing_offset, pct)

    def _match(
        self,
        order: Order,
        o: float,
        h: float,
        lo: float,
        c: float,
        ts_open: int,
        ts_close: int,
        volume: float,
        buy_px: float,
        sell_px: float,
    ) -> None:
        if order.expire_ts >= 0 and matching.is_expired(order.expire_ts, ts_open):
            self._events.append(order.expire(max(ts_open, order.ts_last), "time in force"))
            return
        side = int(order.side)
        quote = buy_px if side > 0 else sell_px
        if quote == quote:  # not NaN: a tick with a quote trades at the touch
            o = h = lo = c = quote
        if order.type is _OT.MARKET:  # what match_bar gives a market order
            price, trig = o, True
        else:
            if order.type is _OT.TRAILING_STOP and math.isnan(order.stop_price):
                order.stop_price = self._trail_init(order, o)
            pct = order.trailing_offset_type is _TRAIL.PERCENT
            price, trig = matching.match_bar(
                side, int(order.type), order.limit_price, order.stop_price, order.triggered,
                o, h, lo, c, self.intrabar, order.trailing_offset, pct,
            )  # fmt: skip
        order.triggered = trig
        if price == price:  # not NaN: the order trades on this event
            leaves = order.qty - order.filled_qty
            if leaves < 0.0:
                leaves = 0.0  # as Order.leaves_qty
            qty = leaves
            if self.max_volume_fraction > 0.0:  # else fill_quantity gives all of leaves
                lot = self._inst(order.symbol).lot_size
                qty = matching.fill_quantity(leaves, volume, self.max_volume_fraction, lot)
            if order.tif is _TIF.FOK and qty < leaves - 1e-9:
                qty = 0.0
            if qty > 0:
                fill_ts = ts_open if price == o else ts_close
                if self.slippage_ticks and order.type in _SLIPPED:
                    tick = self._inst(order.symbol).tick_size
                    price = matching.slip(side, price, self.slippage_ticks, tick)
                self._fill(order, fill_ts, qty, price)
        if order.type is _OT.TRAILING_STOP and order.is_open:
            pct = order.trailing_offset_type is _TRAIL.PERCENT
            order.stop_price = matching.trailing_stop_update(
                side, order.stop_price, order.trailing_offset, pct, h, lo
            )
        if order.tif in _IMMEDIATE and order.is_open:
            self._events.append(order.cancel(max(ts_close, order.ts_last), "unfilled IOC/FOK"))

    def _fill(self, order: Order, ts: int, qty: float, price: float) -> None:
        if ts < order.ts_last:
            ts = order.ts_last
        inst = self.instruments.get(order.symbol) or self._inst(order.symbol)
        status_event = order.fill(ts, qty, price)
        self._fill_seq += 1
        side = order.side  # a Side: Order coerces it
        fee = self.commission(qty, price, inst.multiplier)
        fill_id = "F-" + str(self._fill_seq).zfill(6)  # as f"F-{n:06d}", in half the time
        # the fill is booked before the status change is dispatched
        self._events.append(
            new_fill_event((ts, order.id, order.symbol, side, qty, price, fee, order.tag, fill_id))
        )
        self._events.append(status_event)


def _rank(order: Order, o: float, h: float, lo: float, c: float, path: int) -> float:
    """When the bar reaches ``order`` (:func:`matching.fill_rank`)."""
    return matching.fill_rank(
        int(order.side), int(order.type), order.limit_price, order.stop_price, order.triggered,
        o, h, lo, c, path,
    )  # fmt: skip
