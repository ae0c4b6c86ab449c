"""Reference fill rules on hand-made bars; every expected price is worked out by hand."""

from __future__ import annotations

import math

import numba
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ost_lab.core import matching as m
from ost_lab.core.types import OrderType

BUY, SELL = 1, -1
nan = math.nan


def is_nan(x: float) -> bool:
    return x != x


# bar: open, high, low, close
def test_market_fills_at_open() -> None:
    assert m.match_bar(BUY, OrderType.MARKET, nan, nan, False, 100, 105, 95, 101) == (100, True)
    assert m.match_bar(SELL, OrderType.MARKET, nan, nan, False, 100, 105, 95, 101)[0] == 100


def test_limit_buy_and_sell() -> None:
    assert m.fill_limit(BUY, 99.0, 100, 105, 98) == 99.0  # low reaches limit
    assert m.fill_limit(BUY, 101.0, 100, 105, 98) == 100.0  # open already better: improvement
    assert is_nan(m.fill_limit(BUY, 97.0, 100, 105, 98))  # never reached
    assert m.fill_limit(BUY, 98.0, 100, 105, 98) == 98.0  # touch counts
    assert m.fill_limit(SELL, 104.0, 100, 105, 98) == 104.0
    assert m.fill_limit(SELL, 99.0, 100, 105, 98) == 100.0
    assert is_nan(m.fill_limit(SELL, 106.0, 100, 105, 98))


def test_stop_gap_fills_at_open_never_better_than_trigger() -> None:
    # buy stop at 102, bar gaps up to open 104: fills at 104 (worse than trigger)
    assert m.fill_stop(BUY, 102.0, 104, 106, 103) == 104.0
    # intrabar: open 100, high 103 crosses 102 -> fills at 102
    assert m.fill_stop(BUY, 102.0, 100, 103, 99) == 102.0
    assert is_nan(m.fill_stop(BUY, 102.0, 100, 101.5, 99))
    # sell stop at 95, gap down open 93 -> 93
    assert m.fill_stop(SELL, 95.0, 93, 94, 90) == 93.0
    assert m.fill_stop(SELL, 95.0, 100, 101, 94) == 95.0
    assert is_nan(m.fill_stop(SELL, 95.0, 100, 101, 95.5))


def test_stop_limit_only_reachable_prices() -> None:
    # buy stop 102 limit 103, intrabar trigger: trigger 102 <= limit -> fill at 102
    assert m.fill_stop_limit(BUY, 102, 103, False, 100, 105, 99, 104) == (102, True)
    # buy stop 102 limit 101.5 (below stop), intrabar trigger, close 104 above limit:
    # the low 99 may have come before the trigger -> no fill, stays triggered
    p, trig = m.fill_stop_limit(BUY, 102, 101.5, False, 100, 105, 99, 104)
    assert is_nan(p) and trig
    # same but close 101 <= limit: price traded down through 101.5 after the trigger
    assert m.fill_stop_limit(BUY, 102, 101.5, False, 100, 105, 99, 101) == (101.5, True)
    # gap through stop at open 104 with limit 103: open too high; low 102.5 <= 103 -> 103
    assert m.fill_stop_limit(BUY, 102, 103, False, 104, 106, 102.5, 105) == (103, True)
    # gap with open below limit -> open
    assert m.fill_stop_limit(BUY, 102, 105, False, 104, 106, 102.5, 105) == (104, True)
    # not triggered
    p, trig = m.fill_stop_limit(BUY, 102, 103, False, 100, 101, 99, 100)
    assert is_nan(p) and not trig
    # already triggered earlier: plain limit on this bar
    assert m.fill_stop_limit(BUY, 102, 101.5, True, 103, 104, 101, 102) == (101.5, True)
    # sell stop 95 limit 94.5: intrabar trigger, trigger 95 >= 94.5 -> 95
    assert m.fill_stop_limit(SELL, 95, 94.5, False, 100, 100, 94, 96) == (95, True)
    # sell stop 95 limit 96 (above stop): close 97 >= 96 -> 96
    assert m.fill_stop_limit(SELL, 95, 96, False, 100, 100, 94, 97) == (96, True)


def test_market_and_limit_if_touched() -> None:
    # buy MIT at 98 (below market): low 97 touches -> 98; gap open 96 -> 96
    assert m.match_bar(BUY, OrderType.MARKET_IF_TOUCHED, nan, 98, False, 100, 101, 97, 99)[0] == 98
    assert m.match_bar(BUY, OrderType.MARKET_IF_TOUCHED, nan, 98, False, 96, 97, 95, 96)[0] == 96
    assert is_nan(
        m.match_bar(BUY, OrderType.MARKET_IF_TOUCHED, nan, 98, False, 100, 101, 99, 99)[0]
    )
    # sell MIT at 103: high 104 -> 103
    assert (
        m.match_bar(SELL, OrderType.MARKET_IF_TOUCHED, nan, 103, False, 100, 104, 99, 99)[0] == 103
    )
    # buy LIT trigger 98 limit 98.5: intrabar trigger at 98 <= 98.5 -> 98
    assert m.match_bar(BUY, OrderType.LIMIT_IF_TOUCHED, 98.5, 98, False, 100, 101, 97, 99) == (
        98,
        True,
    )
    # buy LIT trigger 98 limit 97.5: after trigger only [98, close 99] known -> no fill
    p, trig = m.match_bar(BUY, OrderType.LIMIT_IF_TOUCHED, 97.5, 98, False, 100, 101, 97, 99)
    assert is_nan(p) and trig
    # sell LIT trigger 103 limit 103.5, gap open 104 -> open 104 >= limit -> 104
    assert m.match_bar(SELL, OrderType.LIMIT_IF_TOUCHED, 103.5, 103, False, 104, 105, 102, 103) == (
        104,
        True,
    )


def test_trailing_stop_amount_and_percent() -> None:
    # sell trailing 2.0 from ref 100 -> 98
    s = m.trailing_stop_init(SELL, 100.0, 2.0, False)
    assert s == 98.0
    # bar 1: o 101 h 105 l 99: not hit (99 > 98); then ratchet to 105-2 = 103
    assert is_nan(m.match_bar(SELL, OrderType.TRAILING_STOP, nan, s, False, 101, 105, 99, 104)[0])
    s = m.trailing_stop_update(SELL, s, 2.0, False, 105, 99)
    assert s == 103.0
    # a lower high never loosens it
    assert m.trailing_stop_update(SELL, s, 2.0, False, 104, 100) == 103.0
    # bar 2: o 104 l 102 -> hits 103
    assert (
        m.match_bar(SELL, OrderType.TRAILING_STOP, nan, s, False, 104, 104.5, 102, 102.5)[0] == 103
    )
    # buy trailing 5 % from ref 200 -> 210; low 190 ratchets to 199.5
    b = m.trailing_stop_init(BUY, 200.0, 5.0, True)
    assert b == pytest.approx(210.0)
    assert m.trailing_stop_update(BUY, b, 5.0, True, 201, 190) == pytest.approx(199.5)


def test_slip_quantity_expiry() -> None:
    assert m.slip(BUY, 100.0, 2, 0.25) == 100.5
    assert m.slip(SELL, 100.0, 2, 0.25) == 99.5
    assert m.fill_quantity(100.0, 1000.0, 0.0, 1.0) == 100.0
    assert m.fill_quantity(100.0, 1000.0, 0.05, 1.0) == 50.0
    assert m.fill_quantity(100.0, 1000.0, 0.05, 20.0) == 40.0
    assert m.is_expired(10, 10) and not m.is_expired(10, 9) and not m.is_expired(-1, 10**18)


def test_numba_compiles_the_same_rules() -> None:
    j = m.njit_all(numba.njit)
    cases = [
        (BUY, OrderType.STOP_LIMIT, 101.5, 102.0, False, 100.0, 105.0, 99.0, 101.0),
        (SELL, OrderType.LIMIT, 104.0, nan, False, 100.0, 105.0, 98.0, 101.0),
        (BUY, OrderType.LIMIT_IF_TOUCHED, 98.5, 98.0, False, 100.0, 101.0, 97.0, 99.0),
    ]
    for c in cases:
        assert j["match_bar"](*[int(x) if i < 2 else x for i, x in enumerate(c)]) == m.match_bar(*c)


prices = st.floats(min_value=1.0, max_value=1000.0, allow_nan=False)


@st.composite
def bars(draw: st.DrawFn) -> tuple[float, float, float, float]:
    a, b, c, d = (draw(prices) for _ in range(4))
    lo, hi = min(a, b, c, d), max(a, b, c, d)
    return b, hi, lo, c


@settings(max_examples=400, deadline=None)
@given(
    bar=bars(),
    side=st.sampled_from([BUY, SELL]),
    otype=st.sampled_from(list(OrderType)),
    limit=prices,
    stop=prices,
    triggered=st.booleans(),
)
def test_fills_are_inside_the_bar_and_respect_limits(
    bar: tuple[float, float, float, float],
    side: int,
    otype: OrderType,
    limit: float,
    stop: float,
    triggered: bool,
) -> None:
    o, h, lo, c = bar
    p, _ = m.match_bar(side, int(otype), limit, stop, triggered, o, h, lo, c)
    if is_nan(p):
        return
    assert lo <= p <= h  # only prices the bar traded
    if otype in (OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.LIMIT_IF_TOUCHED):
        assert p <= limit if side == BUY else p >= limit  # limit or better
    if otype in (OrderType.STOP, OrderType.TRAILING_STOP):
        assert p >= stop if side == BUY else p <= stop  # never better than the trigger
    gapped = o >= stop if side == BUY else o <= stop
    if otype is OrderType.STOP_LIMIT and not triggered and not gapped:
        # triggered intrabar: only prices between trigger and close traded afterwards
        assert min(stop, c) <= p <= max(stop, c)


_JIT: dict[str, object] = {}


@settings(max_examples=300, deadline=None)
@given(
    bar=bars(),
    side=st.sampled_from([BUY, SELL]),
    otype=st.sampled_from(list(OrderType)),
    limit=prices,
    stop=prices,
    triggered=st.booleans(),
)
def test_numba_and_python_rules_agree(
    bar: tuple[float, float, float, float],
    side: int,
    otype: OrderType,
    limit: float,
    stop: float,
    triggered: bool,
) -> None:
    if not _JIT:
        _JIT.update(m.njit_all(numba.njit))
    jitted = _JIT["match_bar"]
    o, h, lo, c = bar
    expected = m.match_bar(side, int(otype), limit, stop, triggered, o, h, lo, c)
    got = jitted(side, int(otype), limit, stop, triggered, o, h, lo, c)  # type: ignore[operator]
    assert (is_nan(got[0]) and is_nan(expected[0])) or got[0] == expected[0]
    assert got[1] == expected[1]
