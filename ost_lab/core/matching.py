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
  limit rule applies to the bar. If triggered intrabar, only prices known to trade after the
  trigger count (see the intrabar path below): a buy fills at the trigger if trigger <= limit,
  else at the limit if a price <= limit trades after the trigger, else it stays working
  (triggered) for later bars.
* MARKET_IF_TOUCHED buy (trigger below market): open if open <= trigger else trigger if
  low <= trigger. Sell mirrors.
* LIMIT_IF_TOUCHED: triggers like MIT, then behaves like STOP_LIMIT after its trigger.
* TRAILING_STOP: a STOP at the current trailing level, ratcheted within the bar as the
  intrabar path allows (below); after the bar the level is ratcheted by the bar's extreme.

Intrabar path (``path``: the order in which a bar's prices traded; a bar only tells the open,
high, low and close):

* ``PESSIMISTIC`` (0, the default): no order is assumed. After an intrabar trigger only the
  trigger and the close are known to trade; a trailing stop is checked against its level from
  before the bar (the high may have come after the low).
* ``BAR_DIRECTION`` (1): the bar traded open -> low -> high -> close when close >= open, else
  open -> high -> low -> close, through every price in between. After an intrabar trigger every
  price on the rest of that path counts (a down bar that triggers a buy stop-limit on the way
  to its high then trades down to its low: the limit fills if low <= limit). A trailing stop
  ratchets along favourable legs and fills at its level on the first adverse leg that reaches
  it (a down bar ratchets a sell trailing stop at its high, then may fill it on the way down).

Path-independent prices (market, limit, stop, MIT, every gap at the open) are the same under
both. Several orders reached by one bar are matched in the order the bar reaches them
(:func:`fill_rank`): under ``PESSIMISTIC`` stops before limits (a bracket's stop-loss before
its take-profit), under ``BAR_DIRECTION`` by their place on the path; ties, and orders at the
open, keep submission order.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any

__all__ = [
    "BAR_DIRECTION",
    "MARKET",
    "PESSIMISTIC",
    "after_trigger_range",
    "fill_limit",
    "fill_limit_after_trigger",
    "fill_limit_if_touched",
    "fill_market_if_touched",
    "fill_quantity",
    "fill_rank",
    "fill_stop",
    "fill_stop_limit",
    "fill_trailing_stop",
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

# Intrabar path assumptions (see the module docstring).
PESSIMISTIC = 0
BAR_DIRECTION = 1


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


def after_trigger_range(
    trigger: float, o: float, h: float, lo: float, c: float, path: int
) -> tuple[float, float]:
    """(lowest, highest) price known to trade after the bar first reaches ``trigger`` intrabar.

    ``PESSIMISTIC``: the trigger and the close. ``BAR_DIRECTION``: the trigger and every later
    point of the path open -> low -> high -> close (up bar) or open -> high -> low -> close."""
    lo_a = trigger if trigger < c else c
    hi_a = trigger if trigger > c else c
    if path != BAR_DIRECTION:
        return lo_a, hi_a
    p1, p2 = (lo, h) if c >= o else (h, lo)
    if (o <= trigger <= p1) or (p1 <= trigger <= o):  # reached on the first leg
        lo_a, hi_a = min(lo_a, p1, p2), max(hi_a, p1, p2)
    elif (p1 <= trigger <= p2) or (p2 <= trigger <= p1):  # on the second leg
        lo_a, hi_a = min(lo_a, p2), max(hi_a, p2)
    return lo_a, hi_a


def fill_limit_after_trigger(
    side: int, limit: float, trigger: float, lo_after: float, hi_after: float
) -> float:
    """Limit fill using only prices known to trade after an intrabar trigger, which span
    [``lo_after``, ``hi_after``] (:func:`after_trigger_range`)."""
    if side > 0:
        if trigger <= limit:
            return trigger
        if lo_after <= limit:
            return limit
        return NAN
    if trigger >= limit:
        return trigger
    if hi_after >= limit:
        return limit
    return NAN


def _fill_after(
    side: int, limit: float, trigger: float, o: float, h: float, lo: float, c: float, path: int
) -> float:
    lo_a, hi_a = after_trigger_range(trigger, o, h, lo, c, path)
    return fill_limit_after_trigger(side, limit, trigger, lo_a, hi_a)


def fill_stop_limit(
    side: int,
    stop: float,
    limit: float,
    triggered: bool,
    o: float,
    h: float,
    lo: float,
    c: float,
    path: int = PESSIMISTIC,
) -> tuple[float, bool]:
    """Stop-limit against a bar: (price or nan, triggered after this bar)."""
    if triggered:
        return fill_limit(side, limit, o, h, lo), True
    if side > 0:
        if o >= stop:
            return fill_limit(side, limit, o, h, lo), True
        if h >= stop:
            return _fill_after(side, limit, stop, o, h, lo, c, path), True
        return NAN, False
    if o <= stop:
        return fill_limit(side, limit, o, h, lo), True
    if lo <= stop:
        return _fill_after(side, limit, stop, o, h, lo, c, path), True
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
    path: int = PESSIMISTIC,
) -> tuple[float, bool]:
    """Limit-if-touched (buy trigger below market): (price or nan, triggered after this bar)."""
    if triggered:
        return fill_limit(side, limit, o, h, lo), True
    if side > 0:
        if o <= trigger:
            return fill_limit(side, limit, o, h, lo), True
        if lo <= trigger:
            return _fill_after(side, limit, trigger, o, h, lo, c, path), True
        return NAN, False
    if o >= trigger:
        return fill_limit(side, limit, o, h, lo), True
    if h >= trigger:
        return _fill_after(side, limit, trigger, o, h, lo, c, path), True
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


def _trail_leg(
    side: int, level: float, offset: float, is_percent: bool, a: float, b: float
) -> tuple[float, float]:
    """One straight leg a -> b of the path: (fill price or nan, trailing level after it)."""
    if side < 0:
        if b < a:  # falling: the level holds and may be reached
            return (level if b <= level else NAN), level
        return NAN, trailing_stop_update(side, level, offset, is_percent, b, b)
    if b > a:
        return (level if b >= level else NAN), level
    return NAN, trailing_stop_update(side, level, offset, is_percent, b, b)


def fill_trailing_stop(
    side: int,
    stop: float,
    offset: float,
    is_percent: bool,
    o: float,
    h: float,
    lo: float,
    c: float,
    path: int = PESSIMISTIC,
) -> float:
    """Trailing stop at level ``stop`` against a bar: price or nan. ``PESSIMISTIC``: a stop at
    the level from before the bar. ``BAR_DIRECTION``: walks the bar's path, ratcheting the level
    on favourable legs and filling at it on the first adverse leg that reaches it."""
    if path != BAR_DIRECTION:
        return fill_stop(side, stop, o, h, lo)
    if (side < 0 and o <= stop) or (side > 0 and o >= stop):
        return o
    p1, p2 = (lo, h) if c >= o else (h, lo)
    price, level = _trail_leg(side, stop, offset, is_percent, o, p1)
    if math.isnan(price):
        price, level = _trail_leg(side, level, offset, is_percent, p1, p2)
    if math.isnan(price):
        price, level = _trail_leg(side, level, offset, is_percent, p2, c)
    return price


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
    path: int = PESSIMISTIC,
    trail: float = NAN,
    trail_pct: bool = False,
) -> tuple[float, bool]:
    """Dispatch on ``order_type``: (fill price or nan, triggered after this bar).

    ``path``: the intrabar path assumption (``PESSIMISTIC`` or ``BAR_DIRECTION``). For
    TRAILING_STOP pass the current trailing level as ``stop`` and its offset as ``trail`` /
    ``trail_pct``, and call :func:`trailing_stop_update` afterwards if it did not fill.
    """
    if order_type == MARKET:
        return o, True
    if order_type == LIMIT:
        return fill_limit(side, limit, o, h, lo), False
    if order_type == STOP:
        return fill_stop(side, stop, o, h, lo), False
    if order_type == TRAILING_STOP:
        return fill_trailing_stop(side, stop, trail, trail_pct, o, h, lo, c, path), False
    if order_type == STOP_LIMIT:
        return fill_stop_limit(side, stop, limit, triggered, o, h, lo, c, path)
    if order_type == MARKET_IF_TOUCHED:
        return fill_market_if_touched(side, stop, o, h, lo), False
    if order_type == LIMIT_IF_TOUCHED:
        return fill_limit_if_touched(side, stop, limit, triggered, o, h, lo, c, path)
    return NAN, False


def fill_rank(
    side: int,
    order_type: int,
    limit: float,
    stop: float,
    triggered: bool,
    o: float,
    h: float,
    lo: float,
    c: float,
    path: int = PESSIMISTIC,
) -> float:
    """When in the bar an order is reached: the key several orders touched by one bar are
    matched by (ascending; ties keep submission order). ``inf``: not reached.

    The price that reaches an order is its trigger (stop, trailing level, untriggered
    stop-limit / LIT / MIT) or its limit (limit, triggered stop-limit / LIT). 0: at the open
    (market orders, gaps). ``PESSIMISTIC``: stop-like orders (which trade on an adverse move)
    before limit-like ones (a favourable move), 1 and 2, so a bracket's stop-loss fills before
    its take-profit when the bar reaches both. ``BAR_DIRECTION``: the position along the path
    open -> low -> high -> close (up bar) or open -> high -> low -> close, in [0, 3). A
    trailing stop is placed by its level from before the bar."""
    if order_type == MARKET:
        return 0.0
    stop_like = order_type in (STOP, TRAILING_STOP)
    if order_type == STOP_LIMIT and not triggered:
        stop_like = True
    use_limit = order_type == LIMIT or (triggered and order_type in (STOP_LIMIT, LIMIT_IF_TOUCHED))
    p = limit if use_limit else stop
    up = (side > 0) == stop_like  # reached when the price rises to p (else falls to it)
    if (up and o >= p) or (not up and o <= p):
        return 0.0
    if (up and not h >= p) or (not up and not lo <= p):
        return math.inf  # not reached (also a nan price)
    if path != BAR_DIRECTION:
        return 1.0 if stop_like else 2.0
    if c >= o:  # open -> low -> high -> close: falls on the first leg, rises on the second
        return 1.0 + (p - lo) / (h - lo) if up else (o - p) / (o - lo)
    return (p - o) / (h - o) if up else 1.0 + (h - p) / (h - lo)


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
    "after_trigger_range",
    "fill_limit_after_trigger",
    "_fill_after",
    "fill_stop_limit",
    "fill_limit_if_touched",
    "trailing_stop_init",
    "trailing_stop_update",
    "_trail_leg",
    "fill_trailing_stop",
    "match_bar",
    "fill_rank",
    "slip",
    "fill_quantity",
    "is_expired",
)
