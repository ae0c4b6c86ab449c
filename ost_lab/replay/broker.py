"""The event-loop venue: core's ``SimulatedBroker`` plus this package's venue models.

Price rules stay core's (``SimulatedBroker`` calls :mod:`ost_lab.core.matching`); on top, the
same scalar functions as the numba venue (:mod:`.venue`) add slippage models, commission models,
one pool of bar liquidity shared by all working orders, and orders sized at fill time as a
fraction of available funds (:func:`submit_fraction`). Used by ``Backtest`` for ``Strategy``
classes; the sandbox can use it unchanged (it only needs the portfolio for fraction orders).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ost_lab.core.events import Bar, FillEvent, MarketEvent
from ost_lab.core.orders import Order
from ost_lab.core.portfolio import Portfolio
from ost_lab.core.sim_broker import FillTiming, SimulatedBroker
from ost_lab.core.strategy import Strategy
from ost_lab.core.types import Instrument, Side, members_of
from ost_lab.replay.commission import CommissionModel
from ost_lab.replay.sizing import fraction_qty
from ost_lab.replay.slippage import SLIPPED_TYPES, SlippageModel, slipped_price

# enum members read on hot paths (see members_of)
_SIDE = members_of(Side)

__all__ = ["VenueBroker", "submit_fraction"]


class VenueBroker(SimulatedBroker):
    """``SimulatedBroker`` with slippage / commission models, a shared volume pool and
    fraction orders. Fill prices and timestamps come from core's rules unchanged."""

    def __init__(
        self,
        instruments: Mapping[str, Instrument] | None = None,
        *,
        fill_timing: FillTiming = "next_open",
        commission: CommissionModel | None = None,
        slippage: SlippageModel | None = None,
        max_volume_fraction: float = 0.0,
        portfolio: Portfolio | None = None,
    ) -> None:
        super().__init__(
            instruments,
            fill_timing=fill_timing,
            commission=commission or CommissionModel(),
            max_volume_fraction=max_volume_fraction,
        )
        self.slippage = slippage or SlippageModel()
        self.portfolio = portfolio
        self._fractions: dict[str, float] = {}
        self._pool: dict[str, float] = {}

    def register_fraction(self, order: Order, fraction: float) -> None:
        """Size ``order`` when it fills, as ``fraction`` of available funds."""
        if self.portfolio is None:
            raise RuntimeError("fraction orders need the broker's portfolio")
        self._fractions[order.id] = float(fraction)

    def _match_event(self, event: MarketEvent) -> None:
        """Open a new liquidity pool for the event, then match as core does. (The pool only
        matters while orders match, so events with nothing working skip it.)"""
        if self.max_volume_fraction > 0.0:  # else the pool is unlimited: same as none
            lot = self._inst(event.symbol).lot_size
            self._pool[event.symbol] = _pool(_volume(event), self.max_volume_fraction, lot)
        elif self._pool:
            self._pool.pop(event.symbol, None)
        SimulatedBroker._match_event(self, event)  # (no super object per event)

    def _fill_on_submit(self, order: Order, ts: int, price: float) -> None:
        """As core, but a same-close market fill is not volume capped (as the numba venue)."""
        self._pool.pop(order.symbol, None)
        SimulatedBroker._fill_on_submit(self, order, ts, price)

    def _fill(self, order: Order, ts: int, qty: float, price: float) -> None:
        sym = order.symbol
        side = order.side  # an IntEnum: arithmetic as with its int value
        slipped = order.type in SLIPPED_TYPES
        if slipped:
            last = self._last.get(sym)
            volume = 0.0 if last is None else _volume(last)
            slip = self.slippage
            kind, param = slip.code, slip.param
        frac = self._fractions.pop(order.id, None) if self._fractions else None
        if frac is not None:
            px = slipped_price(side, price, 1.0, volume, kind, param) if slipped else price
            inst = self.instruments.get(sym) or self._inst(sym)
            cash, pos = self._cash_position(sym, inst.multiplier)
            c = self.commission
            q = fraction_qty(frac, cash, pos, px, inst.multiplier, inst.lot_size, c.per_unit, c.bps)
            if q <= 0.0:
                self._events.append(order.cancel(max(ts, order.ts_last), "insufficient funds"))
                return
            order.qty = q
        qty = order.qty - order.filled_qty  # as Order.leaves_qty
        if qty < 0.0:
            qty = 0.0
        pool = self._pool.get(sym) if self._pool else None
        if pool is not None:
            if qty > pool:
                qty = pool
            if qty <= 0.0:
                return
            self._pool[sym] = pool - qty
        elif qty <= 0.0:
            return
        if slipped:
            price = slipped_price(side, price, qty, volume, kind, param)
        SimulatedBroker._fill(self, order, ts, qty, price)

    def _cash_position(self, symbol: str, mult: float) -> tuple[float, float]:
        """Cash and position including fills not yet booked by the engine (``mult``: the
        symbol's multiplier)."""
        pf = self.portfolio
        assert pf is not None
        cash = pf.cash
        pos = pf.position(symbol)
        for ev in self._events:
            if isinstance(ev, FillEvent):
                sq = float(ev.side) * ev.qty  # as FillEvent.signed_qty
                cash -= sq * ev.price * mult + ev.commission
                if ev.symbol == symbol:
                    pos += sq
        return cash, pos


def _volume(event: MarketEvent) -> float:
    return event.volume if isinstance(event, Bar) else event.size


def _pool(volume: float, fraction: float, lot: float) -> float:
    if fraction <= 0.0:
        return math.inf
    return math.floor(volume * fraction / lot + 1e-9) * lot


def submit_fraction(
    strategy: Strategy, side: int, fraction: float, symbol: str | None = None, **kw: Any
) -> Order:
    """Send an order for ``fraction`` of available funds, sized when it fills (e.g. 0.9999,
    backtesting.py's default ``buy()``). Needs a :class:`VenueBroker` (replay or sandbox)."""
    ctx = strategy._ctx or strategy.ctx
    broker = getattr(ctx, "broker", None)
    if not isinstance(broker, VenueBroker):
        raise RuntimeError("fraction orders need ost_lab.replay's VenueBroker")
    if side != 1 and side != -1:
        raise ValueError(f"side must be +1 (buy) or -1 (sell), got {side!r}")
    o = strategy.order(_SIDE.BUY if side > 0 else _SIDE.SELL, 1.0, symbol, submit=False, **kw)
    broker.register_fraction(o, fraction)
    return ctx.submit_order(strategy, o)
