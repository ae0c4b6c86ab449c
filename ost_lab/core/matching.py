"""Reference fill rules for bars: plain functions on scalars, written to be jitted by numba.

This is the ONE definition of how a simulated order fills against a bar. The replay engine's
numba kernels and the sandbox's simulated broker call (or ``numba.njit``) these functions; they
must not be copied. Everything here takes ints/floats/bools and returns floats/bools/tuples, no
objects: ``side`` is +1 (buy) / -1 (sell), ``order_type`` is an ``OrderType`` int value, a price
of ``nan`` means "no fill".

Fill conventions (all conservative: never a price the order could not get):

* MARKET: the bar's open (next-bar-open timing; same-bar-close timing fills at the close at
  submission time, outside these functions).
* LIMIT buy: open if open <= limit (price improvement on a gap), else limit if low <= limit.
  Sell mirrors. Touching the limit counts as a fill.
* STOP buy: open if open >= stop (a gap through the stop fills at the open, never better than the
  trigger), else stop if high >= stop. Sell mirrors.
* STOP_LIMIT: triggers like a STOP. If triggered at the open the whole bar is reachable and the
  limit rule applies to the bar. If triggered intrabar, only prices between the trigger and the
  close are known to trade after the trigger: a buy fills at the trigger if trigger <= limit,
  else at the limit if close <= limit, else it stays working (triggered) for later bars.
* MARKET_IF_TOUCHED buy (trigger below market): open if open <= trigger else trigger if
  low <= trigger. Sell mirrors.
* LIMIT_IF_TOUCHED: triggers like MIT, then behaves like STOP_LIMIT after its trigger.
* TRAILING_STOP: a STOP at the current trailing level; the level is updated from the bar's
  extreme only *after* the bar was checked (the high may have come after the low).
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any

__all__ = [
    "MARKET",
    "fill_limit",
    "fill_limit_after_trigger",
    "fill_limit_if_touched",
    "fill_market_if_touched",
    "fill_quantity",
    "fill_stop",
    "fill_stop_limit",
    "is_expired",
    "match_bar",
    "njit_all",
    "slip",
    "trailing_stop_init",
    "trailing_stop_update",
]

NAN = math.nan

# OrderType values, duplicated as module ints so jitted code needs no enum.
MARKET = 0
LIMIT = 1
STOP = 2
STOP_LIMIT = 3
MARKET_IF_TOUCHED = 4
LIMIT_IF_TOUCHED = 5
TRAILING_STOP = 6


def fill_limit(side: int, limit: float, o: float, h: float, lo: float) -> float:
    """Limit order against a bar: price or nan."""
    if side > 0:
        if o <= limit:
            return o
        if lo <= limit:
            return limit
        return NAN
    if o >= limit:
        return o
    if h >= limit:
        return limit
    return NAN


def fill_stop(side: int, stop: float, o: float, h: float, lo: float) -> float:
    """Stop (market) order against a bar: price or nan. Gaps fill at the open."""
    if side > 0:
        if o >= stop:
            return o
        if h >= stop:
            return stop
        return NAN
    if o <= stop:
        return o
    if lo <= stop:
        return stop
    return NAN


def fill_market_if_touched(side: int, trigger: float, o: float, h: float, lo: float) -> float:
    """Market-if-touched: buy triggers when price falls to the trigger; price or nan."""
    return fill_limit(side, trigger, o, h, lo)


def fill_limit_after_trigger(side: int, limit: float, trigger: float, c: float) -> float:
    """Limit fill using only prices known to trade after an intrabar trigger: [trigger, close]."""
    if side > 0:
        if trigger <= limit:
            return trigger
        if c <= limit:
            return limit
        return NAN
    if trigger >= limit:
        return trigger
    if c >= limit:
        return limit
    return NAN


def fill_stop_limit(
    side: int,
    stop: float,
    limit: float,
    triggered: bool,
    o: float,
    h: float,
    lo: float,
    c: float,
) -> tuple[float, bool]:
    """Stop-limit against a bar: (price or nan, triggered after this bar)."""
    if triggered:
        return fill_limit(side, limit, o, h, lo), True
    if side > 0:
        if o >= stop:
            return fill_limit(side, limit, o, h, lo), True
        if h >= stop:
            return fill_limit_after_trigger(side, limit, stop, c), True
        return NAN, False
    if o <= stop:
        return fill_limit(side, limit, o, h, lo), True
    if lo <= stop:
        return fill_limit_after_trigger(side, limit, stop, c), True
    return NAN, False


def fill_limit_if_touched(
    side: int,
    trigger: float,
    limit: float,
    triggered: bool,
    o: float,
    h: float,
    lo: float,
    c: float,
) -> tuple[float, bool]:
    """Limit-if-touched (buy trigger below market): (price or nan, triggered after this bar)."""
    if triggered:
        return fill_limit(side, limit, o, h, lo), True
    if side > 0:
        if o <= trigger:
            return fill_limit(side, limit, o, h, lo), True
        if lo <= trigger:
            return fill_limit_after_trigger(side, limit, trigger, c), True
        return NAN, False
    if o >= trigger:
        return fill_limit(side, limit, o, h, lo), True
    if h >= trigger:
        return fill_limit_after_trigger(side, limit, trigger, c), True
    return NAN, False


def trailing_stop_init(side: int, ref: float, offset: float, is_percent: bool) -> float:
    """Initial trailing stop level from a reference price (sell: below it, buy: above it)."""
    dist = ref * offset / 100.0 if is_percent else offset
    return ref - dist if side < 0 else ref + dist


def trailing_stop_update(
    side: int, stop: float, offset: float, is_percent: bool, h: float, lo: float
) -> float:
    """Ratchet a trailing stop with a bar's extreme (only ever tightens)."""
    if side < 0:
        cand = h - (h * offset / 100.0 if is_percent else offset)
        return cand if cand > stop else stop
    cand = lo + (lo * offset / 100.0 if is_percent else offset)
    return cand if cand < stop else stop


def match_bar(
    side: int,
    order_type: int,
    limit: float,
    stop: float,
    triggered: bool,
    o: float,
    h: float,
    lo: float,
    c: float,
) -> tuple[float, bool]:
    """Dispatch on ``order_type``: (fill price or nan, triggered after this bar).

    For TRAILING_STOP pass the current trailing level as ``stop`` and call
    :func:`trailing_stop_update` afterwards if it did not fill.
    """
    if order_type == MARKET:
        return o, True
    if order_type == LIMIT:
        return fill_limit(side, limit, o, h, lo), False
    if order_type == STOP:
        return fill_stop(side, stop, o, h, lo), False
    if order_type == TRAILING_STOP:
        return fill_stop(side, stop, o, h, lo), False
    if order_type == STOP_LIMIT:
        return fill_stop_limit(side, stop, limit, triggered, o, h, lo, c)
    if order_type == MARKET_IF_TOUCHED:
        return fill_market_if_touched(side, stop, o, h, lo), False
    if order_type == LIMIT_IF_TOUCHED:
        return fill_limit_if_touched(side, stop, limit, triggered, o, h, lo, c)
    return NAN, False


def slip(side: int, price: float, ticks: float, tick_size: float) -> float:
    """Adverse slippage of ``ticks`` ticks (buys pay more, sells receive less)."""
    return price + side * ticks * tick_size


def fill_quantity(leaves: float, volume: float, max_volume_fraction: float, lot: float) -> float:
    """Quantity fillable on a bar: all of ``leaves`` unless capped by a share of bar volume."""
    if max_volume_fraction <= 0.0:
        return leaves
    cap = math.floor(volume * max_volume_fraction / lot + 1e-9) * lot
    return leaves if leaves < cap else cap


def is_expired(expire_ts: int, ts: int) -> bool:
    """True when an order with ``expire_ts`` (-1 = never) is no longer valid at ``ts``."""
    return expire_ts >= 0 and ts >= expire_ts


def njit_all(decorator: Callable[[Callable[..., Any]], Any]) -> dict[str, Any]:
    """Compile every rule with ``decorator`` (e.g. ``numba.njit(cache=True)``), rebinding the
    calls between them to the compiled versions. Returns ``{name: compiled}``. ``core`` itself
    never imports numba; the replay engine calls this once."""
    namespace: dict[str, Any] = dict(globals())
    out: dict[str, Any] = {}
    for name in _ORDER:
        fn = globals()[name]
        clone = types.FunctionType(fn.__code__, namespace, name, fn.__defaults__)
        out[name] = namespace[name] = decorator(clone)
    return out


_ORDER = (
    "fill_limit",
    "fill_stop",
    "fill_market_if_touched",
    "fill_limit_after_trigger",
    "fill_stop_limit",
    "fill_limit_if_touched",
    "trailing_stop_init",
    "trailing_stop_update",
    "match_bar",
    "slip",
    "fill_quantity",
    "is_expired",
)
