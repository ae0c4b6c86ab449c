"""Pre-trade risk: every order passes :class:`RiskEngine` in every mode (replay, sandbox, live).

Rules (each rejection names its rule and says why):

``kill_switch``       the strategy (or everything) was killed; no new orders.
``daily_loss``        equity fell ``max_daily_loss_bps`` below the day's starting equity; new
                      orders are halted until the next UTC day.
``trading_hours``     the order's time is outside the trading-hours predicate.
``max_order_qty``     order quantity above the limit.
``max_order_notional`` quantity x price x multiplier above the limit.
``max_position``      the resulting position (with open orders on the same side) exceeds the
                      per-instrument absolute limit; reducing orders always pass.
``max_gross_leverage`` gross exposure after the order / equity above the limit; reducing orders
                      always pass.
``cash_account``      a cash account may neither borrow (buy for more than its cash) nor sell
                      short.
``rate_limit``        more than ``max_orders`` orders within ``rate_window_ns``.

Orders flagged ``reduce_only`` by the kill switch bypass the rules: flattening must not be
blocked by the limits that triggered it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ost_lab.core.orders import Order
from ost_lab.core.portfolio import Portfolio
from ost_lab.core.types import AccountType, OrderType, members_of

# enum members read on hot paths (see members_of)
_ACCT = members_of(AccountType)
_OT = members_of(OrderType)

__all__ = [
    "ALL",
    "RiskEngine",
    "RiskLimits",
    "RiskRejection",
    "StaleFeedWatchdog",
    "daily_close",
    "session_hours",
]

ALL = "*"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NS_PER_DAY = 86_400 * 1_000_000_000


def session_hours(
    start: str = "09:30",
    end: str = "16:00",
    tz: str = "America/New_York",
    weekdays: Iterable[int] = (0, 1, 2, 3, 4),
) -> Callable[[int], bool]:
    """A trading-hours predicate ``ts_ns -> bool``: ``start <= local time < end`` on weekdays."""
    zone = ZoneInfo(tz)
    t0, t1 = time.fromisoformat(start), time.fromisoformat(end)
    days = frozenset(weekdays)

    def is_open(ts: int) -> bool:
        local = (_EPOCH + timedelta(microseconds=ts // 1000)).astimezone(zone)  # exact, no float
        return local.weekday() in days and t0 <= local.time() < t1

    return is_open


def daily_close(
    at: str = "16:00",
    tz: str = "America/New_York",
    weekdays: Iterable[int] = (0, 1, 2, 3, 4),
) -> Callable[[int], int]:
    """A session end ``ts_ns -> ts_ns`` for DAY orders (``Engine(session_end=)``,
    ``Backtest(session_end=)``): the first local ``at`` strictly after ``ts`` on a weekday,
    daylight saving included (16:00 New York is 21:00 UTC in winter, 20:00 in summer)."""
    zone = ZoneInfo(tz)
    close = time.fromisoformat(at)
    days = frozenset(weekdays)
    if not days:
        raise ValueError("daily_close needs at least one weekday")
    one_us = timedelta(microseconds=1)

    def session_end(ts: int) -> int:
        now = _EPOCH + timedelta(microseconds=ts // 1000)
        day = now.astimezone(zone).date()
        while True:
            end = datetime.combine(day, close, tzinfo=zone)
            if end.weekday() in days and end > now:
                return (end - _EPOCH) // one_us * 1000
            day += timedelta(days=1)

    return session_end


@dataclass(frozen=True, slots=True)
class RiskRejection:
    """Why an order was refused: the rule's name and a human-readable reason."""

    rule: str
    reason: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.reason}"


@dataclass(frozen=True)
class RiskLimits:
    """Limits; the defaults disable every rule (inf / 0 / None)."""

    max_order_qty: float = math.inf
    max_order_notional: float = math.inf
    max_position: float | Mapping[str, float] = math.inf
    max_gross_leverage: float = math.inf
    max_orders: int = 0
    rate_window_ns: int = 1_000_000_000
    trading_hours: Callable[[int], bool] | None = None
    max_daily_loss_bps: float = math.inf

    def position_limit(self, symbol: str) -> float:
        """Absolute position limit for ``symbol``."""
        limit = self.max_position
        if isinstance(limit, float | int):
            return float(limit)
        if isinstance(limit, Mapping):
            return float(limit.get(symbol, math.inf))
        return float(limit)


@dataclass
class RiskEngine:
    """Checks orders against :class:`RiskLimits`; tracks the daily-loss halt and kills."""

    limits: RiskLimits = field(default_factory=RiskLimits)
    killed: set[str] = field(default_factory=set)
    halted_day: int = -1
    halt_reason: str = ""
    _day: int = -1
    _day_start_equity: float = math.nan
    _recent: deque[int] = field(default_factory=deque)
    _rules_of: RiskLimits | None = field(default=None, init=False, repr=False, compare=False)
    _order_rules: bool = field(default=True, init=False, repr=False, compare=False)  # of _rules_of

    # ------------------------------------------------------------ state
    def kill(self, strategy_id: str = ALL) -> None:
        """Refuse all new orders from ``strategy_id`` (``ALL`` = everyone)."""
        self.killed.add(strategy_id)

    def is_killed(self, strategy_id: str) -> bool:
        """True if the strategy or everything was killed."""
        return ALL in self.killed or strategy_id in self.killed

    def on_equity(self, ts: int, equity: float) -> None:
        """Feed equity after each event; starts a new day at UTC midnight, halts on daily loss."""
        day = ts // NS_PER_DAY
        if day != self._day:
            self._day = day
            self._day_start_equity = equity
        start = self._day_start_equity
        if math.isinf(self.limits.max_daily_loss_bps) or start <= 0 or self.halted_day == day:
            return
        loss_bps = (start - equity) / start * 1e4
        if loss_bps >= self.limits.max_daily_loss_bps:
            self.halted_day = day
            self.halt_reason = (
                f"equity {equity:.2f} is {loss_bps:.1f} bps below the day's start {start:.2f} "
                f"(limit {self.limits.max_daily_loss_bps:g} bps)"
            )

    @property
    def watches_equity(self) -> bool:
        """True when :meth:`on_equity` must see every event's equity: the daily-loss rule is
        on (or a subclass handles equity itself). Otherwise a replay may compute equity in
        bulk instead."""
        return (
            self.limits.max_daily_loss_bps < math.inf
            or type(self).on_equity is not RiskEngine.on_equity
        )

    def is_halted(self, ts: int) -> bool:
        """True while the daily-loss halt is in force."""
        return self.halted_day >= 0 and ts // NS_PER_DAY == self.halted_day

    # ------------------------------------------------------------ checks
    def check(
        self,
        order: Order,
        ts: int,
        portfolio: Portfolio,
        open_orders: Iterable[Order] = (),
    ) -> RiskRejection | None:
        """Return ``None`` if ``order`` may go to the broker, else the first rule it breaks."""
        if order.reduce_only:
            return None
        lim = self.limits
        if self.killed and self.is_killed(order.strategy_id):
            return RiskRejection("kill_switch", f"strategy {order.strategy_id!r} was killed")
        if self.halted_day >= 0 and self.is_halted(ts):
            return RiskRejection("daily_loss", f"trading halted for the day: {self.halt_reason}")
        if lim is not self._rules_of:
            self._rules_of, self._order_rules = lim, _has_order_rules(lim)
        if not self._order_rules and portfolio.account.type is not _ACCT.CASH:
            return None  # every rule below is off: they could not reject
        if lim.trading_hours is not None and not lim.trading_hours(ts):
            return RiskRejection("trading_hours", f"ts {ts} is outside trading hours")
        if order.qty > lim.max_order_qty:
            return RiskRejection(
                "max_order_qty", f"qty {order.qty:g} > limit {lim.max_order_qty:g}"
            )
        inst = portfolio.instrument(order.symbol)
        price = _reference_price(order, portfolio)
        notional = abs(order.qty * price * inst.multiplier) if not math.isnan(price) else 0.0
        if notional > lim.max_order_notional:
            return RiskRejection(
                "max_order_notional",
                f"notional {notional:.2f} > limit {lim.max_order_notional:g}",
            )
        pos = portfolio.position(order.symbol)
        sq = order.signed_qty
        plimit = lim.position_limit(order.symbol)
        cash_account = portfolio.account.type is _ACCT.CASH
        pending = after = 0.0
        others: list[Order] = []  # working orders that may fill besides this one
        if plimit < math.inf or cash_account:  # else no rule below reads them
            others = [
                o
                for o in open_orders
                if o.is_open
                and o is not order
                and o.id not in order.oco_ids  # mutually exclusive with this order
            ]
            if others:  # (no generator to sum when nothing else works: the common case)
                pending = sum(
                    o.leaves_qty * float(o.side)
                    for o in others
                    if o.symbol == order.symbol and o.side is order.side
                )
            after = pos + pending + sq
            reduces = abs(pos + sq) < abs(pos) and pending == 0.0
            if abs(after) > plimit + 1e-9 and not reduces:
                return RiskRejection(
                    "max_position",
                    f"position {order.symbol} would be {after:g} (now {pos:g}, "
                    f"pending {pending:g}), limit {plimit:g}",
                )
        if not math.isinf(lim.max_gross_leverage) and not math.isnan(price):
            mark = portfolio.marks.get(order.symbol, price)
            gross_now = portfolio.gross_exposure()
            gross_after = (
                gross_now
                - abs(pos * mark * inst.multiplier)
                + abs((pos + sq) * price * inst.multiplier)
            )
            eq = portfolio.equity()
            lev = gross_after / eq if eq > 0 else math.inf
            if lev > lim.max_gross_leverage + 1e-12 and gross_after > gross_now:
                return RiskRejection(
                    "max_gross_leverage",
                    f"gross leverage would be {lev:.3f} > limit {lim.max_gross_leverage:g}",
                )
        if cash_account:
            if pos + pending + sq < -1e-9:
                return RiskRejection(
                    "cash_account", f"cash account cannot sell short ({order.symbol} -> {after:g})"
                )
            if sq > 0 and not math.isnan(price):
                committed = 0.0
                if others:
                    committed = sum(
                        o.leaves_qty
                        * _reference_price(o, portfolio)
                        * portfolio.instrument(o.symbol).multiplier
                        for o in others
                        if o.side > 0
                    )
                cost = sq * price * inst.multiplier
                if cost + committed > portfolio.cash + 1e-9:
                    return RiskRejection(
                        "cash_account",
                        f"cost {cost:.2f} (+{committed:.2f} committed) exceeds cash "
                        f"{portfolio.cash:.2f}",
                    )
        if lim.max_orders > 0:
            while self._recent and self._recent[0] <= ts - lim.rate_window_ns:
                self._recent.popleft()
            if len(self._recent) >= lim.max_orders:
                return RiskRejection(
                    "rate_limit",
                    f"{len(self._recent)} orders in the last {lim.rate_window_ns / 1e9:g} s "
                    f"(limit {lim.max_orders})",
                )
            self._recent.append(ts)
        return None


def _has_order_rules(lim: RiskLimits) -> bool:
    """True when a per-order limit is on (the cash-account rule depends on the portfolio)."""
    return (
        lim.trading_hours is not None
        or lim.max_order_qty < math.inf
        or lim.max_order_notional < math.inf
        or not (isinstance(lim.max_position, float | int) and lim.max_position == math.inf)
        or lim.max_gross_leverage < math.inf
        or lim.max_orders > 0
    )


def _reference_price(order: Order, portfolio: Portfolio) -> float:
    """Price used to value an order: its limit, else its trigger, else the symbol's mark."""
    if order.type in (_OT.LIMIT, _OT.STOP_LIMIT, _OT.LIMIT_IF_TOUCHED):
        return order.limit_price
    if not math.isnan(order.stop_price):
        return order.stop_price
    return portfolio.marks.get(order.symbol, math.nan)


class StaleFeedWatchdog:
    """Pauses a live strategy when no data arrived for ``max_silence_ns`` during trading hours.

    The engine calls :meth:`on_data` for each event and :meth:`check` with the wall clock between
    events; data arriving again resumes the strategy.
    """

    def __init__(
        self, max_silence_ns: int, trading_hours: Callable[[int], bool] | None = None
    ) -> None:
        self.max_silence_ns = int(max_silence_ns)
        self.trading_hours = trading_hours
        self.last_data_ns: int | None = None
        self.paused = False
        self.reason = ""

    def on_data(self, now_ns: int) -> None:
        """Data arrived at wall time ``now_ns``: resume."""
        self.last_data_ns = now_ns
        self.paused = False
        self.reason = ""

    def check(self, now_ns: int) -> bool:
        """Update and return the paused state at wall time ``now_ns``."""
        if self.last_data_ns is None:
            self.last_data_ns = now_ns
        in_hours = self.trading_hours is None or self.trading_hours(now_ns)
        silence = now_ns - self.last_data_ns
        if in_hours and silence > self.max_silence_ns:
            self.paused = True
            self.reason = (
                f"no data for {silence / 1e9:.1f} s (limit {self.max_silence_ns / 1e9:g} s)"
            )
        return self.paused
