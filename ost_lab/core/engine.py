"""The one event loop shared by replay, sandbox and live.

Per market event, in this order::

    1. run control polled (stop / cancel), stale-feed watchdog fed
    2. broker.on_market_data(event)      simulated matching: orders from earlier events fill
    3. broker events dispatched          fills -> portfolio -> bracket/OCO -> on_order/on_fill
    4. mark to market, daily-loss check, history append (the bar is visible only now)
    5. strategy hooks (on_bar / on_tick) orders -> risk engine -> broker
    6. broker events dispatched again    (same-bar-close fills, rejections)
    7. equity recorded, daily-loss check, progress callback

So a fill at bar t's open is in the portfolio before ``on_bar(t)`` runs, and nothing from bar t
is visible before bar t closes. Only the feed and the broker differ between modes.
"""

from __future__ import annotations

import copy
import gc
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pandas as pd

from ost_lab.core.array_feed import ArrayFeed
from ost_lab.core.bar_loop import Subscriber, make_bar_loop
from ost_lab.core.broker import Broker, BrokerEvent
from ost_lab.core.events import Bar, FillEvent, MarketEvent, OrderEvent, Tick
from ost_lab.core.orders import Order, OrderIdGenerator
from ost_lab.core.portfolio import Portfolio
from ost_lab.core.risk import ALL, RiskEngine, RiskRejection, StaleFeedWatchdog
from ost_lab.core.sim_broker import Commission, FillTiming, SimulatedBroker
from ost_lab.core.strategy import History, Strategy
from ost_lab.core.types import (
    AccountType,
    Instrument,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    members_of,
)

# enum members read on hot paths (see members_of)
_ST = members_of(OrderStatus)
_OT = members_of(OrderType)
_SIDE = members_of(Side)
_TIF = members_of(TimeInForce)

__all__ = ["Engine", "Mode", "RunControl", "RunResult", "next_utc_midnight"]

Mode = Literal["replay", "sandbox", "live"]
Status = Literal["completed", "stopped", "cancelled"]
NS_PER_DAY = 86_400 * 1_000_000_000


def next_utc_midnight(ts: int) -> int:
    """Default end of a trading day for DAY orders: the next UTC midnight after ``ts``."""
    return (ts // NS_PER_DAY + 1) * NS_PER_DAY


@dataclass
class RunControl:
    """Polled between events. ``stop()`` ends the run gracefully (``on_stop`` is called);
    ``cancel()`` aborts it (no ``on_stop``). Both keep the results so far."""

    stop_requested: bool = False
    cancel_requested: bool = False

    def stop(self) -> None:
        """Finish after the current event."""
        self.stop_requested = True

    def cancel(self) -> None:
        """Abort after the current event."""
        self.cancel_requested = True


@dataclass
class RunResult:
    """What a run produced. ``equity`` and ``fills`` are the inputs of ``core.metrics``."""

    status: Status
    equity: pd.Series
    fills: pd.DataFrame
    orders: list[Order]
    events: list[BrokerEvent]
    rejections: list[tuple[str, RiskRejection]]
    portfolio: Portfolio
    n_events: int = 0


@dataclass
class _Held:
    """Bracket children waiting for their entry to fill."""

    children: list[Order] = field(default_factory=list)


class Engine:
    """Runs strategies over a feed against a broker, through the risk engine."""

    def __init__(
        self,
        strategies: Strategy | Sequence[Strategy],
        feed: Iterable[MarketEvent | None],
        broker: Broker | None = None,
        *,
        portfolio: Portfolio | None = None,
        initial_cash: float = 100_000.0,
        account_type: AccountType = AccountType.CASH,
        instruments: Mapping[str, Instrument] | None = None,
        risk: RiskEngine | None = None,
        fill_timing: FillTiming = "next_open",
        commission: Commission | None = None,
        mode: Mode = "replay",
        run_control: RunControl | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        progress_every: int = 1000,
        total: int | None = None,
        watchdog: StaleFeedWatchdog | None = None,
        clock: Callable[[], int] = time.time_ns,
        session_end: Callable[[int], int] = next_utc_midnight,
    ) -> None:
        self.strategies: list[Strategy] = (
            [strategies] if isinstance(strategies, Strategy) else list(strategies)
        )
        names = [s.name for s in self.strategies]
        if len(set(names)) != len(names):
            raise ValueError(f"strategy names must be unique, got {names}")
        self.feed = feed
        self.instruments = dict(instruments or {})
        self.broker: Broker = broker or SimulatedBroker(
            self.instruments, fill_timing=fill_timing, commission=commission
        )
        self.portfolio = portfolio or Portfolio(initial_cash, self.instruments, account_type)
        self.risk = risk or RiskEngine()
        self.mode: Mode = mode
        self.control = run_control or RunControl()
        self.progress = progress
        self.progress_every = max(1, int(progress_every))
        self.total = total if total is not None else _maybe_len(feed)
        self.watchdog = watchdog
        self.clock = clock
        self.session_end = session_end
        self.now = 0
        self.orders: dict[str, Order] = {}
        self._live: dict[str, Order] = {}  # not yet terminal, in submission order
        self.events: list[BrokerEvent] = []
        self.rejections: list[tuple[str, RiskRejection]] = []
        self._by_name = {s.name: s for s in self.strategies}
        # hooks a strategy does not override are no-ops: not called (saves calls per order)
        self._hears_orders = {s.name for s in self.strategies if _overrides(s, "on_order")}
        self._hears_fills = {s.name for s in self.strategies if _overrides(s, "on_fill")}
        self._open_view = _OpenOrders(self)
        self._tags: dict[str, list[str]] = {s.name: [s.name] for s in self.strategies}
        self._held: dict[str, _Held] = {}
        self._local: list[BrokerEvent] = []  # engine-made events, drained with the broker's
        #: Deterministic id for a new order (the generator itself: no method frame per order).
        self.new_order_id: Callable[[], str] = OrderIdGenerator()
        self._cursor = 0  # index of the event being handled (array runs)
        queue = getattr(self.broker, "event_queue", None)  # optional, see core.broker.Broker
        self._queue: list[BrokerEvent] | None = queue if isinstance(queue, list) else None
        self._bulk: _BulkEquity | None = None
        for s in self.strategies:
            s._ctx = self

    # ================================================================ run
    def run(self) -> RunResult:
        """Run to the end of the feed (or until stopped/cancelled) and return the results."""
        for s in self.strategies:
            s._indicators.clear()  # registrations last one run (on_start makes them)
            s.on_start()
        self._drain()
        feed = self.feed
        if isinstance(feed, ArrayFeed) and (self.watchdog is None or self.mode == "replay"):
            status, n = self._run_arrays(feed)
        else:
            status, n = self._run_events()
        if status != "cancelled":
            for s in self.strategies:
                s.on_stop()
            self._drain()
            self.portfolio.record(self.now)
        if self.progress is not None:
            self.progress(n, self.total)
        return RunResult(
            status=status,
            equity=self.portfolio.equity_curve(),
            fills=self.portfolio.fills_frame(),
            orders=list(self.orders.values()),
            events=list(self.events),
            rejections=list(self.rejections),
            portfolio=self.portfolio,
            n_events=n,
        )

    def _run_events(self) -> tuple[Status, int]:
        """The loop over any feed: poll run control and the watchdog, process each event."""
        status: Status = "completed"
        n = 0
        for event in self.feed:
            if self.control.cancel_requested:
                status = "cancelled"
                break
            if self.control.stop_requested:
                status = "stopped"
                break
            if self.watchdog is not None and self.mode != "replay":
                if event is not None:
                    self.watchdog.on_data(self.clock())
                else:
                    self.watchdog.check(self.clock())
            if event is None:
                continue
            self.process(event)
            n += 1
            if self.progress is not None and n % self.progress_every == 0:
                self.progress(n, self.total)
        else:
            status = self._final_status()
        return status, n

    def _final_status(self) -> Status:
        if self.control.cancel_requested:
            return "cancelled"
        return "stopped" if self.control.stop_requested else "completed"

    def process(self, event: MarketEvent) -> None:
        """Handle one market event (steps 2-7 of the loop)."""
        if event.ts < self.now:
            raise ValueError(f"feed out of order: {event.ts} < {self.now}")
        self.broker.on_market_data(event)
        self.now = event.ts if isinstance(event, Tick) else max(self.now, event.ts_open)
        self._drain()
        self.now = event.ts
        paused = self.watchdog is not None and self.watchdog.paused
        self.portfolio.mark(event.symbol, event.close if isinstance(event, Bar) else event.price)
        self.risk.on_equity(self.now, self.portfolio.equity())  # hooks see today's loss halt
        if isinstance(event, Bar):
            for s in self.strategies:
                if s.symbols and event.symbol not in s.symbols:
                    continue
                hist = s.data[event.symbol]
                hist.append(event)
                if s._indicators:
                    for ind, fields in _indicators_of(s, event.symbol):
                        ind.update(*[getattr(event, f) for f in fields])
                if len(hist) >= s.warmup and not paused:
                    s.on_bar(event)
                    self._drain()
        else:
            for s in self.strategies:
                if s.symbols and event.symbol not in s.symbols:
                    continue
                s.data[event.symbol].last_price = event.price
                if not paused:
                    s.on_tick(event)
                    self._drain()
        equity = self.portfolio.record(self.now)
        self.risk.on_equity(self.now, equity)

    def _run_arrays(self, feed: ArrayFeed) -> tuple[Status, int]:
        """:meth:`process` for every bar of an array feed, with provably empty work skipped.

        The same steps in the same order; what differs: bars come pre-validated (the feed
        checked its columns once), histories are zero-copy views of the feed's columns, the
        broker's queue is drained only when it holds events, and equity is computed in bulk
        from the columns (:meth:`_flush_equity`: at fills, at progress points and at the end),
        unless the risk engine watches equity, which then gets it at every bar as in
        :meth:`process`.
        """
        ctl = self.control
        pf = self.portfolio
        shortcut = getattr(self.broker, "idle_shortcut", None)
        idle = shortcut() if shortcut is not None else None
        # the broker notes the bar, then matches what works: both done here (fewer calls)
        if idle is not None:
            working, latest, match = idle
        else:  # no shortcut: the broker sees every bar
            working, latest, match = [None], {}, self.broker.on_market_data
        # a non-empty stand-in when the broker has no queue to look at: then always drain
        queue: list[Any] = self._queue if self._queue is not None else [None]
        per_bar = self.risk.watches_equity
        subs: dict[str, list[Subscriber]] = {sym: [] for sym in feed.symbols}
        catch_up: list[tuple[Any, History, Any]] = []  # (indicator, history, input column)
        for s in self.strategies:
            bound = []
            for j in feed.first_seen():  # histories appear in the order bars arrive
                sym, c = feed.symbols[j], feed.columns[j]
                if s.symbols and sym not in s.symbols:
                    continue
                h = s.data[sym]
                h.bind(c.ts_close, c.open, c.high, c.low, c.close, c.volume)
                bound.append((sym, c, h))
            for sym, c, h in bound:  # once bound, the default symbol is known
                whole: list[tuple[Any, Any]] = []  # values for the run at once
                each: list[tuple[Any, tuple[str, ...]]] = []  # update bar by bar
                for ind, fields in _indicators_of(s, sym):
                    if len(fields) == 1 and callable(getattr(ind, "replay", None)):
                        col = getattr(c, fields[0])
                        whole.append((ind, memoryview(copy.deepcopy(ind).replay(col))))
                        catch_up.append((ind, h, col))
                    else:
                        each.append((ind, fields))
                subs[sym].append((s.on_bar, h, s.warmup - 1, whole, each))
        self._bulk = _BulkEquity(feed, pf) if not per_bar else None
        total = len(feed)
        step = self.progress_every if self.progress is not None else 65_536
        status: Status = "completed"
        n = 0
        first = min((int(c.ts_close[0]) for c in feed.columns if len(c.ts_close)), default=None)
        if first is not None and first < self.now:
            raise ValueError(f"feed out of order: {first} < {self.now}")
        gc_threshold = gc.get_threshold()
        if gc_threshold[0] > 0:  # see _GC_YOUNG
            gc.set_threshold(max(gc_threshold[0], _GC_YOUNG), *gc_threshold[1:])
        # the collector's full passes skip what existed before the replay (see _GC_YOUNG);
        # left alone when the process froze objects itself (unfreeze would undo that)
        freeze = gc.isenabled() and gc.get_freeze_count() == 0
        if freeze:
            gc.freeze()
        try:
            single = feed.symbols[0] if feed.order is None and feed.symbols else None
            loop = make_bar_loop(
                self, subs, single,
                working=working, latest=latest, match=match, queue=queue, per_bar=per_bar,
            )  # fmt: skip
            for bars in feed.chunks(step):
                n, stopped = loop(bars, n)
                self._cursor = n
                if stopped:
                    break
                if self._bulk is not None:
                    self._bulk.flush(n)
                if self.progress is not None and n % self.progress_every == 0:
                    self.progress(n, self.total)
            self._cursor = n
        finally:  # also on an exception: equity of the events that completed
            gc.set_threshold(*gc_threshold)
            if freeze:
                gc.unfreeze()
            if self._bulk is not None:
                self._bulk.flush(self._cursor)
                self._bulk = None
            for ind, h, col in catch_up:  # the state ``update`` would have left
                ind.replay(col[: h._n])
        if n < total or ctl.cancel_requested or ctl.stop_requested:
            status = self._final_status()
        return status, n

    # ======================================================= context API
    def submit_order(self, strategy: Strategy, order: Order) -> Order:
        """Risk-check and send an order (bracket children are held until their entry fills)."""
        sid = order.strategy_id = order.strategy_id or strategy.name
        tags = self._tags.get(sid)
        if tags is None:
            tags = self._tags[sid] = []
        if order.tag not in tags:
            tags.append(order.tag)
            self.portfolio.version += 1  # the strategy's position now sums one more book
        self._register(order)
        if order.tif is _TIF.DAY and order.expire_ts < 0:
            order.expire_ts = self.session_end(self.now)
        if order.parent_id:
            parent = self.orders.get(order.parent_id)
            if parent is None or parent.status is not _ST.FILLED:
                self._held.setdefault(order.parent_id, _Held()).children.append(order)
                return order
        self._send(order)
        return order

    def cancel_order(self, strategy: Strategy, order: Order) -> None:
        """Cancel a working order, or a held bracket child."""
        if order.status is _ST.INITIALIZED:
            self._local.append(order.cancel(max(self.now, order.ts_last), "canceled before send"))
            self._unhold(order)
        elif order.is_open:
            self.broker.cancel(order, self.now)

    def modify_order(
        self,
        strategy: Strategy,
        order: Order,
        qty: float | None,
        limit_price: float | None,
        stop_price: float | None,
    ) -> None:
        """Modify a working order; the new quantity passes the risk engine's size rules."""
        if order.status is _ST.INITIALIZED:
            order.qty = order.qty if qty is None else float(qty)
            order.limit_price = order.limit_price if limit_price is None else float(limit_price)
            order.stop_price = order.stop_price if stop_price is None else float(stop_price)
            return
        if qty is not None and qty > order.qty:
            probe = Order(
                id=order.id + "~",
                symbol=order.symbol,
                side=order.side,
                qty=qty - order.qty,
                type=order.type,
                limit_price=order.limit_price if limit_price is None else limit_price,
                stop_price=order.stop_price if stop_price is None else stop_price,
                trailing_offset=order.trailing_offset,
                strategy_id=order.strategy_id,
            )
            rej = self.risk.check(probe, self.now, self.portfolio, self._open_orders())
            if rej is not None:
                self.rejections.append((order.id, rej))
                raise ValueError(f"modify of {order.id} rejected: {rej}")
        self.broker.modify(order, self.now, qty, limit_price, stop_price)

    def strategy_position(self, strategy: Strategy, symbol: str, tag: str | None) -> float:
        """Position of a strategy (sum of its books, or one book)."""
        position = self.portfolio.position
        if tag is not None:
            return position(symbol, tag)
        total: float = 0  # as sum(): an int 0 plus each book's position
        for t in self._tags.get(strategy.name, ()):
            total += position(symbol, t)
        return total

    def open_orders_of(self, strategy: Strategy, symbol: str | None) -> list[Order]:
        """Working orders of a strategy (optionally one symbol)."""
        return [
            o
            for o in self._open_orders()
            if o.strategy_id == strategy.name and (symbol is None or o.symbol == symbol)
        ]

    def kill_switch(self, strategy: Strategy | None = None, reason: str = "kill switch") -> None:
        """Stop new orders, cancel open/held orders and flatten positions of one strategy (or of
        everything when ``strategy`` is None). Flattening orders are market, reduce-only."""
        sid = ALL if strategy is None else strategy.name
        self.risk.kill(sid)
        for o in list(self.orders.values()):
            if sid != ALL and o.strategy_id != sid:
                continue
            if o.status is _ST.INITIALIZED:
                self._local.append(o.cancel(max(self.now, o.ts_last), reason))
            elif o.is_open:
                self.broker.cancel(o, self.now)
        if sid == ALL:  # every book, including ones no running strategy owns
            owner = {t: n for n, tags in self._tags.items() for t in tags}
            books = [(owner.get(t, ""), t) for t in self.portfolio.books]
        else:
            books = [(sid, t) for t in self._tags.get(sid, [])]
        for name, tag in books:
            book = self.portfolio.books.get(tag)
            if book is None:
                continue
            for sym, pos in book.positions.items():
                if pos.qty == 0.0:
                    continue
                flat = Order(
                    id=self.new_order_id(),
                    symbol=sym,
                    side=_SIDE.SELL if pos.qty > 0 else _SIDE.BUY,
                    qty=abs(pos.qty),
                    type=_OT.MARKET,
                    tag=tag,
                    strategy_id=name,
                    reduce_only=True,
                    ts_init=self.now,
                )
                self._register(flat)
                self._send(flat)
        self._drain()

    # ======================================================== internals
    def _register(self, order: Order) -> None:
        self.orders[order.id] = order
        self._live[order.id] = order

    def _open_orders(self) -> list[Order]:
        """Working orders, from the index of orders not yet terminal (pruned as they finish), so
        the cost follows the working orders, not every order the run ever sent."""
        live = self._live
        done = [oid for oid, o in live.items() if o.status in _TERMINAL]
        for oid in done:
            del live[oid]
        return [o for o in live.values() if o.status is not _ST.INITIALIZED]

    def _send(self, order: Order) -> None:
        if order.ts_init < self.now:
            order.ts_init = order.ts_last = self.now
        if self.watchdog is not None and self.watchdog.paused and not order.reduce_only:
            rej: RiskRejection | None = RiskRejection("stale_feed", self.watchdog.reason)
        else:
            rej = self.risk.check(order, self.now, self.portfolio, self._open_view)
        if rej is not None:
            self.rejections.append((order.id, rej))
            self._local.append(order.reject(self.now, str(rej)))
            return
        self.broker.submit(order, self.now)

    def _unhold(self, order: Order) -> None:
        held = self._held.get(order.parent_id)
        if held is not None and order in held.children:
            held.children.remove(order)

    def _drain(self) -> None:
        """Dispatch broker and engine events until none are left (hooks may create more)."""
        local = self._local
        queue = self._queue
        while True:
            if local:
                batch = local + self.broker.drain_events()
                local.clear()
            elif queue is not None:  # the broker's live queue: O(1) when empty, no call
                if not queue:
                    return
                batch = queue.copy()
                queue.clear()
            else:
                batch = self.broker.drain_events()
                if not batch:
                    return
            self.events.extend(batch)  # recorded in dispatch order, batch by batch
            on_fill, on_order_event = self._on_fill, self._on_order_event
            for ev in batch:
                if isinstance(ev, FillEvent):
                    on_fill(ev)
                elif self._hears_orders or self._held:  # else nothing reacts to it
                    on_order_event(ev)

    def _on_fill(self, fill: FillEvent) -> None:
        if self._bulk is not None:  # cash and positions up to the last event, before the fill
            self._bulk.cut(self._cursor)
        self.portfolio.apply_fill(fill)
        order = self.orders.get(fill.order_id)
        if order is None:
            return
        if order.child_ids and order.status is _ST.FILLED:
            self._release_children(order)
        for oid in order.oco_ids:
            other = self.orders.get(oid)
            if other is None or other.is_terminal:
                continue
            if other.status is _ST.INITIALIZED:
                self._local.append(
                    other.cancel(max(self.now, other.ts_last), f"OCO with {order.id}")
                )
                self._unhold(other)
            else:
                self.broker.cancel(other, max(self.now, fill.ts))
        if order.strategy_id in self._hears_fills:
            self._by_name[order.strategy_id].on_fill(fill)

    def _on_order_event(self, ev: OrderEvent) -> None:
        if not self._hears_orders and not self._held:  # nothing reacts: O(1)
            return
        order = self.orders.get(ev.order_id)
        if order is None:
            return
        if order.child_ids and ev.status in _ENDED_UNFILLED:
            self._release_children(order)
        if order.strategy_id in self._hears_orders:
            self._by_name[order.strategy_id].on_order(order, ev)

    def _release_children(self, parent: Order) -> None:
        held = self._held.pop(parent.id, None)
        if held is None:
            return
        for child in held.children:
            if child.is_terminal:
                continue
            if parent.filled_qty > 0:
                child.qty = parent.filled_qty
                self._send(child)
            else:
                self._local.append(
                    child.cancel(max(self.now, child.ts_last), f"entry {parent.id} not filled")
                )


class _BulkEquity:
    """Equity of an array run computed in bulk. Between two fills cash and positions are
    constant, so the engine only notes them when a fill is about to change them (:meth:`cut`);
    :meth:`flush` then values each stretch at the feed's closes (the marks the engine sets),
    with ``Portfolio.equity_at``'s float operations: bit-identical to recording every event."""

    def __init__(self, feed: ArrayFeed, portfolio: Portfolio) -> None:
        self.feed = feed
        self.portfolio = portfolio
        self.done = 0  # events whose equity is recorded
        self.cut_at = 0  # events whose cash and positions are noted in ``segments``
        self.segments: list[tuple[int, float, dict[str, float]]] = []
        self.before = dict(portfolio.marks)  # marks of symbols before their first bar
        self.index = {sym: j for j, sym in enumerate(feed.symbols)}
        if feed.order is not None:
            js, ks = feed.order
            self.ts = np.empty(js.shape[0], dtype=np.int64)
            for j, c in enumerate(feed.columns):
                at = js == j
                self.ts[at] = c.ts_close[ks[at]]
        else:
            self.ts = feed.columns[0].ts_close if feed.columns else np.empty(0, dtype=np.int64)

    def cut(self, end: int) -> None:
        """Note the cash and positions that held after each event up to ``end``."""
        if end > self.cut_at:
            pf = self.portfolio
            qty = {}  # the open positions' quantities (a loop: no comprehension frame)
            for sym, pos in pf.positions.items():
                if pos.qty:
                    qty[sym] = pos.qty
            self.segments.append((end, pf.account.cash, qty))
            self.cut_at = end

    def flush(self, end: int) -> None:
        """Record the equity after each event in ``[done, end)``."""
        self.cut(end)
        a = self.done
        if end <= a:
            return
        pf = self.portfolio
        segs = self.segments
        bounds = [a] + [e for e, _, _ in segs]
        lengths = [e - b for b, e in pairwise(bounds)]
        cash = np.repeat(np.array([c for _, c, _ in segs]), lengths)
        total: Any = np.zeros(end - a)
        for sym, pos in pf.positions.items():  # position order, as Portfolio.equity_at
            q = np.repeat(np.array([held.get(sym, 0.0) for _, _, held in segs]), lengths)
            if not q.any():
                continue
            j = self.index.get(sym)
            mark: Any = (
                pf.marks[sym]
                if j is None
                else self.feed.marks(j, a, end, self.before.get(sym, math.nan))
            )
            with np.errstate(invalid="ignore"):
                total = np.where(q != 0.0, total + q * mark * pos.multiplier, total)
        pf.record_many(self.ts[a:end], cash + total)
        segs.clear()
        self.done = end


class _OpenOrders:
    """The engine's working orders, listed only if iterated (most risk checks never do)."""

    __slots__ = ("_engine",)

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __iter__(self) -> Iterator[Order]:
        return iter(self._engine._open_orders())


def _indicators_of(strategy: Strategy, symbol: str) -> list[tuple[Any, tuple[str, ...]]]:
    """The indicators ``strategy`` registered for ``symbol`` (None: its default symbol)."""
    return [
        (ind, fields)
        for ind, sym, fields in strategy._indicators
        if (sym if sym is not None else strategy.default_symbol) == symbol
    ]


def _overrides(strategy: Strategy, hook: str) -> bool:
    """True when ``strategy`` defines ``hook`` itself (class or instance), not the no-op.

    (Asked of the bound attribute, not ``vars(strategy)``: see ``Param.__set_name__``.)"""
    return getattr(getattr(strategy, hook), "__func__", None) is not getattr(Strategy, hook)


#: Allocations between young-generation collections during an array replay (Python's default
#: is 700). A replay keeps every order and event it makes; at the default the collector's full
#: passes over them (and over the rest of the process's heap) cost ~15% of a 1M-bar
#: ``Strategy`` replay. Cyclic garbage is still collected, only in fewer, larger passes; the
#: previous thresholds are restored when the replay ends. The objects that existed before the
#: replay are also frozen (``gc.freeze``) for its length: a full pass then walks only what the
#: replay made, not the whole process (with numba and pandas loaded, ~1.7M objects and
#: ~0.3-0.4 s per 1M-bar replay measured).
_GC_YOUNG = 50_000

_TERMINAL = frozenset(s for s in OrderStatus if s.is_terminal)
_ENDED_UNFILLED = frozenset({_ST.CANCELED, _ST.EXPIRED, _ST.REJECTED})


def _maybe_len(obj: object) -> int | None:
    try:
        return len(obj)  # type: ignore[arg-type]
    except TypeError:
        return None
