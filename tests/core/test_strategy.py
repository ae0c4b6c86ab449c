"""Strategy API: declared parameters, construction, order helpers, and engine-level invariants
under random strategies (hypothesis)."""

from __future__ import annotations

import dis
import math
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ost_lab.core import (
    AccountType,
    Bar,
    Engine,
    FillEvent,
    Instrument,
    ListFeed,
    Order,
    OrderType,
    Param,
    Strategy,
)
from ost_lab.core.sim_broker import Commission, SimulatedBroker
from ost_lab.core.strategy import History

MIN = 60_000_000_000
T0 = 1_704_205_860_000_000_000


class Cross(Strategy):
    fast = Param(10, min=2, max=100, step=1, doc="fast length")
    slow = Param(30.0, min=5)
    mode = Param("long", choices=["long", "short", "both"])
    use_stop = Param(False)
    warmup = 3


class Child(Cross):
    extra = Param(1)


def test_params_defaults_specs_and_validation() -> None:
    s = Cross()
    assert s.param_values() == {"fast": 10, "slow": 30.0, "mode": "long", "use_stop": False}
    t = Cross(fast=20, slow=50, mode="both", use_stop=True, symbols=["X"], warmup=7)
    assert (t.fast, t.slow, t.mode, t.use_stop) == (20, 50.0, "both", True)
    assert isinstance(t.slow, float) and t.symbols == ("X",) and t.warmup == 7
    assert Cross().fast == 10  # instances do not share values
    spec = Cross.params()["fast"].spec()
    assert spec == {
        "name": "fast",
        "type": "int",
        "default": 10,
        "min": 2,
        "max": 100,
        "step": 1,
        "choices": None,
        "doc": "fast length",
    }
    assert list(Child.params()) == ["fast", "slow", "mode", "use_stop", "extra"]
    for bad in (
        {"fast": 1},
        {"fast": 101},
        {"fast": 2.5},
        {"mode": "x"},
        {"use_stop": 1},
        {"slow": "abc"},
        {"fast": True},
    ):
        with pytest.raises(ValueError):
            Cross(**bad)
    with pytest.raises(TypeError):
        Cross(nope=1)
    with pytest.raises(ValueError):
        Param(5, min=10)
    assert Cross(name="c2").name == "c2" and Cross().name == "Cross"


def test_order_type_inference_and_unattached() -> None:
    s = Cross(symbols=("AAA",))
    with pytest.raises(RuntimeError):
        s.buy(1)
    Engine(s, [])  # attaches
    assert s.buy(1, submit=False).type is OrderType.MARKET
    assert s.buy(1, limit=1, submit=False).type is OrderType.LIMIT
    assert s.sell(1, stop=1, submit=False).type is OrderType.STOP
    assert s.sell(1, stop=1, limit=1, submit=False).type is OrderType.STOP_LIMIT
    assert s.sell(1, trail=1, submit=False).type is OrderType.TRAILING_STOP
    o = s.buy(1, stop=1, type="market_if_touched", submit=False)
    assert o.type is OrderType.MARKET_IF_TOUCHED and o.tag == "Cross" and o.symbol == "AAA"
    with pytest.raises(ValueError):
        s.target_position("AAA")  # neither qty nor weight


def test_market_orders_get_every_field_the_general_path_gives() -> None:
    """Plain market orders skip the type inference; explicit prices still reach the order."""
    s = Cross(symbols=("AAA",))
    Engine(s, [])
    plain = s.buy(2, submit=False, tif="day", expire_ts=9, tag="t")
    general = s.buy(2, submit=False, type="market", tif="day", expire_ts=9, tag="t")
    fields = [f for f in Order.__dataclass_fields__ if f not in ("id",)]
    assert repr([getattr(plain, f) for f in fields]) == repr([getattr(general, f) for f in fields])
    priced = s.buy(2, submit=False, type="market", limit=5.0, stop=6.0)
    assert (priced.limit_price, priced.stop_price) == (5.0, 6.0)
    pct = s.buy(2, submit=False, type="market", trail_percent=True)
    assert pct.trailing_offset_type.name == "PERCENT"


def test_bound_history_last_price_follows_the_bars() -> None:
    h = History("AAA")
    assert math.isnan(h.last_price)
    close = np.array([1.0, 2.0, 3.0])
    ts = np.array([1, 2, 3], dtype=np.int64)
    h.bind(ts, close, close, close, close, close)
    assert math.isnan(h.last_price)
    h._n = 2  # the engine advances a bound history's length as bars close
    assert h.last_price == 2.0
    h.append(Bar("AAA", 4, 5.0, 5.0, 5.0, 5.0))  # copies out of the columns
    assert h.last_price == 5.0 and list(h.close) == [1.0, 2.0, 5.0]
    h.last_price = 7.0  # a tick's price
    assert h.last_price == 7.0


def test_target_weight_and_books() -> None:
    class W(Strategy):
        def on_bar(self, bar: Bar) -> None:
            n = len(self.data["ES"])
            if n == 1:
                self.target_position("ES", weight=0.5, tag="core")  # 0.5*1e6/(4000*50)=2.5->2
            if n == 2:
                self.target_position("ES", 3, tag="hedge")  # separate book

    bars = [
        Bar("ES", T0 + i * MIN, 4000, 4001, 3999, 4000, 10, T0 + (i - 1) * MIN) for i in range(4)
    ]
    s = W()
    res = Engine(
        s,
        bars,
        initial_cash=1e6,
        account_type=AccountType.MARGIN,
        instruments={"ES": Instrument("ES", multiplier=50, tick_size=0.25)},
    ).run()
    assert res.fills["qty"].tolist() == [2.0, 3.0]
    assert res.fills["tag"].tolist() == ["core", "hedge"]
    assert s.position_of("ES") == 5 and s.position_of("ES", "core") == 2


class RandomTrader(Strategy):
    """Random orders of every type; checks the accounting identities at every hook."""

    symbols = ("AAA", "BBB")

    def __init__(self, seed: int, check: Any) -> None:
        super().__init__()
        self.rng = np.random.default_rng(seed)
        self.check = check

    def on_bar(self, bar: Bar) -> None:
        self.check()
        r = self.rng.random()
        c = bar.close
        q = float(self.rng.integers(1, 20))
        side = 1 if self.rng.random() < 0.5 else -1
        tag = ["x", "y", None][int(self.rng.integers(0, 3))]
        if r < 0.15:
            self.order(side, q, bar.symbol, tag=tag)  # type: ignore[arg-type]
        elif r < 0.3:
            self.order(side, q, bar.symbol, limit=round(c - side * 0.5, 2), tag=tag)  # type: ignore[arg-type]
        elif r < 0.4:
            self.order(side, q, bar.symbol, stop=round(c + side * 0.5, 2), tif="DAY")  # type: ignore[arg-type]
        elif r < 0.5:
            self.order(side, q, bar.symbol, stop=c + side * 0.3, limit=c + side * 0.6)  # type: ignore[arg-type]
        elif r < 0.55:
            self.order(side, q, bar.symbol, trail=1.0, tif="IOC")  # type: ignore[arg-type]
        elif r < 0.6:
            self.bracket(side, q, bar.symbol, take_profit=c + side * 1.0, stop_loss=c - side * 1.0)  # type: ignore[arg-type]
        elif r < 0.7:
            for o in self.open_orders(bar.symbol)[:2]:
                self.cancel(o)
        elif r < 0.75:
            self.target_position(bar.symbol, 0)

    def on_fill(self, fill: FillEvent) -> None:
        self.check()


def bars_for(sym: str, closes: list[float]) -> list[Bar]:
    out = []
    prev = closes[0]
    for i, c in enumerate(closes):
        o = prev
        out.append(
            Bar(sym, T0 + i * MIN, o, max(o, c) + 0.7, min(o, c) - 0.7, c, 50.0, T0 + (i - 1) * MIN)
        )
        prev = c
    return out


class CheckingBroker(SimulatedBroker):
    """Asserts every fill is at a price the current bar traded (or the close it was sent at)."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.current: dict[str, Bar] = {}
        self.matching = False
        self.n_checked = 0

    def on_market_data(self, event: Any) -> None:
        self.current[event.symbol] = event
        self.matching = True
        super().on_market_data(event)
        self.matching = False

    def _fill(self, order: Order, ts: int, qty: float, price: float) -> None:
        bar = self.current[order.symbol]
        if self.matching:
            assert bar.low <= price <= bar.high
            assert ts in (bar.ts_open, bar.ts)
        else:
            assert self.fill_timing == "close" and order.type is OrderType.MARKET
            assert price == bar.close and ts == bar.ts  # same-bar-close market fill
        self.n_checked += 1
        super()._fill(order, ts, qty, price)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    steps=st.lists(st.integers(-3, 3), min_size=5, max_size=60),
    timing=st.sampled_from(["next_open", "close"]),
)
def test_portfolio_invariants_after_every_event(seed: int, steps: list[int], timing: str) -> None:
    closes = list(100 + np.cumsum(np.array(steps, dtype=float) * 0.5))
    feed = ListFeed(bars_for("AAA", closes) + bars_for("BBB", [c / 2 + 10 for c in closes]))
    holder: dict[str, Engine] = {}

    def check() -> None:
        eng = holder["e"]
        pf = eng.portfolio
        fills = pf.fills
        cash = 1e6 - sum(f.signed_qty * f.price + f.commission for f in fills)
        qty: dict[str, float] = {}
        for f in fills:
            qty[f.symbol] = qty.get(f.symbol, 0.0) + f.signed_qty
        assert pf.cash == pytest.approx(cash, abs=1e-6)
        mv = sum(q * pf.marks[s] for s, q in qty.items())
        assert pf.equity() == pytest.approx(cash + mv, abs=1e-6)
        assert sum(pf.book_pnl(t) for t in pf.books) == pytest.approx(pf.equity() - 1e6, abs=1e-6)
        for o in eng.orders.values():
            assert o.filled_qty <= o.qty + 1e-9
            assert o.status.is_terminal or o.filled_qty < o.qty

    broker = CheckingBroker(
        fill_timing=timing,
        commission=Commission(per_unit=0.01),  # type: ignore[arg-type]
        max_volume_fraction=0.2,
    )
    eng = Engine(
        RandomTrader(seed, check), feed, broker, initial_cash=1e6, account_type=AccountType.MARGIN
    )
    holder["e"] = eng
    res = eng.run()
    assert broker.n_checked == len(res.fills)  # every fill went through the price check
    check()
    # every order event chain is legal and the fills DataFrame matches the order book
    for o in res.orders:
        filled = res.fills[(res.fills["qty"] != 0)]
        assert o.filled_qty == pytest.approx(
            sum(abs(f.qty) for f in res.portfolio.fills if f.order_id == o.id)
        )
    assert len(filled) == len(res.portfolio.fills)
    assert res.equity.iloc[-1] == pytest.approx(res.portfolio.equity())


def test_order_is_plain_data() -> None:
    o = Order(id="a", symbol="AAA", side=1, qty=1)  # type: ignore[arg-type]
    assert o.signed_qty == 1 and o.leaves_qty == 1 and not o.is_open


class Tracker(Strategy):
    """Reads and writes its own attributes on every bar, as user strategies do."""

    n = Param(3, min=1)

    def on_start(self) -> None:
        self._seen = 0
        self._last = math.nan

    def on_bar(self, bar: Bar) -> None:
        self._seen = self._seen + 1
        self._last = bar.close


def test_param_values_live_on_the_instance_without_touching_its_dict() -> None:
    s = Tracker(n=5)
    assert s.n == 5 and Tracker().n == 3 and Tracker.n.default == 3
    s.n = 7
    assert s.n == 7 and s.param_values() == {"n": 7}
    with pytest.raises(ValueError):
        s.n = 0
    assert s.n == 7


@pytest.mark.skipif(
    sys.implementation.name != "cpython" or sys.version_info[:2] not in ((3, 11), (3, 12)),
    reason="instruction names of CPython 3.11-3.12's specializing interpreter",
)
def test_strategy_attributes_keep_the_fast_path_after_a_run() -> None:
    # Parameters and the engine's hook check must not materialise the instance __dict__:
    # then ``self._seen`` in on_bar is a specialised instance-value access, not a dict lookup.
    s = Tracker(n=4)
    Engine(s, ListFeed(bars_for("X", [100.0 + i % 7 for i in range(400)]))).run()
    assert s._seen == 400 and s.n == 4
    ops = {
        i.argval: i.opname
        for i in dis.get_instructions(Tracker.on_bar, adaptive=True)
        if i.argval in ("_seen", "_last")
    }
    assert ops == {"_seen": "STORE_ATTR_INSTANCE_VALUE", "_last": "STORE_ATTR_INSTANCE_VALUE"}
