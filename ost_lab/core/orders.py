"""The order and its explicit state machine, plus bracket / OCO linkage.

Every change of ``Order.status`` goes through :meth:`Order.apply`, which checks the transition
table and records an :class:`~ost_lab.core.events.OrderEvent`. Illegal transitions raise
:class:`IllegalTransition`; overfills raise :class:`OverfillError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Any, NoReturn

from ost_lab.core.events import OrderEvent, new_order_event
from ost_lab.core.types import TERMINAL_STATUSES as _TERMINAL
from ost_lab.core.types import (
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TrailingOffsetType,
    members_of,
)

# enum members read on hot paths (see members_of)
_OT = members_of(OrderType)
_TIF = members_of(TimeInForce)

__all__ = [
    "TRANSITIONS",
    "IllegalTransition",
    "Order",
    "OrderIdGenerator",
    "OverfillError",
    "link_bracket",
    "link_oco",
    "market_order",
]

S = members_of(OrderStatus)  # hot paths: see members_of

#: Allowed ``status -> {next statuses}``. Terminal states have no outgoing edges.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.INITIALIZED: frozenset({S.SUBMITTED, S.REJECTED, S.CANCELED}),
    S.SUBMITTED: frozenset(
        {S.ACCEPTED, S.REJECTED, S.CANCELED, S.PENDING_CANCEL, S.PARTIALLY_FILLED, S.FILLED}
    ),
    S.ACCEPTED: frozenset(
        {
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.CANCELED,
            S.EXPIRED,
            S.PENDING_CANCEL,
            S.PENDING_MODIFY,
            S.ACCEPTED,  # a modify acknowledged without a pending state
        }
    ),
    S.PARTIALLY_FILLED: frozenset(
        {
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.CANCELED,
            S.EXPIRED,
            S.PENDING_CANCEL,
            S.PENDING_MODIFY,
        }
    ),
    S.PENDING_CANCEL: frozenset({S.CANCELED, S.PARTIALLY_FILLED, S.FILLED, S.EXPIRED, S.ACCEPTED}),
    S.PENDING_MODIFY: frozenset(
        {S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED, S.PENDING_CANCEL}
    ),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}


class IllegalTransition(RuntimeError):
    """Raised when an order is asked to move along an edge not in :data:`TRANSITIONS`."""


class OverfillError(RuntimeError):
    """Raised when a fill would make the filled quantity exceed the order quantity."""


class OrderIdGenerator:
    """Deterministic order ids (``prefix-000001`` ...); one per engine so runs are reproducible."""

    def __init__(self, prefix: str = "O") -> None:
        self._prefix = prefix
        self._head = prefix + "-"
        self._n = 0

    def __call__(self) -> str:
        self._n += 1
        return self._head + str(self._n).zfill(6)  # as f"{prefix}-{n:06d}", in half the time


_EPS = 1e-9
_NEEDS_LIMIT = frozenset({_OT.LIMIT, _OT.STOP_LIMIT, _OT.LIMIT_IF_TOUCHED})
_NEEDS_STOP = frozenset(
    {
        _OT.STOP,
        _OT.STOP_LIMIT,
        _OT.MARKET_IF_TOUCHED,
        _OT.LIMIT_IF_TOUCHED,
    }
)
_PENDING = frozenset({S.PENDING_CANCEL, S.PENDING_MODIFY})


@dataclass(slots=True, eq=False)
class Order:
    """A single order. Quantities are unsigned; ``side`` gives the direction.

    Prices: ``limit_price`` for LIMIT / STOP_LIMIT / LIMIT_IF_TOUCHED; ``stop_price`` is the
    trigger for STOP / STOP_LIMIT / MARKET_IF_TOUCHED / LIMIT_IF_TOUCHED and the current stop
    level of a TRAILING_STOP (maintained by the matcher from ``trailing_offset``).
    ``expire_ts`` is the ns time at which a DAY or GTD order expires.
    """

    id: str
    symbol: str
    side: Side
    qty: float
    type: OrderType = OrderType.MARKET
    limit_price: float = math.nan
    stop_price: float = math.nan
    tif: TimeInForce = TimeInForce.GTC
    expire_ts: int = -1
    tag: str = ""
    strategy_id: str = ""
    trailing_offset: float = math.nan
    trailing_offset_type: TrailingOffsetType = TrailingOffsetType.PRICE
    reduce_only: bool = False
    parent_id: str = ""
    child_ids: list[str] = field(default_factory=list)
    oco_ids: list[str] = field(default_factory=list)
    status: OrderStatus = OrderStatus.INITIALIZED
    filled_qty: float = 0.0
    avg_fill_price: float = math.nan
    triggered: bool = False
    ts_init: int = 0
    ts_last: int = 0
    events: list[OrderEvent] = field(default_factory=list)
    _resume_status: OrderStatus = OrderStatus.ACCEPTED

    def __post_init__(self) -> None:
        if type(self.side) is not Side:  # enum coercion only when needed (hot path)
            self.side = Side(self.side)
        if type(self.type) is not OrderType:
            self.type = OrderType(self.type)
        if type(self.tif) is not TimeInForce:
            self.tif = TimeInForce(self.tif)
        if not 0.0 < self.qty < math.inf:  # positive and finite (NaN fails both)
            raise ValueError(f"order qty must be positive and finite, got {self.qty!r}")
        if self.type is not _OT.MARKET:
            if self.type in _NEEDS_LIMIT and not math.isfinite(self.limit_price):
                raise ValueError(f"{self.type.name} order needs a limit_price")
            if self.type in _NEEDS_STOP and not math.isfinite(self.stop_price):
                raise ValueError(f"{self.type.name} order needs a stop_price (trigger)")
            if self.type is _OT.TRAILING_STOP and not (
                math.isfinite(self.trailing_offset) and self.trailing_offset > 0
            ):
                raise ValueError("TRAILING_STOP order needs a positive trailing_offset")
        if self.tif is _TIF.GTD and self.expire_ts < 0:
            raise ValueError("GTD order needs expire_ts")
        self.ts_last = self.ts_init

    # ----------------------------------------------------------------- queries
    @property
    def leaves_qty(self) -> float:
        """Quantity still to fill."""
        return max(self.qty - self.filled_qty, 0.0)

    @property
    def is_open(self) -> bool:
        """True while the order can still fill or be canceled at the venue."""
        status = self.status
        return status not in _TERMINAL and status is not S.INITIALIZED

    @property
    def is_terminal(self) -> bool:
        """True once filled, canceled, rejected or expired."""
        return self.status in _TERMINAL

    @property
    def signed_qty(self) -> float:
        """Order quantity with the side's sign."""
        return float(self.side) * self.qty

    # ------------------------------------------------------------ transitions
    def apply(self, status: OrderStatus, ts: int, reason: str = "") -> OrderEvent:
        """Move to ``status`` at ``ts`` if the transition is legal; return the event."""
        prev = self.status
        if status not in TRANSITIONS[prev]:
            raise IllegalTransition(f"order {self.id}: {prev.name} -> {status.name} is not allowed")
        if ts < self.ts_last:
            self._refuse_time(ts)
        if status in _PENDING and prev not in _PENDING:
            self._resume_status = prev
        return self._record(status, prev, ts, reason)

    def _refuse_time(self, ts: int) -> NoReturn:
        raise ValueError(f"order {self.id}: event ts {ts} is before last event {self.ts_last}")

    def _record(self, status: OrderStatus, prev: OrderStatus, ts: int, reason: str) -> OrderEvent:
        """Move to ``status`` (checked by the caller) and record the event."""
        event = new_order_event((ts, self.id, status, prev, reason))
        self.status = status
        self.ts_last = ts
        self.events.append(event)
        return event

    def submit(self, ts: int) -> OrderEvent:
        """Sent to the broker."""
        return self.apply(S.SUBMITTED, ts)

    def submit_accept(self, ts: int) -> tuple[OrderEvent, OrderEvent]:
        """Sent and acknowledged at ``ts`` (a venue that confirms at once): the SUBMITTED and
        ACCEPTED events of :meth:`submit` then :meth:`accept`, made in one step."""
        if self.status is not S.INITIALIZED or ts < self.ts_last:
            return self.submit(ts), self.accept(ts)  # raises as the two steps would
        sent = new_order_event((ts, self.id, S.SUBMITTED, S.INITIALIZED, ""))
        acked = new_order_event((ts, self.id, S.ACCEPTED, S.SUBMITTED, ""))
        self.status = S.ACCEPTED
        self.ts_last = ts
        self.events += (sent, acked)
        return sent, acked

    def accept(self, ts: int) -> OrderEvent:
        """Acknowledged by the broker and working."""
        return self.apply(S.ACCEPTED, ts)

    def reject(self, ts: int, reason: str) -> OrderEvent:
        """Refused (by the risk engine or the broker); ``reason`` says why."""
        return self.apply(S.REJECTED, ts, reason)

    def request_cancel(self, ts: int) -> OrderEvent:
        """Cancel sent, not yet confirmed."""
        return self.apply(S.PENDING_CANCEL, ts)

    def cancel(self, ts: int, reason: str = "") -> OrderEvent:
        """Cancel confirmed."""
        return self.apply(S.CANCELED, ts, reason)

    def expire(self, ts: int, reason: str = "") -> OrderEvent:
        """Time in force ran out."""
        return self.apply(S.EXPIRED, ts, reason)

    def request_modify(self, ts: int) -> OrderEvent:
        """Modify sent, not yet confirmed."""
        return self.apply(S.PENDING_MODIFY, ts)

    def revert_pending(self, ts: int, reason: str = "") -> OrderEvent:
        """A pending cancel/modify was refused or a modify was confirmed: resume working."""
        if self.status not in (S.PENDING_CANCEL, S.PENDING_MODIFY):
            raise IllegalTransition(f"order {self.id}: not pending ({self.status.name})")
        back = S.PARTIALLY_FILLED if self.filled_qty > 0 else S.ACCEPTED
        return self.apply(back, ts, reason)

    def modify(
        self,
        ts: int,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
    ) -> OrderEvent:
        """Confirm a modification (from PENDING_MODIFY or directly from ACCEPTED)."""
        if self.status not in (S.PENDING_MODIFY, S.ACCEPTED, S.PARTIALLY_FILLED):
            raise IllegalTransition(f"order {self.id}: cannot modify while {self.status.name}")
        if qty is not None:
            if not (qty > self.filled_qty + _EPS and math.isfinite(qty)):
                raise ValueError(
                    f"order {self.id}: new qty {qty} must exceed filled qty {self.filled_qty}"
                )
            self.qty = float(qty)
        if limit_price is not None:
            self.limit_price = float(limit_price)
        if stop_price is not None:
            self.stop_price = float(stop_price)
        if self.status is S.PARTIALLY_FILLED:
            return self.apply(S.PARTIALLY_FILLED, ts, "modified")
        if self.status is S.PENDING_MODIFY:
            return self.revert_pending(ts, "modified")
        return self.apply(S.ACCEPTED, ts, "modified")

    def fill(self, ts: int, qty: float, price: float) -> OrderEvent:
        """Record an execution of ``qty`` at ``price``; moves to PARTIALLY_FILLED or FILLED."""
        if not (qty > 0 and math.isfinite(qty) and math.isfinite(price)):
            raise ValueError(f"order {self.id}: bad fill qty={qty!r} price={price!r}")
        if self.filled_qty + qty > self.qty + _EPS:
            raise OverfillError(
                f"order {self.id}: fill of {qty} exceeds leaves qty {self.leaves_qty}"
            )
        new_filled = self.filled_qty + qty
        done = new_filled >= self.qty - _EPS
        target = S.FILLED if done else S.PARTIALLY_FILLED
        prev = self.status
        if target not in TRANSITIONS[prev]:
            raise IllegalTransition(f"order {self.id}: cannot fill while {prev.name}")
        if ts < self.ts_last:
            self._refuse_time(ts)
        prev_value = 0.0 if self.filled_qty == 0 else self.avg_fill_price * self.filled_qty
        self.avg_fill_price = (prev_value + price * qty) / new_filled
        self.filled_qty = self.qty if done else new_filled
        return self._record(target, prev, ts, "")  # a fill is never a pending state


def link_oco(*orders: Order) -> None:
    """One-cancels-other: when any member fills (even partly) the others are canceled."""
    ids = [o.id for o in orders]
    for o in orders:
        o.oco_ids = [i for i in ids if i != o.id]


def link_bracket(entry: Order, take_profit: Order | None, stop_loss: Order | None) -> None:
    """Attach exit orders to an entry. Children wait (INITIALIZED) until the entry fills; then
    they are submitted for the filled quantity. Take-profit and stop-loss form an OCO pair."""
    children = [c for c in (take_profit, stop_loss) if c is not None]
    for c in children:
        if c.side is entry.side:
            raise ValueError("bracket exits must be on the opposite side of the entry")
        if c.symbol != entry.symbol:
            raise ValueError("bracket exits must trade the entry's symbol")
        c.parent_id = entry.id
        c.tag = c.tag or entry.tag
        c.strategy_id = c.strategy_id or entry.strategy_id
    entry.child_ids = [c.id for c in children]
    if len(children) == 2:
        link_oco(*children)


def _market_order_maker() -> Callable[..., Order]:
    """:func:`market_order`, generated from ``Order``'s fields (as ``dataclass`` makes
    ``__init__``), so it sets every field to its declared default and cannot drift from them."""
    given = ("id", "symbol", "side", "qty", "tif", "expire_ts", "tag", "strategy_id", "ts_init")
    env: dict[str, Any] = {
        "_new": object.__new__, "Order": Order, "Side": Side, "TimeInForce": TimeInForce,
        "_GTD": _TIF.GTD, "_INF": math.inf,
    }  # fmt: skip
    lines = []
    for f in fields(Order):
        if f.name in given:
            value = f.name
        elif f.name == "ts_last":
            value = "ts_init"  # as __post_init__
        elif f.default_factory is not MISSING:
            env[f"_factory_{f.name}"] = f.default_factory
            value = f"_factory_{f.name}()"
        else:
            env[f"_default_{f.name}"] = f.default
            value = f"_default_{f.name}"
        lines.append(f"    o.{f.name} = {value}")
    args = ", ".join(given)
    src = (
        f"""def market_order({args}):
    if not (side.__class__ is Side and tif.__class__ is TimeInForce and tif is not _GTD
            and qty.__class__ is float and 0.0 < qty < _INF):
        return Order(id, symbol, side, qty, tif=tif, expire_ts=expire_ts, tag=tag,
                     strategy_id=strategy_id, ts_init=ts_init)
    o = _new(Order)
"""
        + "\n".join(lines)
        + "\n    return o"
    )
    exec(src, env)  # the source is built above from the dataclass fields only
    return env["market_order"]


_MARKET_ORDER_DOC = """``Order(id, symbol, side, qty, tif=..., ...)`` of type MARKET in less than
half the time, for the inputs the constructor would take as they are (the hot path of every
strategy's market orders); anything else goes through the constructor, which coerces or
refuses it."""

if TYPE_CHECKING:  # the signature of the generated function

    def market_order(
        id: str,
        symbol: str,
        side: Side,
        qty: float,
        tif: TimeInForce,
        expire_ts: int,
        tag: str,
        strategy_id: str,
        ts_init: int,
    ) -> Order: ...

else:
    market_order = _market_order_maker()
    market_order.__doc__ = _MARKET_ORDER_DOC
