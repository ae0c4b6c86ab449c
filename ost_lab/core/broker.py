"""The two seams that make replay, sandbox and live the same run: a Broker and a DataFeed.

A replay uses a simulated broker over historical data, sandbox uses the simulated broker over a
live feed, live uses a real broker adapter over a live feed. The engine only talks to these
protocols.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from ost_lab.core.events import FillEvent, MarketEvent, OrderEvent
from ost_lab.core.orders import Order

__all__ = ["Broker", "BrokerEvent", "DataFeed", "ListFeed"]

BrokerEvent = OrderEvent | FillEvent


@runtime_checkable
class Broker(Protocol):
    """What the engine needs from a venue.

    The broker owns the transitions of orders it has been given (it calls ``order.accept``,
    ``order.fill`` ...) and queues the resulting :class:`OrderEvent` / :class:`FillEvent` objects,
    which the engine collects with :meth:`drain_events` in the order they happened. Real brokers
    translate their venue's reports into these calls; the simulated broker produces them by
    matching orders against market data.

    Optional: a broker whose events are produced only by these calls (a simulated one) may
    expose ``event_queue``, the live list it queues events in (never rebound) and that
    :meth:`drain_events` empties; the engine then skips draining in O(1) while that list is
    empty and takes the events from it itself. Without it the engine drains after every step,
    as real brokers report asynchronously.
    """

    def submit(self, order: Order, ts: int) -> None:
        """Send a new order (status INITIALIZED) at ``ts``."""
        ...

    def cancel(self, order: Order, ts: int) -> None:
        """Request cancellation of a working order (no-op if it is already terminal)."""
        ...

    def modify(
        self,
        order: Order,
        ts: int,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
    ) -> None:
        """Request a change of quantity and/or prices of a working order."""
        ...

    def on_market_data(self, event: MarketEvent) -> None:
        """Called with each market event before the strategy sees it (simulated matching)."""
        ...

    def drain_events(self) -> list[BrokerEvent]:
        """Return and forget all events produced since the last call, in order."""
        ...


class DataFeed(Protocol):
    """An iterable of market events in non-decreasing ``ts`` order.

    Live feeds may yield ``None`` as a heartbeat while idle so the engine can poll its run
    control and the stale-feed watchdog between events.
    """

    def __iter__(self) -> Iterator[MarketEvent | None]:
        """Yield events in time order."""
        ...


class ListFeed:
    """A feed over an in-memory list of events, stably sorted by ``ts`` (ties keep input order)."""

    def __init__(self, events: Iterable[MarketEvent]) -> None:
        self._events = sorted(events, key=lambda e: e.ts)

    def __iter__(self) -> Iterator[MarketEvent | None]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)
