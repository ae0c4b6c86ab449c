"""Order state machine: legal paths, illegal transitions, fills, and a hypothesis state machine."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ost_lab.core.orders import (
    TRANSITIONS,
    IllegalTransition,
    Order,
    OrderIdGenerator,
    OverfillError,
    link_bracket,
    link_oco,
    market_order,
)
from ost_lab.core.types import Instrument, OrderStatus, OrderType, Side, TimeInForce

S = OrderStatus


def mk(qty: float = 10.0, **kw: object) -> Order:
    return Order(id="O-1", symbol="AAA", side=Side.BUY, qty=qty, **kw)  # type: ignore[arg-type]


def test_happy_path_events_carry_timestamps() -> None:
    o = mk()
    o.submit(1)
    o.accept(2)
    o.fill(3, 4.0, 100.0)
    assert o.status is S.PARTIALLY_FILLED
    o.fill(4, 6.0, 101.0)
    assert o.status is S.FILLED
    assert o.filled_qty == 10.0 and o.leaves_qty == 0.0
    assert o.avg_fill_price == pytest.approx((4 * 100 + 6 * 101) / 10)
    assert [e.status for e in o.events] == [S.SUBMITTED, S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED]
    assert [e.ts for e in o.events] == [1, 2, 3, 4]
    assert o.events[0].prev_status is S.INITIALIZED


def test_terminal_states_have_no_exit() -> None:
    for terminal in (S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED):
        assert TRANSITIONS[terminal] == frozenset()
        assert terminal.is_terminal


def test_illegal_transitions_raise() -> None:
    o = mk()
    with pytest.raises(IllegalTransition):
        o.accept(1)  # not submitted yet
    with pytest.raises(IllegalTransition):
        o.fill(1, 1.0, 1.0)
    o.submit(1)
    o.reject(2, "no")
    with pytest.raises(IllegalTransition):
        o.accept(3)
    with pytest.raises(IllegalTransition):
        o.cancel(3)
    assert o.events[-1].reason == "no"


def test_overfill_raises_and_leaves_state_unchanged() -> None:
    o = mk(5.0)
    o.submit(1)
    o.accept(1)
    o.fill(2, 3.0, 10.0)
    with pytest.raises(OverfillError):
        o.fill(3, 3.0, 10.0)
    assert o.filled_qty == 3.0 and o.status is S.PARTIALLY_FILLED


def test_timestamps_must_not_go_backwards() -> None:
    o = mk()
    o.submit(10)
    with pytest.raises(ValueError):
        o.accept(9)


def test_submit_accept_is_submit_then_accept() -> None:
    one, two = mk(), mk()
    events = one.submit_accept(7)
    assert events == (two.submit(7), two.accept(7))
    assert one.events == two.events and one.status is two.status is S.ACCEPTED
    assert one.ts_last == 7
    with pytest.raises(IllegalTransition):
        one.submit_accept(8)  # already working: the two steps' own error
    late = mk(ts_init=5)
    with pytest.raises(ValueError):
        late.submit_accept(4)  # before the order's last event
    assert late.status is S.INITIALIZED and late.events == []


def test_fill_before_the_last_event_raises_and_changes_nothing() -> None:
    o = mk(5.0)
    o.submit_accept(10)
    with pytest.raises(ValueError):
        o.fill(9, 2.0, 10.0)
    assert o.filled_qty == 0.0 and math.isnan(o.avg_fill_price) and o.status is S.ACCEPTED
    assert len(o.events) == 2


def test_fill_records_the_transition_as_apply_does() -> None:
    o = mk(5.0)
    o.submit_accept(1)
    part = o.fill(2, 2.0, 10.0)
    done = o.fill(3, 3.0, 12.0)
    assert (part.status, part.prev_status, part.ts) == (S.PARTIALLY_FILLED, S.ACCEPTED, 2)
    assert (done.status, done.prev_status, done.ts) == (S.FILLED, S.PARTIALLY_FILLED, 3)
    assert o.events[-2:] == [part, done] and o.ts_last == 3
    assert o.avg_fill_price == (2.0 * 10.0 + 3.0 * 12.0) / 5.0


def _fields(o: Order) -> list[str]:
    return [repr(getattr(o, f.name)) for f in dataclasses.fields(Order)]


@pytest.mark.parametrize("tif", [TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC])
def test_market_order_equals_the_constructor(tif: TimeInForce) -> None:
    args = ("O-7", "AAA", Side.SELL, 3.0, tif, 99, "book", "strat", 12)
    fast = market_order(*args)
    slow = Order(*args[:4], tif=tif, expire_ts=99, tag="book", strategy_id="strat", ts_init=12)
    assert type(fast) is Order and _fields(fast) == _fields(slow)
    other = market_order(*args)  # fresh lists per order, as the default factories make
    assert fast.events is not other.events and fast.child_ids is not other.child_ids


def test_market_order_hands_anything_else_to_the_constructor() -> None:
    for qty in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="qty"):
            market_order("O-1", "AAA", Side.BUY, qty, TimeInForce.GTC, -1, "t", "s", 0)
    with pytest.raises(ValueError, match="GTD"):
        market_order("O-1", "AAA", Side.BUY, 1.0, TimeInForce.GTD, -1, "t", "s", 0)
    coerced = market_order("O-1", "AAA", -1, 2, 1, -1, "t", "s", 0)  # type: ignore[arg-type]
    assert coerced.side is Side.SELL and coerced.tif is TimeInForce(1) and coerced.qty == 2


def test_pending_cancel_and_modify_resume() -> None:
    o = mk(10.0, type=OrderType.LIMIT, limit_price=99.0)
    o.submit(1)
    o.accept(1)
    o.request_cancel(2)
    o.revert_pending(3, "too late")  # cancel refused
    assert o.status is S.ACCEPTED
    o.fill(4, 2.0, 99.0)
    o.request_modify(5)
    o.modify(6, qty=8.0, limit_price=98.5)
    assert o.status is S.PARTIALLY_FILLED and o.qty == 8.0 and o.limit_price == 98.5
    with pytest.raises(ValueError):
        o.modify(7, qty=2.0)  # not above filled qty
    o.request_cancel(8)
    o.cancel(9)
    assert o.is_terminal and not o.is_open


def test_validation_of_prices_per_type() -> None:
    with pytest.raises(ValueError):
        mk(type=OrderType.LIMIT)
    with pytest.raises(ValueError):
        mk(type=OrderType.STOP)
    with pytest.raises(ValueError):
        mk(type=OrderType.STOP_LIMIT, stop_price=1.0)
    with pytest.raises(ValueError):
        mk(type=OrderType.MARKET_IF_TOUCHED)
    with pytest.raises(ValueError):
        mk(type=OrderType.LIMIT_IF_TOUCHED, stop_price=1.0)
    with pytest.raises(ValueError):
        mk(type=OrderType.TRAILING_STOP)
    with pytest.raises(ValueError):
        mk(tif=TimeInForce.GTD)
    with pytest.raises(ValueError):
        mk(qty=0.0)
    with pytest.raises(ValueError):
        mk(qty=math.inf)
    mk(type=OrderType.TRAILING_STOP, trailing_offset=1.0)
    mk(tif=TimeInForce.GTD, expire_ts=5)


def test_id_generator_is_deterministic() -> None:
    a, b = OrderIdGenerator(), OrderIdGenerator()
    assert [a(), a()] == [b(), b()] == ["O-000001", "O-000002"]


def test_bracket_and_oco_linkage() -> None:
    entry = Order(id="E", symbol="AAA", side=Side.BUY, qty=5, tag="t1")
    tp = Order(id="TP", symbol="AAA", side=Side.SELL, qty=5, type=OrderType.LIMIT, limit_price=110)
    sl = Order(id="SL", symbol="AAA", side=Side.SELL, qty=5, type=OrderType.STOP, stop_price=90)
    link_bracket(entry, tp, sl)
    assert entry.child_ids == ["TP", "SL"]
    assert tp.parent_id == sl.parent_id == "E"
    assert tp.oco_ids == ["SL"] and sl.oco_ids == ["TP"]
    assert tp.tag == "t1"
    bad = Order(id="B", symbol="AAA", side=Side.BUY, qty=5, type=OrderType.LIMIT, limit_price=1)
    with pytest.raises(ValueError):
        link_bracket(entry, bad, None)
    a, b, c = (Order(id=x, symbol="AAA", side=Side.SELL, qty=1) for x in "abc")
    link_oco(a, b, c)
    assert b.oco_ids == ["a", "c"]


def test_instrument_rounding_and_validation() -> None:
    es = Instrument("ES", multiplier=50, tick_size=0.25, lot_size=1)
    assert es.round_price(4000.13) == 4000.25  # 16000.52 ticks -> 16001
    assert es.round_price(4000.12) == 4000.0  # 16000.48 ticks -> 16000
    assert es.round_price(4000.38) == 4000.5
    assert es.round_qty(2.7) == 2.0 and es.round_qty(-2.7) == -2.0 and es.round_qty(0.3) == 0.0
    assert es.value(2, 4000.0) == 400_000.0
    with pytest.raises(ValueError):
        Instrument("X", multiplier=0)
    with pytest.raises(ValueError):
        Instrument("")


# ------------------------------------------------------------------ hypothesis state machine
class OrderMachine(RuleBasedStateMachine):
    """Drive one order with random commands; legal ones succeed, illegal ones raise and change
    nothing. The order must always be in a valid state with filled <= qty."""

    def __init__(self) -> None:
        super().__init__()
        self.order = Order(id="H", symbol="AAA", side=Side.SELL, qty=10.0)
        self.ts = 0

    def _try(self, fn: object, *args: object) -> None:
        before = (self.order.status, self.order.filled_qty, len(self.order.events))
        self.ts += 1
        try:
            fn(self.ts, *args)  # type: ignore[operator]
        except (IllegalTransition, OverfillError, ValueError):
            assert (self.order.status, self.order.filled_qty, len(self.order.events)) == before
        else:
            ev = self.order.events[-1]
            assert ev.status is self.order.status
            assert ev.status in TRANSITIONS[ev.prev_status]

    @rule()
    def submit(self) -> None:
        self._try(self.order.submit)

    @rule()
    def accept(self) -> None:
        self._try(self.order.accept)

    @rule()
    def reject(self) -> None:
        self._try(self.order.reject, "r")

    @rule()
    def request_cancel(self) -> None:
        self._try(self.order.request_cancel)

    @rule()
    def cancel(self) -> None:
        self._try(self.order.cancel)

    @rule()
    def expire(self) -> None:
        self._try(self.order.expire)

    @rule()
    def request_modify(self) -> None:
        self._try(self.order.request_modify)

    @rule()
    def revert(self) -> None:
        self._try(self.order.revert_pending)

    @rule(q=st.floats(min_value=0.5, max_value=20.0))
    def modify(self, q: float) -> None:
        self._try(self.order.modify, q)

    @rule(q=st.sampled_from([0.5, 1.0, 2.5, 4.0, 7.0, 10.0, 12.0]))
    def fill(self, q: float) -> None:
        self._try(self.order.fill, q, 100.0)

    @invariant()
    def never_overfilled(self) -> None:
        o = self.order
        assert 0.0 <= o.filled_qty <= o.qty + 1e-9
        assert o.status in TRANSITIONS
        if o.status is S.FILLED:
            assert o.filled_qty == o.qty
        if o.status is S.PARTIALLY_FILLED:
            assert 0 < o.filled_qty < o.qty
        if o.status.is_terminal and o.events:
            assert o.events[-1].status is o.status

    @invariant()
    def events_chain(self) -> None:
        prev = S.INITIALIZED
        ts = 0
        for e in self.order.events:
            assert e.prev_status is prev and e.status in TRANSITIONS[prev]
            assert e.ts >= ts
            prev, ts = e.status, e.ts
        assert prev is self.order.status


OrderMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
TestOrderMachine = OrderMachine.TestCase
