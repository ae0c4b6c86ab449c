"""The event loop: position is current, no look-ahead, fill timing, order types and TIF through
the engine, brackets/OCO, run control, determinism. Prices are hand-computed from the bars."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ost_lab.core import (
    FILLS_COLUMNS,
    AccountType,
    Bar,
    Commission,
    Engine,
    FillEvent,
    ListFeed,
    Order,
    OrderEvent,
    OrderStatus,
    OrderType,
    RunControl,
    SimulatedBroker,
    Strategy,
    Tick,
    TimeInForce,
)

MIN = 60_000_000_000
#: 2024-01-02 14:31 UTC (a Tuesday), the close of the first test bar.
T0 = 1_704_205_860_000_000_000


def make_bars(
    ohlc: Sequence[tuple[float, float, float, float]],
    symbol: str = "AAA",
    t0: int = T0,
    step: int = MIN,
    volume: float = 1_000.0,
) -> list[Bar]:
    """One-minute bars: bar i opens at t0 + (i-1)*step and closes at t0 + i*step."""
    return [
        Bar(symbol, t0 + i * step, o, h, lo, c, volume, ts_open=t0 + i * step - step)
        for i, (o, h, lo, c) in enumerate(ohlc)
    ]


BARS = [
    (100.0, 101.0, 99.0, 100.5),  # 0
    (101.0, 102.0, 100.0, 101.5),  # 1
    (103.0, 104.0, 102.0, 103.0),  # 2
    (102.0, 103.0, 98.0, 99.0),  # 3
    (99.0, 100.0, 97.0, 98.0),  # 4
]


class BuyOnceWhenFlat(Strategy):
    """Buys 10 whenever flat; must never double-buy."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.seen: list[tuple[int, float, int, float]] = []

    def on_bar(self, bar: Bar) -> None:
        self.seen.append((bar.ts, self.position, len(self.data[bar.symbol]), bar.close))
        if self.position == 0:  # no open-order guard: relies on the position being current
            self.buy(10)


@pytest.mark.parametrize("timing", ["next_open", "close"])
def test_buy_once_when_flat_never_double_buys(timing: str) -> None:
    s = BuyOnceWhenFlat()
    res = Engine(s, make_bars(BARS), fill_timing=timing, initial_cash=10_000).run()  # type: ignore[arg-type]
    assert len(res.fills) == 1
    assert res.portfolio.position("AAA") == 10
    if timing == "next_open":
        # submitted at bar 0's close, filled at bar 1's open (101), visible in on_bar(bar 1)
        assert res.fills["price"].tolist() == [101.0]
        assert res.fills["ts"].tolist() == [T0]  # bar 1's ts_open (= bar 0's close)
        assert [x[1] for x in s.seen] == [0, 10, 10, 10, 10]
    else:
        # same-bar-close: filled at bar 0's close 100.5
        assert res.fills["price"].tolist() == [100.5]
        assert res.fills["ts"].tolist() == [T0]
        assert [x[1] for x in s.seen] == [0, 10, 10, 10, 10]


def test_target_position_never_double_trades() -> None:
    class Target(Strategy):
        def on_bar(self, bar: Bar) -> None:
            self.target_position("AAA", 7)

    res = Engine(Target(), make_bars(BARS)).run()
    assert res.fills["qty"].tolist() == [7.0]


def test_no_look_ahead_and_equity_by_hand() -> None:
    s = BuyOnceWhenFlat()
    res = Engine(s, make_bars(BARS), initial_cash=10_000).run()
    # in on_bar(t) the history holds exactly bars 0..t and the last close is bar t's close
    for i, (ts, _pos, n, close) in enumerate(s.seen):
        assert n == i + 1 and close == BARS[i][3] and ts == T0 + i * MIN
    # cash 10000 - 10*101 = 8990; equity = 8990 + 10*close
    expected = [10_000.0, 8990 + 1015.0, 8990 + 1030.0, 8990 + 990.0, 8990 + 980.0]
    assert res.equity.tolist() == expected
    assert list(res.equity.index.asi8) == [T0 + i * MIN for i in range(5)]
    assert tuple(res.fills.columns) == FILLS_COLUMNS
    assert res.status == "completed"


def test_history_views_are_read_only_views() -> None:
    class Peek(Strategy):
        def on_bar(self, bar: Bar) -> None:
            h = self.data["AAA"]
            c = h.close
            assert np.shares_memory(c, h._cols["close"])
            assert not c.flags.writeable
            assert h.ts[-1] == bar.ts and h.high[-1] == bar.high and h.low[-1] == bar.low

    Engine(Peek(), make_bars(BARS * 100)).run()  # crosses the capacity doubling


def test_warmup_delays_on_bar() -> None:
    class W(Strategy):
        warmup = 3

        def __init__(self) -> None:
            super().__init__()
            self.calls: list[int] = []

        def on_bar(self, bar: Bar) -> None:
            self.calls.append(len(self.data["AAA"]))

    s = W()
    Engine(s, make_bars(BARS)).run()
    assert s.calls == [3, 4, 5]


class OneShot(Strategy):
    """Submits the given orders on the first bar."""

    def __init__(self, orders: list[dict[str, Any]], **kw: Any) -> None:
        super().__init__(**kw)
        self.specs = orders
        self.placed: list[Order] = []
        self.order_events: list[OrderEvent] = []
        self.fills: list[FillEvent] = []

    def on_bar(self, bar: Bar) -> None:
        if len(self.data[bar.symbol]) == 1:
            for spec in self.specs:
                spec = dict(spec)
                side = spec.pop("side")
                qty = spec.pop("qty", 1)
                self.placed.append(self.order(side, qty, "AAA", **spec))

    def on_order(self, order: Order, event: OrderEvent) -> None:
        self.order_events.append(event)

    def on_fill(self, fill: FillEvent) -> None:
        self.fills.append(fill)


def run_one(spec: dict[str, Any], bars: list[Bar] | None = None, **kw: Any) -> Order:
    s = OneShot([spec])
    kw.setdefault("account_type", AccountType.MARGIN)  # sells open shorts
    Engine(s, bars or make_bars(BARS), initial_cash=1e6, **kw).run()
    return s.placed[0]


@pytest.mark.parametrize(
    ("spec", "price", "status"),
    [
        # market: bar 1 open
        ({"side": 1}, 101.0, OrderStatus.FILLED),
        # limit buy 99.5: bars 1,2 lows 100,102 -> bar 3 low 98 -> 99.5
        ({"side": 1, "limit": 99.5}, 99.5, OrderStatus.FILLED),
        # limit sell 103.5: bar 2 high 104 -> 103.5
        ({"side": -1, "limit": 103.5}, 103.5, OrderStatus.FILLED),
        # buy stop 102.5: bar 1 high 102 no; bar 2 gaps open 103 -> 103 (never better than stop)
        ({"side": 1, "stop": 102.5}, 103.0, OrderStatus.FILLED),
        # sell stop 99.5: bar 3 low 98 -> 99.5
        ({"side": -1, "stop": 99.5}, 99.5, OrderStatus.FILLED),
        # buy stop-limit stop 101.5 limit 101.8: bar 1 triggers at 101.5 <= limit -> 101.5
        ({"side": 1, "stop": 101.5, "limit": 101.8}, 101.5, OrderStatus.FILLED),
        # buy stop-limit stop 101.8 limit 101.2: bar 1 triggers intrabar, close 101.5 > 101.2 no;
        # bar 2 low 102 > 101.2 no; bar 3 low 98 -> limit 101.2
        ({"side": 1, "stop": 101.8, "limit": 101.2}, 101.2, OrderStatus.FILLED),
        # buy MIT trigger 98.5: bar 3 low 98 -> 98.5
        ({"side": 1, "stop": 98.5, "type": "market_if_touched"}, 98.5, OrderStatus.FILLED),
        # sell LIT trigger 103.5 limit 103.2: bar 2 high 104 triggers, 103.5 >= 103.2 -> 103.5
        (
            {"side": -1, "stop": 103.5, "limit": 103.2, "type": "limit_if_touched"},
            103.5,
            OrderStatus.FILLED,
        ),
        # sell trailing 1.5 from ref close 100.5 -> 99; bar1 l100 ok, ratchet 102-1.5=100.5;
        # bar 2 l 102 ok, ratchet 104-1.5=102.5; bar 3 opens 102 <= 102.5 -> gap fill at 102
        ({"side": -1, "trail": 1.5}, 102.0, OrderStatus.FILLED),
        # limit never reached stays working (GTC)
        ({"side": 1, "limit": 90.0}, math.nan, OrderStatus.ACCEPTED),
    ],
)
def test_order_types_through_engine(
    spec: dict[str, Any], price: float, status: OrderStatus
) -> None:
    o = run_one(spec)
    assert o.status is status
    if not math.isnan(price):
        assert o.avg_fill_price == pytest.approx(price)


def test_trailing_percent() -> None:
    # sell trailing 2 % from ref 100.5 -> 98.49; bar1 ratchet 102*0.98=99.96; bar2 104*.98=101.92
    # bar 3 open 102 > 101.92, low 98 -> fills at 101.92
    o = run_one({"side": -1, "trail": 2.0, "trail_percent": True})
    assert o.avg_fill_price == pytest.approx(101.92)


def test_tif_day_gtd_ioc_fok() -> None:
    # DAY: two bars on day 1, then bars on the next UTC day; limit 90 never fills -> expires
    day2 = make_bars(BARS[2:], t0=(T0 // 86_400_000_000_000 + 1) * 86_400_000_000_000 + MIN)
    bars = make_bars(BARS[:2]) + day2
    o = run_one({"side": 1, "limit": 90.0, "tif": "DAY"}, bars)
    assert o.status is OrderStatus.EXPIRED
    assert o.events[-1].ts == day2[0].ts_open
    # GTD: expires at bar 2's open time
    o = run_one({"side": 1, "limit": 90.0, "tif": "GTD", "expire_ts": T0 + MIN})
    assert o.status is OrderStatus.EXPIRED and o.events[-1].ts == T0 + MIN
    # GTD before the fill bar: limit 99.5 would fill on bar 3, but it expired on bar 2
    o = run_one({"side": 1, "limit": 99.5, "tif": TimeInForce.GTD, "expire_ts": T0 + MIN})
    assert o.status is OrderStatus.EXPIRED and o.filled_qty == 0
    # IOC limit not marketable on bar 1 (low 100 > 99.5): canceled after one bar
    o = run_one({"side": 1, "limit": 99.5, "tif": "IOC"})
    assert o.status is OrderStatus.CANCELED and o.filled_qty == 0
    # IOC marketable: fills at bar 1
    o = run_one({"side": 1, "limit": 101.5, "tif": "IOC"})
    assert o.status is OrderStatus.FILLED and o.avg_fill_price == 101.0
    # volume cap 10 % of 1000 = 100 per bar: IOC for 150 fills 100 then cancels the rest
    capped = SimulatedBroker(max_volume_fraction=0.1)
    o = run_one({"side": 1, "qty": 150, "tif": "IOC"}, broker=capped)
    assert o.status is OrderStatus.CANCELED and o.filled_qty == 100
    # FOK for 150 cannot fill completely -> nothing fills
    capped = SimulatedBroker(max_volume_fraction=0.1)
    o = run_one({"side": 1, "qty": 150, "tif": "FOK"}, broker=capped)
    assert o.status is OrderStatus.CANCELED and o.filled_qty == 0
    # FOK for 100 fills
    capped = SimulatedBroker(max_volume_fraction=0.1)
    o = run_one({"side": 1, "qty": 100, "tif": "FOK"}, broker=capped)
    assert o.status is OrderStatus.FILLED
    # GTC market for 150 with the cap: 100 on bar 1, 50 on bar 2 (open 103)
    capped = SimulatedBroker(max_volume_fraction=0.1)
    o = run_one({"side": 1, "qty": 150}, broker=capped)
    assert o.status is OrderStatus.FILLED
    assert o.avg_fill_price == pytest.approx((100 * 101 + 50 * 103) / 150)


def test_commission_and_slippage() -> None:
    broker = SimulatedBroker(commission=Commission(per_unit=0.01, minimum=1.0), slippage_ticks=2)
    s = OneShot([{"side": 1, "qty": 10}, {"side": 1, "qty": 200, "limit": 99.5}])
    res = Engine(s, make_bars(BARS), broker=broker, initial_cash=1e6).run()
    # market: 101 + 2 ticks = 101.02, commission max(1, 0.10) = 1; limit: no slippage, 2.0 fee
    assert res.fills["price"].tolist() == [101.02, 99.5]
    assert res.fills["commission"].tolist() == [1.0, 2.0]


def test_bracket_take_profit_cancels_stop() -> None:
    class B(Strategy):
        def on_bar(self, bar: Bar) -> None:
            if len(self.data["AAA"]) == 1:
                self.legs = self.bracket(1, 10, "AAA", take_profit=103.5, stop_loss=99.5)

    s = B()
    res = Engine(s, make_bars(BARS), initial_cash=10_000).run()
    entry, tp, sl = s.legs
    assert tp is not None and sl is not None
    # entry at bar 1 open 101; exits go live after the fill, first matched on bar 2:
    # bar 2 high 104 -> TP 103.5; SL canceled (OCO)
    assert entry.avg_fill_price == 101.0
    assert tp.status is OrderStatus.FILLED and tp.avg_fill_price == 103.5
    assert sl.status is OrderStatus.CANCELED
    assert res.portfolio.position("AAA") == 0
    assert res.portfolio.realized_pnl() == pytest.approx(25.0)


def test_bracket_stop_loss_and_unfilled_entry() -> None:
    class B(Strategy):
        def on_bar(self, bar: Bar) -> None:
            if len(self.data["AAA"]) == 1:
                self.legs = self.bracket(1, 10, "AAA", take_profit=110, stop_loss=99.5)
                self.never = self.bracket(
                    1, 5, "AAA", limit=50.0, take_profit=60, stop_loss=40, tif="IOC"
                )

    s = B()
    res = Engine(s, make_bars(BARS), initial_cash=10_000).run()
    _, tp, sl = s.legs
    assert tp is not None and sl is not None
    # SL 99.5 hit on bar 3 (low 98, open 102) -> 99.5
    assert sl.avg_fill_price == 99.5 and tp.status is OrderStatus.CANCELED
    assert res.portfolio.realized_pnl() == pytest.approx(-15.0)
    e2, tp2, sl2 = s.never
    assert e2.status is OrderStatus.CANCELED
    assert tp2 is not None and sl2 is not None
    assert tp2.status is OrderStatus.CANCELED and sl2.status is OrderStatus.CANCELED
    assert tp2.filled_qty == 0


def test_oco_pair() -> None:
    class Oco(Strategy):
        def on_bar(self, bar: Bar) -> None:
            if len(self.data["AAA"]) == 1:
                a = self.buy(1, limit=99.5, submit=False)
                b = self.buy(1, stop=103.5, submit=False)
                self.pair = self.oco(a, b)

    s = Oco()
    Engine(s, make_bars(BARS), initial_cash=10_000).run()
    a, b = s.pair
    # bar 2 high 104 triggers the stop first (bar 2 low 102 misses the limit)
    assert b.status is OrderStatus.FILLED and b.avg_fill_price == 103.5
    assert a.status is OrderStatus.CANCELED


def test_cancel_and_modify() -> None:
    class M(Strategy):
        def on_bar(self, bar: Bar) -> None:
            n = len(self.data["AAA"])
            if n == 1:
                self.a = self.buy(1, limit=90.0)
                self.b = self.buy(1, limit=90.0)
            elif n == 2:
                self.cancel(self.a)
                self.modify(self.b, limit=102.5, qty=3)

    s = M()
    Engine(s, make_bars(BARS), initial_cash=10_000).run()
    assert s.a.status is OrderStatus.CANCELED
    # modified at bar 1's close; bar 2 open 103 > 102.5, low 102 -> fills 3 at 102.5
    assert s.b.status is OrderStatus.FILLED and s.b.qty == 3 and s.b.avg_fill_price == 102.5


def test_multi_instrument_and_symbols_filter() -> None:
    class Pair(Strategy):
        symbols = ("AAA", "BBB")

        def on_bar(self, bar: Bar) -> None:
            if len(self.data[bar.symbol]) == 1:
                self.buy(1, bar.symbol)

    class OnlyB(Strategy):
        symbols = ("BBB",)

        def __init__(self) -> None:
            super().__init__()
            self.n = 0

        def on_bar(self, bar: Bar) -> None:
            assert bar.symbol == "BBB"
            self.n += 1

    bars_a = make_bars(BARS, "AAA")
    bars_b = make_bars([(x[0] * 2, x[1] * 2, x[2] * 2, x[3] * 2) for x in BARS], "BBB")
    p, ob = Pair(), OnlyB()
    res = Engine([p, ob], ListFeed(bars_a + bars_b), initial_cash=10_000).run()
    assert sorted(res.fills["price"].tolist()) == [101.0, 202.0]
    assert len(p.data["AAA"]) == 5 and len(p.data["BBB"]) == 5
    assert "AAA" not in ob.data and ob.n == 5
    # equity: 10000 - 101 - 202 + 98 + 196 at the end
    assert res.equity.iloc[-1] == pytest.approx(10_000 - 303 + 294)


def test_run_control_stop_and_cancel_and_progress() -> None:
    ctl = RunControl()
    calls: list[tuple[int, int | None]] = []

    class Stopper(Strategy):
        def __init__(self) -> None:
            super().__init__()
            self.stopped = False

        def on_bar(self, bar: Bar) -> None:
            if len(self.data["AAA"]) == 2:
                ctl.stop()

        def on_stop(self) -> None:
            self.stopped = True

    s = Stopper()
    res = Engine(
        s,
        make_bars(BARS),
        run_control=ctl,
        progress=lambda n, t: calls.append((n, t)),
        progress_every=1,
    ).run()
    assert res.status == "stopped" and res.n_events == 2 and s.stopped
    assert calls == [(1, 5), (2, 5), (2, 5)]
    ctl2 = RunControl()
    ctl2.cancel()
    s2 = Stopper()
    res2 = Engine(s2, make_bars(BARS), run_control=ctl2).run()
    assert res2.status == "cancelled" and res2.n_events == 0 and not s2.stopped


def test_feed_out_of_order_raises() -> None:
    bars = make_bars(BARS)
    with pytest.raises(ValueError):
        Engine(Strategy(), [bars[1], bars[0]]).run()


class Noisy(Strategy):
    """Trades pseudo-randomly from a seeded generator: determinism check."""

    def __init__(self) -> None:
        super().__init__()
        self.rng = np.random.default_rng(7)

    def on_bar(self, bar: Bar) -> None:
        r = self.rng.random()
        c = bar.close
        if r < 0.3:
            self.buy(float(self.rng.integers(1, 5)), limit=round(c * 0.999, 2), tif="DAY")
        elif r < 0.6:
            self.sell(float(self.rng.integers(1, 5)), stop=round(c * 0.998, 2))
        elif r < 0.7:
            self.target_position(bar.symbol, 0)


def random_bars(n: int, seed: int) -> list[Bar]:
    rng = np.random.default_rng(seed)
    c = 100 + np.cumsum(rng.normal(0, 0.5, n))
    o = np.concatenate([[100.0], c[:-1]]) + rng.normal(0, 0.1, n)
    h = np.maximum(o, c) + rng.random(n) * 0.5
    lo = np.minimum(o, c) - rng.random(n) * 0.5
    return make_bars(list(zip(o, h, lo, c, strict=True)))


def test_deterministic_bit_identical() -> None:
    bars = random_bars(500, 1)
    kw: dict[str, Any] = {
        "initial_cash": 1e5,
        "account_type": AccountType.MARGIN,
        "commission": Commission(per_unit=0.005),
    }
    r1 = Engine(Noisy(), bars, **kw).run()
    r2 = Engine(Noisy(), bars, **kw).run()
    assert len(r1.fills) > 20
    pd.testing.assert_frame_equal(r1.fills, r2.fills, check_exact=True)
    pd.testing.assert_series_equal(r1.equity, r2.equity, check_exact=True)
    assert r1.equity.to_numpy().tobytes() == r2.equity.to_numpy().tobytes()
    assert r1.fills["price"].to_numpy().tobytes() == r2.fills["price"].to_numpy().tobytes()


def test_ticks_fill_at_the_touch_and_reach_on_tick() -> None:
    class T(Strategy):
        def __init__(self) -> None:
            super().__init__(symbols=("AAA",))
            self.seen: list[tuple[float, float]] = []

        def on_tick(self, tick: Tick) -> None:
            self.seen.append((tick.price, self.position))
            if len(self.seen) == 1:
                self.buy(5)  # next tick's ask
                self.lim = self.sell(5, limit=100.6)  # fills when the bid reaches 100.6

    ticks = [
        Tick("AAA", T0, 100.0, 1, 99.9, 100.1),
        Tick("AAA", T0 + 1, 100.2, 1, 100.1, 100.3),
        Tick("AAA", T0 + 2, 100.7, 1, 100.5, 100.8),  # bid 100.5 < 100.6: no fill
        Tick("AAA", T0 + 3, 100.8, 1, 100.7, 100.9),  # bid 100.7 >= 100.6: opens at 100.7
    ]
    s = T()
    res = Engine(s, ticks, account_type=AccountType.MARGIN).run()
    assert res.fills["price"].tolist() == [100.3, 100.7]
    assert res.fills["ts"].tolist() == [T0 + 1, T0 + 3]
    assert [p for _, p in s.seen] == [0, 5, 5, 0]  # fills visible in the same on_tick


def test_position_is_current_in_on_order_and_on_fill() -> None:
    class P(Strategy):
        def __init__(self) -> None:
            super().__init__(symbols=("AAA",))
            self.at_fill: list[float] = []
            self.at_filled_status: list[float] = []

        def on_bar(self, bar: Bar) -> None:
            if len(self.data["AAA"]) == 1:
                self.buy(3)

        def on_fill(self, fill: FillEvent) -> None:
            self.at_fill.append(self.position)

        def on_order(self, order: Order, event: OrderEvent) -> None:
            if event.status is OrderStatus.FILLED:
                self.at_filled_status.append(self.position)

    s = P()
    Engine(s, make_bars(BARS)).run()
    assert s.at_fill == [3.0] and s.at_filled_status == [3.0]


def test_modify_rules() -> None:
    b = SimulatedBroker()
    o = Order(id="x", symbol="AAA", side=1, qty=2, type=OrderType.LIMIT, limit_price=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        b.modify(o, 0, qty=3)  # not working
    b.submit(o, 0)
    b.modify(o, 1, qty=3, limit_price=2.0)
    b.cancel(o, 2)
    b.cancel(o, 3)  # already canceled: no-op
    assert [e.status for e in b.drain_events()] == [
        OrderStatus.SUBMITTED,
        OrderStatus.ACCEPTED,
        OrderStatus.ACCEPTED,
        OrderStatus.CANCELED,
    ]
    assert o.qty == 3 and o.limit_price == 2.0
    with pytest.raises(ValueError):
        SimulatedBroker(fill_timing="later")  # type: ignore[arg-type]


def test_run_result_feeds_core_metrics() -> None:
    metrics = pytest.importorskip("ost_lab.core.metrics")
    bars = random_bars(300, 3)
    r = Engine(Noisy(), bars, initial_cash=1e5, account_type=AccountType.MARGIN).run()
    perf = metrics.performance(r.equity, r.fills)
    assert perf["n_fills"] == len(r.fills)
    assert perf["total_return"] == pytest.approx(r.equity.iloc[-1] / 1e5 - 1.0)


def test_hooks_assigned_on_an_instance_are_heard() -> None:
    heard: list[str] = []

    class Buyer(Strategy):
        def on_bar(self, bar: Bar) -> None:
            if not heard and self.position == 0:
                self.buy(1)

    s = Buyer()
    s.on_fill = lambda fill: heard.append(f"fill {fill.qty:g}")  # type: ignore[method-assign]
    s.on_order = lambda order, event: heard.append(event.status.name)  # type: ignore[method-assign]
    Engine(s, ListFeed(make_bars(BARS))).run()
    assert heard == ["SUBMITTED", "ACCEPTED", "fill 1", "FILLED"]
