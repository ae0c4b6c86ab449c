"""Risk rules: each rejects what it must and passes what it must; kill switch; stale feed."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from ost_lab.core import (
    AccountType,
    Bar,
    Engine,
    FillEvent,
    Instrument,
    Order,
    OrderStatus,
    Portfolio,
    RiskEngine,
    RiskLimits,
    Side,
    StaleFeedWatchdog,
    Strategy,
    Tick,
    daily_close,
    session_hours,
)
from ost_lab.core.types import OrderType

MIN = 60_000_000_000
SEC = 1_000_000_000
T0 = 1_704_205_860_000_000_000  # 2024-01-02 14:31 UTC, Tuesday
DAY = 86_400 * SEC


def order(side: int, qty: float, sym: str = "AAA", **kw: Any) -> Order:
    return Order(id=f"o{qty}{side}", symbol=sym, side=Side(side), qty=qty, strategy_id="s", **kw)


def pf(cash: float = 100_000.0, acct: AccountType = AccountType.MARGIN, **pos: float) -> Portfolio:
    p = Portfolio(cash, {"ES": Instrument("ES", multiplier=50)}, acct)
    p.mark("AAA", 100.0)
    p.mark("ES", 4000.0)
    for sym, q in pos.items():
        p.apply_fill(FillEvent(0, "x", sym, Side.BUY if q > 0 else Side.SELL, abs(q), 100.0))
    return p


def rule(rej: object) -> str | None:
    return getattr(rej, "rule", None)


def test_no_limits_pass() -> None:
    assert RiskEngine().check(order(1, 1e6), T0, pf()) is None


def test_max_order_qty() -> None:
    r = RiskEngine(RiskLimits(max_order_qty=100))
    assert r.check(order(1, 100), T0, pf()) is None
    rej = r.check(order(1, 101), T0, pf())
    assert rule(rej) == "max_order_qty" and "101" in str(rej)


def test_limits_set_after_checks_without_limits_apply_to_the_next_order() -> None:
    r = RiskEngine()
    assert r.check(order(1, 101), T0, pf()) is None
    r.limits = RiskLimits(max_order_qty=100)
    assert rule(r.check(order(1, 101), T0, pf())) == "max_order_qty"
    r.limits = RiskLimits(max_position={"AAA": 50.0})
    assert rule(r.check(order(1, 51), T0, pf())) == "max_position"
    r.limits = RiskLimits()
    assert r.check(order(1, 101), T0, pf()) is None
    # a cash account still may not sell short with every limit off
    assert rule(r.check(order(-1, 1), T0, pf(acct=AccountType.CASH))) == "cash_account"


def test_max_order_notional_uses_limit_price_and_multiplier() -> None:
    r = RiskEngine(RiskLimits(max_order_notional=10_000))
    assert r.check(order(1, 100), T0, pf()) is None  # 100 * mark 100
    assert rule(r.check(order(1, 101), T0, pf())) == "max_order_notional"
    assert r.check(order(1, 101, type=OrderType.LIMIT, limit_price=99.0), T0, pf()) is None
    assert rule(r.check(order(1, 1, "ES"), T0, pf())) == "max_order_notional"  # 200k


def test_max_position_counts_open_orders_and_lets_reductions_pass() -> None:
    r = RiskEngine(RiskLimits(max_position={"AAA": 50}))
    p = pf(AAA=40)
    assert r.check(order(1, 10), T0, p) is None
    assert rule(r.check(order(1, 11), T0, p)) == "max_position"
    working = order(1, 5)
    working.submit(0)
    working.accept(0)
    assert rule(r.check(order(1, 6), T0, p, [working])) == "max_position"
    assert r.check(order(-1, 30), T0, p) is None  # reduces
    assert rule(r.check(order(-1, 100), T0, p)) == "max_position"  # flips to -60
    assert r.check(order(1, 1e6, "BBB"), T0, p) is None  # no limit on BBB
    # scalar limit applies to every symbol
    assert rule(RiskEngine(RiskLimits(max_position=5)).check(order(1, 6, "BBB"), T0, p)) == (
        "max_position"
    )


def test_max_gross_leverage() -> None:
    r = RiskEngine(RiskLimits(max_gross_leverage=2.0))
    p = pf(100_000.0, AAA=1000)  # equity 100k, gross 100k
    assert r.check(order(1, 1000), T0, p) is None  # gross 200k -> 2.0
    rej = r.check(order(1, 1001), T0, p)
    assert rule(rej) == "max_gross_leverage" and "2.001" in str(rej)
    assert r.check(order(-1, 500), T0, p) is None  # reduces gross


def test_cash_account_no_borrow_no_short() -> None:
    r = RiskEngine()
    p = pf(10_000.0, AccountType.CASH)
    assert r.check(order(1, 100), T0, p) is None  # 10_000 at mark 100
    assert rule(r.check(order(1, 101), T0, p)) == "cash_account"
    assert rule(r.check(order(-1, 1), T0, p)) == "cash_account"  # no short
    p2 = pf(10_000.0, AccountType.CASH, AAA=10)
    assert r.check(order(-1, 10), T0, p2) is None
    assert rule(r.check(order(-1, 11), T0, p2)) == "cash_account"
    # committed open buys count against cash
    w = order(1, 50, type=OrderType.LIMIT, limit_price=100.0)
    w.submit(0)
    w.accept(0)
    assert rule(r.check(order(1, 50), T0, p2, [w])) == "cash_account"  # cash 9000 < 5000+5000
    assert r.check(order(1, 40), T0, p2, [w]) is None
    # margin accounts may borrow and short
    assert RiskEngine().check(order(-1, 1), T0, pf(10.0)) is None


def test_rate_limit_sliding_window() -> None:
    r = RiskEngine(RiskLimits(max_orders=2, rate_window_ns=SEC))
    p = pf()
    assert r.check(order(1, 1), T0, p) is None
    assert r.check(order(1, 1), T0 + 1, p) is None
    rej = r.check(order(1, 1), T0 + 2, p)
    assert rule(rej) == "rate_limit" and "limit 2" in str(rej)
    assert r.check(order(1, 1), T0 + SEC, p) is None  # first one left the window


def test_trading_hours() -> None:
    hours = session_hours("09:30", "16:00", "America/New_York")
    r = RiskEngine(RiskLimits(trading_hours=hours))
    p = pf()
    open_ts = 1_704_205_800_000_000_000  # 2024-01-02 14:30 UTC = 09:30 New York
    assert r.check(order(1, 1), open_ts, p) is None
    assert rule(r.check(order(1, 1), open_ts - 1, p)) == "trading_hours"
    close_ts = open_ts + int(6.5 * 3600) * SEC
    assert rule(r.check(order(1, 1), close_ts, p)) == "trading_hours"
    assert r.check(order(1, 1), close_ts - 1, p) is None
    saturday = open_ts + 4 * DAY
    assert rule(r.check(order(1, 1), saturday, p)) == "trading_hours"


def test_daily_loss_halts_until_next_day() -> None:
    r = RiskEngine(RiskLimits(max_daily_loss_bps=100))  # 1 %
    p = pf()
    r.on_equity(T0, 100_000.0)
    r.on_equity(T0 + 1, 99_001.0)  # 99.9 bps down
    assert r.check(order(1, 1), T0 + 2, p) is None
    r.on_equity(T0 + 3, 99_000.0)  # exactly 100 bps
    rej = r.check(order(1, 1), T0 + 4, p)
    assert rule(rej) == "daily_loss" and "100.0 bps" in str(rej)
    r.on_equity(T0 + 5, 100_500.0)  # recovering does not lift the halt today
    assert rule(r.check(order(1, 1), T0 + 6, p)) == "daily_loss"
    next_day = (T0 // DAY + 1) * DAY
    r.on_equity(next_day, 99_000.0)  # new day starts from 99_000
    assert r.check(order(1, 1), next_day + 1, p) is None


def test_kill_and_reduce_only() -> None:
    r = RiskEngine(RiskLimits(max_order_qty=1))
    r.kill("s")
    assert rule(r.check(order(1, 1), T0, pf())) == "kill_switch"
    other = order(1, 1)
    other.strategy_id = "t"
    assert r.check(other, T0, pf()) is None
    flat = order(-1, 100, reduce_only=True)
    assert r.check(flat, T0, pf()) is None  # flattening is never blocked
    r.kill()
    assert rule(r.check(other, T0, pf())) == "kill_switch"


# ------------------------------------------------------------------ through the engine
def bars(n: int, sym: str = "AAA", px: float = 100.0) -> list[Bar]:
    return [
        Bar(
            sym,
            T0 + i * MIN,
            px + i,
            px + i + 1,
            px + i - 1,
            px + i + 0.5,
            1000,
            T0 + (i - 1) * MIN,
        )
        for i in range(n)
    ]


def test_rejection_reaches_the_strategy_with_rule_and_reason() -> None:
    class Big(Strategy):
        def __init__(self) -> None:
            super().__init__()
            self.events: list[tuple[OrderStatus, str]] = []

        def on_bar(self, bar: Bar) -> None:
            if len(self.data["AAA"]) == 1:
                self.o = self.buy(500)

        def on_order(self, order: Order, event: Any) -> None:
            self.events.append((event.status, event.reason))

    s = Big()
    res = Engine(s, bars(3), risk=RiskEngine(RiskLimits(max_order_qty=100))).run()
    assert s.o.status is OrderStatus.REJECTED
    assert s.events == [(OrderStatus.REJECTED, "max_order_qty: qty 500 > limit 100")]
    assert res.rejections[0][0] == s.o.id and res.rejections[0][1].rule == "max_order_qty"
    assert len(res.fills) == 0


class Holder(Strategy):
    """Buys 10 on bar 1 and parks a limit order far away; tries again after the kill."""

    def __init__(self, name: str, sym: str) -> None:
        super().__init__(name=name, symbols=(sym,))
        self.after: list[Order] = []

    def on_bar(self, bar: Bar) -> None:
        n = len(self.data[bar.symbol])
        if n == 1:
            self.buy(10, tag=f"{self.name}-main")
            self.far = self.buy(1, limit=1.0)
        elif n >= 4:
            self.after.append(self.buy(1))


def test_kill_switch_one_strategy() -> None:
    a, b = Holder("A", "AAA"), Holder("B", "BBB")

    class Killer(Strategy):
        symbols = ("AAA",)

        def on_bar(self, bar: Bar) -> None:
            if len(self.data["AAA"]) == 3:
                self.ctx.kill_switch(a, "test")

    from ost_lab.core import ListFeed

    feed = ListFeed(bars(6, "AAA") + bars(6, "BBB", 50.0))
    res = Engine([a, b, Killer()], feed, initial_cash=1e6, account_type=AccountType.MARGIN).run()
    assert a.far.status is OrderStatus.CANCELED
    assert b.far.status is OrderStatus.ACCEPTED  # untouched
    # A flattened at the open of bar 3 (the one after the kill): 100 + 3 = 103
    a_fills = res.fills[res.fills["tag"] == "A-main"]
    assert a_fills["qty"].tolist() == [10.0, -10.0]
    assert a_fills["price"].tolist() == [101.0, 103.0]
    assert res.portfolio.position("AAA") == 0
    # B's last order was placed on the last bar: nothing left to fill it
    assert res.portfolio.position("BBB") == 10 + len(b.after) - 1
    assert all(o.status is OrderStatus.REJECTED for o in a.after) and a.after
    assert all("kill_switch" in o.events[-1].reason for o in a.after)
    assert all(o.status is OrderStatus.FILLED for o in b.after[:-1])


def test_kill_switch_everything_same_bar_close() -> None:
    a, b = Holder("A", "AAA"), Holder("B", "BBB")
    from ost_lab.core import ListFeed

    feed = ListFeed(bars(4, "AAA") + bars(4, "BBB", 50.0))
    eng = Engine(
        [a, b], feed, initial_cash=1e6, account_type=AccountType.MARGIN, fill_timing="close"
    )
    eng.run()
    eng.kill_switch(None, "all")
    # with same-bar-close timing the flatten fills at once at the last close
    assert eng.portfolio.position("AAA") == 0 and eng.portfolio.position("BBB") == 0
    assert all(not o.is_open for o in eng.orders.values())
    assert eng.risk.is_killed("anyone")


def test_stale_feed_watchdog_unit() -> None:
    hours = session_hours("09:30", "16:00")
    w = StaleFeedWatchdog(30 * SEC, hours)
    open_ts = 1_704_205_800_000_000_000
    w.on_data(open_ts)
    assert not w.check(open_ts + 30 * SEC)  # exactly the limit: fine
    assert w.check(open_ts + 31 * SEC) and "31.0 s" in w.reason
    w.on_data(open_ts + 40 * SEC)
    assert not w.paused
    # outside trading hours silence is fine
    w2 = StaleFeedWatchdog(30 * SEC, hours)
    w2.on_data(open_ts - 3600 * SEC)
    assert not w2.check(open_ts - 1800 * SEC)


def test_stale_feed_pauses_strategy_in_live_mode() -> None:
    clock = [0]

    class Live(Strategy):
        def __init__(self) -> None:
            super().__init__(symbols=("AAA",))
            self.ticks = 0

        def on_tick(self, tick: Tick) -> None:
            self.ticks += 1

    def feed() -> Any:
        ts = T0
        for step in (1, 1, 100, 1):  # seconds of wall time before each item
            clock[0] += step * SEC
            ts += step * SEC
            yield Tick("AAA", ts, 100.0)
            if step == 100:
                # silence: heartbeats while no data arrives
                clock[0] += 200 * SEC
                yield None
                probe = s.buy(1)  # an order while paused is refused
                assert probe.status is OrderStatus.REJECTED
                assert probe.events[-1].reason.startswith("stale_feed")

    s = Live()
    w = StaleFeedWatchdog(60 * SEC)
    res = Engine(
        s, feed(), mode="live", watchdog=w, clock=lambda: clock[0], account_type=AccountType.MARGIN
    ).run()
    assert s.ticks == 4  # resumed when data came back
    assert not w.paused
    assert res.rejections[0][1].rule == "stale_feed"
    assert math.isclose(res.portfolio.equity(), 100_000.0)


def test_kill_all_flattens_unowned_books_and_strategy_kill() -> None:
    p = Portfolio(1e6, account_type=AccountType.MARGIN)
    p.apply_fill(FillEvent(T0 - MIN, "old", "AAA", Side.SELL, 7, 99.0, 0.0, "legacy"))

    class SelfKill(Strategy):
        symbols = ("AAA",)

        def on_bar(self, bar: Bar) -> None:
            n = len(self.data["AAA"])
            if n == 1:
                self.buy(4)
            elif n == 3:
                self.kill("drawdown")

    s = SelfKill()
    eng = Engine(s, bars(5), portfolio=p)
    res = eng.run()
    # the strategy's own book is flattened at bar 3's open (103); the legacy short is untouched
    assert res.portfolio.position("AAA", "SelfKill") == 0
    assert res.portfolio.position("AAA", "legacy") == -7
    assert res.fills["price"].tolist() == [99.0, 101.0, 103.0]
    eng.kill_switch(None, "all")
    flat = eng.orders[max(eng.orders)]  # the legacy book's flatten order, waiting for a bar
    assert flat.reduce_only and flat.side is Side.BUY and flat.qty == 7 and flat.tag == "legacy"
    assert flat.status is OrderStatus.ACCEPTED


def test_daily_loss_halt_through_the_engine() -> None:
    falling = [
        Bar("AAA", T0 + i * MIN, 101 - i, 102 - i, 99 - i, 100.5 - i, 1000, T0 + (i - 1) * MIN)
        for i in range(6)
    ]

    class Dip(Strategy):
        def __init__(self) -> None:
            super().__init__(symbols=("AAA",))
            self.tries: list[Order] = []

        def on_bar(self, bar: Bar) -> None:
            if len(self.data["AAA"]) == 1:
                self.buy(100)
            else:
                self.tries.append(self.buy(1, limit=1.0))

    s = Dip()
    risk = RiskEngine(RiskLimits(max_daily_loss_bps=25))  # 0.25 % of 100_000 = 250
    res = Engine(s, falling, risk=risk, account_type=AccountType.MARGIN).run()
    # fill at bar 1's open 100; equity at bar i's close: 100_000 + 100*(100.5 - i - 100)
    # bar 1: -50, bar 2: -150, bar 3: -250 = 25 bps -> orders from on_bar(3) on are refused
    statuses = [o.status for o in s.tries]
    assert statuses[:2] == [OrderStatus.ACCEPTED, OrderStatus.ACCEPTED]
    assert all(st is OrderStatus.REJECTED for st in statuses[2:])
    assert res.rejections[0][1].rule == "daily_loss"


def test_simulated_broker_satisfies_the_protocol() -> None:
    from ost_lab.core import Broker, SimulatedBroker

    assert isinstance(SimulatedBroker(), Broker)


def test_daily_close_is_the_next_local_close_on_a_weekday() -> None:
    ny = daily_close("16:00", "America/New_York")

    def utc(s: str) -> int:
        return int(pd.Timestamp(s, tz="UTC").value)

    assert ny(utc("2024-01-10 20:00")) == utc("2024-01-10 21:00")  # 15:00 EST -> 16:00 EST
    assert ny(utc("2024-07-10 19:00")) == utc("2024-07-10 20:00")  # 15:00 EDT -> 16:00 EDT
    assert ny(utc("2024-01-10 21:00")) == utc("2024-01-11 21:00")  # at the close: the next one
    assert ny(utc("2024-01-10 21:00") - 1) == utc("2024-01-10 21:00")
    assert ny(utc("2024-01-12 22:00")) == utc("2024-01-15 21:00")  # Friday evening -> Monday
    assert ny(utc("2024-03-08 23:00")) == utc("2024-03-11 20:00")  # over the switch to EDT
    every_day = daily_close("00:00", "UTC", weekdays=range(7))
    assert every_day(utc("2024-01-13 12:00")) == utc("2024-01-14 00:00")
    with pytest.raises(ValueError, match="weekday"):
        daily_close(weekdays=())
