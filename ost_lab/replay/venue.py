"""The numba simulated venue: working orders, fills and accounting in small float64 arrays.

hftbacktest style: no objects, the state is a few arrays a jitted loop mutates in place. Price
rules are core's (:mod:`ost_lab.core.matching`, compiled by :mod:`._numba`), commission,
slippage and fill-time sizing are this package's scalar functions jitted (inlined, without numba's
reference-counting runtime, see :mod:`._numba`): the event-loop venue
(:mod:`.broker`) calls the very same functions un-jitted, so both give identical fills.

Layouts (column indices are module constants):

* ``ords`` (capacity, W_COLS): the working orders, in submission order.
* ``olog`` (capacity, O_COLS): every order ever submitted (the ``orders`` table).
* ``fills`` (capacity, F_COLS): every fill.
* ``acct`` (A_COLS,): cash, position, equity and the row counts of the tables above.
* ``cfg`` (C_COLS,): instrument, fees, slippage, volume cap, timing.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ost_lab.replay import commission as _commission
from ost_lab.replay import sizing as _sizing
from ost_lab.replay import slippage as _slippage
from ost_lab.replay._numba import M, here, nonneg, vjit_inline

F64 = npt.NDArray[np.float64]

# acct
CASH, POS, EQUITY, NW, NF, NO, PENDING = 0, 1, 2, 3, 4, 5, 6
A_COLS = 8
# cfg
MULT, LOT, VOL_FRAC, PER_UNIT, BPS, MIN_FEE, SLIP_KIND, SLIP_P, SAME_CLOSE, LATENCY = range(10)
INTRABAR = 10  # core.matching's path code: PESSIMISTIC or BAR_DIRECTION
LATENCY_NS = 11  # ticks: an order decided at ts[i] works from the first tick at ts[i] + this
QUOTES = 12  # 1: quote ticks, buys trade at the ask and sells at the bid (as core does)
C_COLS = 13
# ords (working) and out (orders a kernel strategy emits)
# EXPIRE: in ``out`` a GTD order's expiry (ns); in ``ords`` the first bar the order is expired
# at (inf: never)
SIDE, QTY, TYPE, LIMIT, STOP, MODE, TRAIL, TRAIL_PCT, TIF, EXPIRE = range(10)
TRIG, ACTIVE, OID, RANK = range(10, 14)
W_COLS = 14
OUT_COLS = 10  # SIDE..EXPIRE: what a kernel writes
# olog
O_BAR, O_SIDE, O_QTY, O_TYPE, O_LIMIT, O_STOP, O_FILLED, O_VALUE, O_STATUS = range(9)
O_COLS = 9
# fills
F_BAR, F_AT_OPEN, F_QTY, F_PRICE, F_FEE, F_OID = range(6)
F_COLS = 6

# modes, tifs, statuses, row kinds
QTY_UNITS, QTY_FRACTION = 0.0, 1.0
GTC, IOC, FOK, DAY, GTD = 0.0, 1.0, 2.0, 3.0, 4.0
WORKING, FILLED, CANCELED, EXPIRED = 0.0, 1.0, 2.0, 3.0
NS_PER_DAY = 86_400_000_000_000  # by default a DAY order ends at the next UTC midnight (core's)
CANCEL_ALL = -1.0  # a kernel row with TYPE = CANCEL_ALL cancels every working order

fee = vjit_inline(_commission.fee)
slipped_price = vjit_inline(_slippage.slipped_price)
fraction_qty = vjit_inline(_sizing.fraction_qty)
_match_bar = M["match_bar"]
_fill_quantity = M["fill_quantity"]
_fill_rank = M["fill_rank"]
_trail_init = M["trailing_stop_init"]
_trail_update = M["trailing_stop_update"]


@vjit_inline
def row(x: float) -> int:
    """A row index or count kept in a float64 table (never negative): as an int the compiler
    knows is ``>= 0``, so the tables are indexed without negative-index wraparound."""
    return nonneg(int(x))


@vjit_inline
def _is_slipped(typ: int) -> bool:
    return typ == 0 or typ == 2 or typ == 4 or typ == 6


@vjit_inline
def book_fill(
    i: int, at_open: bool, k: int, qty: float, price: float,
    ords: F64, olog: F64, fills: F64, acct: F64, cfg: F64,
) -> None:  # fmt: skip
    """Book ``qty`` of working order ``k`` at ``price``: cash, position, fill row, order log."""
    side = ords[k, SIDE]
    mult = cfg[MULT]
    c = fee(qty, price, mult, cfg[PER_UNIT], cfg[BPS], cfg[MIN_FEE])
    acct[CASH] -= side * qty * price * mult + c
    acct[POS] += side * qty
    nf = row(acct[NF])
    fills[nf, F_BAR] = i
    fills[nf, F_AT_OPEN] = 1.0 if at_open else 0.0
    fills[nf, F_QTY] = side * qty
    fills[nf, F_PRICE] = price
    fills[nf, F_FEE] = c
    fills[nf, F_OID] = ords[k, OID]
    acct[NF] = nf + 1
    ords[k, QTY] -= qty
    oid = row(ords[k, OID])
    olog[oid, O_FILLED] += qty
    olog[oid, O_VALUE] += qty * price
    if ords[k, QTY] <= 1e-9:
        ords[k, QTY] = 0.0
        olog[oid, O_STATUS] = FILLED


@vjit_inline
def try_fill(
    i: int, k: int, price: float, at_open: bool, volume: float, pool: float,
    ords: F64, olog: F64, fills: F64, acct: F64, cfg: F64,
) -> float:  # fmt: skip
    """Slip, size and book a fill of order ``k`` at rule price ``price``; returns the pool left."""
    side = int(ords[k, SIDE])
    typ = int(ords[k, TYPE])
    if ords[k, MODE] == QTY_FRACTION:
        px = price
        if _is_slipped(typ):  # size at the price actually paid (the impact of one unit;
            # ``here``: else its loop-invariant square root runs before every match)
            px = slipped_price(side, price, here(1.0), volume, int(cfg[SLIP_KIND]), cfg[SLIP_P])
        q = fraction_qty(
            ords[k, QTY], acct[CASH], acct[POS], px, cfg[MULT], cfg[LOT], cfg[PER_UNIT], cfg[BPS]
        )
        ords[k, QTY] = q
        ords[k, MODE] = QTY_UNITS
        olog[row(ords[k, OID]), O_QTY] = q
        if q <= 0.0:
            olog[row(ords[k, OID]), O_STATUS] = CANCELED
            return pool
    leaves = ords[k, QTY]
    qty = leaves if leaves < pool else pool
    if ords[k, TIF] == FOK and qty < leaves - 1e-9:
        return pool
    if qty <= 0.0:
        return pool
    if _is_slipped(typ):
        price = slipped_price(side, price, qty, volume, int(cfg[SLIP_KIND]), cfg[SLIP_P])
    book_fill(i, at_open, k, qty, price, ords, olog, fills, acct, cfg)
    return pool - qty


@vjit_inline
def _bar_volume(i: int, v: F64, cfg: F64) -> float:
    """Bar ``i``'s volume if the venue uses it (volume cap, square-root impact), else 0.0.

    Both uses give the same result with 0.0 when they are off; skipping the load keeps a
    sparse, cache-missing read of ``v`` off the per-order path."""
    if cfg[VOL_FRAC] > 0.0 or int(cfg[SLIP_KIND]) == _slippage.SQRT_IMPACT:
        return v[i]
    return 0.0


@vjit_inline
def match_orders(
    i: int, o: F64, h: F64, lo: F64, c: F64, v: F64, bid: F64, ask: F64,
    ords: F64, olog: F64, fills: F64, acct: F64, cfg: F64,
) -> None:  # fmt: skip
    """Match every active working order against bar ``i``, sharing one pool of liquidity
    (``cfg[VOL_FRAC]`` of the bar's volume), then drop finished orders. Several orders are
    matched in the order the bar reaches them (core's ``fill_rank``: ties, and quote ticks,
    keep submission order), as core's broker does."""
    nw = row(acct[NW])
    quotes = cfg[QUOTES] > 0
    vol = _bar_volume(i, v, cfg)
    pool = 1e300  # what _fill_quantity gives without a cap (no call on the common path)
    if cfg[VOL_FRAC] > 0.0:
        pool = _fill_quantity(1e300, vol, cfg[VOL_FRAC], cfg[LOT])
    changed = False  # anything filled or finished: compact (and recount PENDING)
    # RANK: when the bar reaches the order (inf: never), -1: not active or already matched
    in_order = True  # the orders the bar reaches are already in the order it reaches them
    if nw == 1 or quotes:  # nothing to order (quote ticks: one price per side)
        for k in range(nw):
            ords[k, RANK] = 0.0 if ords[k, ACTIVE] <= i else -1.0
    else:
        op, hi, lw, cl = o[i], h[i], lo[i], c[i]
        path = int(cfg[INTRABAR])
        last = 0.0
        for k in range(nw):
            r = -1.0
            if ords[k, ACTIVE] <= i:
                r = _fill_rank(
                    int(ords[k, SIDE]), int(ords[k, TYPE]), ords[k, LIMIT], ords[k, STOP],
                    ords[k, TRIG] > 0, op, hi, lw, cl, path,
                )  # fmt: skip
                if r < math.inf:
                    in_order = in_order and r >= last
                    last = r
            ords[k, RANK] = r
    nxt = 0  # next order in submission order
    while True:  # out of order: the reached orders by rank first; then the rest as submitted
        k = -1
        if not in_order:
            for j in range(nw):
                r = ords[j, RANK]
                if 0.0 <= r < math.inf and (k < 0 or r < ords[k, RANK]):
                    k = j
            in_order = k < 0
        if k < 0:
            while nxt < nw and not ords[nxt, RANK] >= 0.0:
                nxt += 1
            if nxt >= nw:
                break
            k = nxt
        ords[k, RANK] = -1.0
        pool, done = _match_one(i, k, vol, pool, o, h, lo, c, bid, ask, ords, olog, fills, acct,
                                cfg)  # fmt: skip
        changed = changed or done
    if changed:
        compact(ords, acct)


@vjit_inline
def _match_one(
    i: int, k: int, vol: float, pool: float, o: F64, h: F64, lo: F64, c: F64, bid: F64,
    ask: F64, ords: F64, olog: F64, fills: F64, acct: F64, cfg: F64,
) -> tuple[float, bool]:  # fmt: skip
    """Match working order ``k`` against bar ``i``; returns (the pool left, whether it
    filled or finished).

    Market orders need only the open: high, low and close are read for other types only.
    Quote ticks (``cfg[QUOTES]``) are one-price bars at the touch: the ask for buys, the bid
    for sells (the mid in ``o``..``c`` when that side is missing), as core's broker does."""
    if ords[k, EXPIRE] <= i:  # DAY / GTD: its time ran out before this bar opened
        olog[row(ords[k, OID]), O_STATUS] = EXPIRED
        ords[k, QTY] = 0.0
        return pool, True
    side = int(ords[k, SIDE])
    typ = int(ords[k, TYPE])
    op = o[i]
    changed = False
    if cfg[QUOTES] > 0:
        touch = ask[i] if side > 0 else bid[i]
        if not math.isnan(touch):
            op = touch
    hi = lw = cl = op
    if typ == 0:  # market: what _match_bar returns, without loading the bar's range
        price = op
        trig = True
    else:
        if cfg[QUOTES] <= 0:
            hi, lw, cl = h[i], lo[i], c[i]
        if typ == 6 and math.isnan(ords[k, STOP]):
            ords[k, STOP] = _trail_init(side, op, ords[k, TRAIL], ords[k, TRAIL_PCT] > 0)
        price, trig = _match_bar(
            side, typ, ords[k, LIMIT], ords[k, STOP], ords[k, TRIG] > 0, op, hi, lw, cl,
            int(cfg[INTRABAR]), ords[k, TRAIL], ords[k, TRAIL_PCT] > 0,
        )  # fmt: skip
    ords[k, TRIG] = 1.0 if trig else 0.0
    if not math.isnan(price):
        pool = try_fill(i, k, price, price == op, vol, pool, ords, olog, fills, acct, cfg)
        changed = True
    oid = row(ords[k, OID])
    if olog[oid, O_STATUS] != WORKING:
        ords[k, QTY] = 0.0
        return pool, True
    if typ == 6:
        ords[k, STOP] = _trail_update(
            side, ords[k, STOP], ords[k, TRAIL], ords[k, TRAIL_PCT] > 0, hi, lw
        )
    if ords[k, TIF] == IOC or ords[k, TIF] == FOK:
        olog[oid, O_STATUS] = CANCELED
        ords[k, QTY] = 0.0
        changed = True
    return pool, changed


@vjit_inline
def compact(ords: F64, acct: F64) -> None:
    """Remove finished working orders (leaves 0), keeping submission order; update PENDING."""
    nw = row(acct[NW])
    j = 0
    pending = 0.0
    for k in range(nw):
        if ords[k, QTY] > 0.0:
            if j != k:
                for col in range(W_COLS):
                    ords[j, col] = ords[k, col]
            if ords[j, MODE] == QTY_UNITS:
                pending += ords[j, SIDE] * ords[j, QTY]
            j += 1
    acct[NW] = j
    acct[PENDING] = pending


@vjit_inline
def arrival(i: int, ts: npt.NDArray[np.int64], latency_ns: int) -> int:
    """First index ``j > i`` with ``ts[j] >= ts[i] + latency_ns`` (``len(ts)`` if none): the
    tick an order sent at tick ``i`` reaches the venue by."""
    return first_at(i, ts, ts[i] + latency_ns)


@vjit_inline
def first_at(i: int, ts: npt.NDArray[np.int64], t: int) -> int:
    """First index ``j > i`` with ``ts[j] >= t`` (``len(ts)`` if none). Galloping from
    ``i + 1``, then binary search."""
    n = ts.shape[0]
    lo_ = i + 1
    step = 1
    hi_ = lo_
    while hi_ < n and ts[hi_] < t:
        lo_ = hi_ + 1
        hi_ += step
        step *= 2
    if hi_ > n:
        hi_ = n
    while lo_ < hi_:  # ts[lo_ - 1] < t (or lo_ == i + 1), ts[hi_] >= t (or hi_ == n)
        mid = (lo_ + hi_) // 2
        if ts[mid] < t:
            lo_ = mid + 1
        else:
            hi_ = mid
    return lo_


@vjit_inline
def submit(
    i: int, n: int, c: float, v: F64, ts: npt.NDArray[np.int64], tsc: npt.NDArray[np.int64],
    dend: npt.NDArray[np.int64], out: F64, ords: F64, olog: F64, fills: F64, acct: F64,
    cfg: F64,
) -> None:  # fmt: skip
    """Accept the ``n`` orders a strategy emitted at bar ``i``'s close (``c``). Same-close timing
    fills market orders now at the close; everything else starts working at bar
    ``i + 1 + latency``, or with ``cfg[LATENCY_NS]`` (ticks) at the first tick ``ts`` reaches
    ``ts[i] + latency_ns``. ``v`` is the volume column (read only when the venue needs it).
    ``ts`` / ``tsc`` are the bars' open / close times: a DAY order expires at the first bar that
    opens at or after the end of this bar's session (``dend[i]``; with ``dend`` empty, the UTC
    midnight following this bar's close), a GTD order at the first that opens at or after its
    expiry (core's rules)."""
    lat_ns = int(cfg[LATENCY_NS])
    active = i + 1 + cfg[LATENCY]
    if lat_ns > 0 and n > 0:
        active = float(arrival(i, ts, lat_ns))
    finished = False  # an order already finished: compact, else PENDING is kept up to date
    for r in range(n):
        if out[r, TYPE] == CANCEL_ALL:
            for k in range(int(acct[NW])):
                if ords[k, QTY] > 0.0:
                    olog[row(ords[k, OID]), O_STATUS] = CANCELED
                    ords[k, QTY] = 0.0
            compact(ords, acct)
            continue
        nw = row(acct[NW])
        oid = row(acct[NO])
        acct[NO] = oid + 1
        for col in range(OUT_COLS):
            ords[nw, col] = out[r, col]
        ords[nw, TRIG] = 0.0
        ords[nw, ACTIVE] = active
        ords[nw, OID] = oid
        ords[nw, EXPIRE] = math.inf
        if out[r, TIF] == DAY:
            end = dend[i] if dend.shape[0] else (tsc[i] // NS_PER_DAY + 1) * NS_PER_DAY
            ords[nw, EXPIRE] = first_at(i, ts, end)
        elif out[r, TIF] == GTD:
            if math.isnan(out[r, EXPIRE]):
                raise ValueError("GTD order needs an expiry (ns)")
            ords[nw, EXPIRE] = first_at(i, ts, int(out[r, EXPIRE]))
        olog[oid, O_BAR] = i
        olog[oid, O_SIDE] = out[r, SIDE]
        olog[oid, O_QTY] = out[r, QTY]
        olog[oid, O_TYPE] = out[r, TYPE]
        olog[oid, O_LIMIT] = out[r, LIMIT]
        olog[oid, O_STOP] = out[r, STOP]
        olog[oid, O_FILLED] = 0.0
        olog[oid, O_VALUE] = 0.0
        olog[oid, O_STATUS] = WORKING
        if out[r, TYPE] == 6 and math.isnan(out[r, STOP]):
            ords[nw, STOP] = _trail_init(int(out[r, SIDE]), c, out[r, TRAIL], out[r, TRAIL_PCT] > 0)
        acct[NW] = nw + 1
        if cfg[SAME_CLOSE] > 0 and out[r, TYPE] == 0 and cfg[LATENCY] == 0 and lat_ns == 0:
            vol = _bar_volume(i, v, cfg)
            try_fill(i, nw, c, False, vol, 1e300, ords, olog, fills, acct, cfg)
            if olog[oid, O_STATUS] != WORKING:
                ords[nw, QTY] = 0.0
            finished = True
        elif not (ords[nw, QTY] > 0.0):  # compact drops it
            finished = True
        elif not finished and ords[nw, MODE] == QTY_UNITS:  # what compact would add, last
            acct[PENDING] += ords[nw, SIDE] * ords[nw, QTY]
    if finished:
        compact(ords, acct)
