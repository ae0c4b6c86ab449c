"""The Strategy base class users subclass, its declared parameters, and history views.

::

    class Cross(Strategy):
        fast = Param(10, min=2, max=100, doc="fast SMA length")
        slow = Param(30, min=5, max=400)
        warmup = 30

        def on_bar(self, bar):
            c = self.data[bar.symbol].close          # numpy view, no copy
            if c[-self.fast:].mean() > c[-self.slow:].mean():
                self.target_position(bar.symbol, 100)
            else:
                self.target_position(bar.symbol, 0)

The same object runs in replay, sandbox and live; the engine attaches itself as the context.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

import numpy as np
import numpy.typing as npt

from ost_lab.core.events import Bar, FillEvent, OrderEvent, Tick
from ost_lab.core.orders import Order, link_bracket, link_oco, market_order
from ost_lab.core.types import OrderType, Side, TimeInForce, TrailingOffsetType, members_of

# enum members read on hot paths (see members_of)
_OT = members_of(OrderType)
_SIDE = members_of(Side)
_TIF = members_of(TimeInForce)
_TRAIL = members_of(TrailingOffsetType)

if TYPE_CHECKING:
    from ost_lab.core.portfolio import Portfolio

__all__ = ["BAR_INPUTS", "DataView", "History", "Param", "Strategy", "StrategyContext"]

#: Bar fields an indicator registered with :meth:`Strategy.indicator` may take as inputs.
BAR_INPUTS = ("open", "high", "low", "close", "volume")

IndicatorT = TypeVar("IndicatorT")

T = TypeVar("T")


class Param(Generic[T]):
    """A declared, typed strategy parameter with a default and optional range / choices.

    Widgets and sweeps read :meth:`spec`; assignment validates type, range and choices.
    """

    def __init__(
        self,
        default: T,
        *,
        min: float | None = None,
        max: float | None = None,
        step: float | None = None,
        choices: Sequence[T] | None = None,
        doc: str = "",
    ) -> None:
        self.default = default
        self.type: type = type(default)
        self.min = min
        self.max = max
        self.step = step
        self.choices = tuple(choices) if choices is not None else None
        self.doc = doc
        self.name = ""
        self._attr = ""  # where an instance keeps its value (see __set_name__)
        self.validate(default)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        # An attribute of its own, not ``obj.__dict__[name]``: touching ``__dict__`` would
        # make Python give up its fast attribute access for every attribute of the strategy
        # (CPython 3.11: every ``self.x`` in ``on_bar`` would take the generic lookup).
        self._attr = "_param_" + name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> Param[T]: ...
    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> T: ...
    def __get__(self, obj: object | None, objtype: type | None = None) -> T | Param[T]:
        if obj is None:
            return self
        value: T = getattr(obj, self._attr, self.default)
        return value

    def __set__(self, obj: object, value: T) -> None:
        setattr(obj, self._attr, self.validate(value))

    def validate(self, value: Any) -> T:
        """Coerce ``value`` to the declared type and check range/choices; raise ValueError."""
        label = self.name or "param"
        if self.type is bool and not isinstance(value, bool | np.bool_):
            raise ValueError(f"{label}: expected bool, got {value!r}")
        if self.type is int and (isinstance(value, bool) or not float(value).is_integer()):
            raise ValueError(f"{label}: expected int, got {value!r}")
        try:
            value = self.type(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{label}: cannot convert {value!r} to {self.type.__name__}") from exc
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{label}: {value!r} not in {self.choices!r}")
        if self.min is not None and value < self.min:
            raise ValueError(f"{label}: {value!r} < min {self.min!r}")
        if self.max is not None and value > self.max:
            raise ValueError(f"{label}: {value!r} > max {self.max!r}")
        return value

    def spec(self) -> dict[str, Any]:
        """Plain-data description for widgets and sweeps."""
        return {
            "name": self.name,
            "type": self.type.__name__,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "step": self.step,
            "choices": list(self.choices) if self.choices is not None else None,
            "doc": self.doc,
        }


FloatArray = npt.NDArray[np.float64]


class History:
    """Growing OHLCV arrays of one symbol. Properties return read-only views (no copies) of the
    bars seen so far; the current bar is the last element."""

    _FIELDS = ("open", "high", "low", "close", "volume")

    def __init__(self, symbol: str, capacity: int = 256) -> None:
        self.symbol = symbol
        self._n = 0
        self._ts = np.empty(capacity, dtype=np.int64)
        self._cols = {f: np.empty(capacity, dtype=np.float64) for f in self._FIELDS}
        self._bound = False
        self._last = math.nan

    @property
    def last_price(self) -> float:
        """The latest close (or tick price); nan before any. A bound history reads it from
        its columns, so the engine does not store it every bar."""
        if self._bound and self._n:
            return float(self._cols["close"][self._n - 1])
        return self._last

    @last_price.setter
    def last_price(self, price: float) -> None:
        self._last = price

    def bind(
        self,
        ts: npt.NDArray[np.int64],
        open: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
    ) -> None:
        """Back the history by a replay's full columns, empty so far: the engine then only
        advances the length as bars close (``_n``), so views are zero-copy slices of the
        replay's arrays and nothing past the current bar is visible through them."""
        self._ts = ts
        self._cols = dict(zip(self._FIELDS, (open, high, low, close, volume), strict=True))
        self._n = 0
        self._bound = True
        self._last = math.nan

    def append(self, bar: Bar) -> None:
        """Add a closed bar (called by the engine at the bar's close)."""
        if self._bound:  # own copies from now on: never write into a replay's arrays
            self._ts = self._ts[: max(self._n, 1)].copy()
            self._cols = {k: v[: max(self._n, 1)].copy() for k, v in self._cols.items()}
            self._bound = False
        if self._n == len(self._ts):
            cap = 2 * len(self._ts)
            self._ts = np.resize(self._ts, cap)
            self._cols = {k: np.resize(v, cap) for k, v in self._cols.items()}
        i = self._n
        self._ts[i] = bar.ts
        c = self._cols
        c["open"][i], c["high"][i], c["low"][i] = bar.open, bar.high, bar.low
        c["close"][i], c["volume"][i] = bar.close, bar.volume
        self._n += 1
        self._last = bar.close

    def _view(self, a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        v = a[: self._n]
        v.flags.writeable = False
        return v

    def __len__(self) -> int:
        return self._n

    @property
    def ts(self) -> npt.NDArray[np.int64]:
        """Close times (ns) of the bars so far."""
        return self._view(self._ts)

    @property
    def open(self) -> FloatArray:
        """Opens so far."""
        return self._view(self._cols["open"])

    @property
    def high(self) -> FloatArray:
        """Highs so far."""
        return self._view(self._cols["high"])

    @property
    def low(self) -> FloatArray:
        """Lows so far."""
        return self._view(self._cols["low"])

    @property
    def close(self) -> FloatArray:
        """Closes so far."""
        return self._view(self._cols["close"])

    @property
    def volume(self) -> FloatArray:
        """Volumes so far."""
        return self._view(self._cols["volume"])


class DataView(Mapping[str, History]):
    """``strategy.data[symbol]`` -> :class:`History` (created on first access)."""

    def __init__(self) -> None:
        self._h: dict[str, History] = {}

    def __getitem__(self, symbol: str) -> History:
        h = self._h.get(symbol)
        if h is None:
            h = self._h[symbol] = History(symbol)
        return h

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._h

    def __iter__(self) -> Iterator[str]:
        return iter(self._h)

    def __len__(self) -> int:
        return len(self._h)


class StrategyContext(Protocol):
    """What a strategy may ask of the engine running it."""

    now: int
    portfolio: Portfolio

    def submit_order(self, strategy: Strategy, order: Order) -> Order: ...
    def cancel_order(self, strategy: Strategy, order: Order) -> None: ...
    def modify_order(
        self,
        strategy: Strategy,
        order: Order,
        qty: float | None,
        limit_price: float | None,
        stop_price: float | None,
    ) -> None: ...
    def new_order_id(self) -> str: ...
    def strategy_position(self, strategy: Strategy, symbol: str, tag: str | None) -> float: ...
    def open_orders_of(self, strategy: Strategy, symbol: str | None) -> list[Order]: ...
    def kill_switch(self, strategy: Strategy | None = None, reason: str = "") -> None: ...


class Strategy:
    """Subclass and override the hooks. Parameters are :class:`Param` class attributes.

    ``symbols``: instruments this strategy trades (empty = every symbol in the feed); the first
    is the default for ``buy``/``sell``/``position``. ``warmup``: ``on_bar`` is first called for a
    symbol once that many bars (including the current one) are in ``self.data[symbol]``.
    """

    warmup: int = 0
    symbols: Sequence[str] = ()

    def __init__(self, name: str | None = None, **params: Any) -> None:
        self.name = name or type(self).__name__
        specs = self.params()
        for key, value in params.items():
            if key == "symbols":
                self.symbols = tuple(value)
                continue
            if key == "warmup":
                self.warmup = int(value)
                continue
            if key not in specs:
                raise TypeError(f"{type(self).__name__} has no parameter {key!r}")
            setattr(self, key, value)
        self.data = DataView()
        self._ctx: StrategyContext | None = None
        self._pos_cache: tuple[object, int, Sequence[str], float] = (None, -1, (), 0.0)
        #: ``(indicator, symbol or None, input fields)`` registered for the current run
        self._indicators: list[tuple[Any, str | None, tuple[str, ...]]] = []

    # ------------------------------------------------------------ params
    @classmethod
    def params(cls) -> dict[str, Param[Any]]:
        """Declared parameters by name (including inherited ones)."""
        out: dict[str, Param[Any]] = {}
        for klass in reversed(cls.__mro__):
            for k, v in vars(klass).items():
                if isinstance(v, Param):
                    out[k] = v
        return out

    def param_values(self) -> dict[str, Any]:
        """Current parameter values."""
        return {k: getattr(self, k) for k in self.params()}

    # ------------------------------------------------------------ hooks
    def on_start(self) -> None:
        """Before the first event."""

    def on_bar(self, bar: Bar) -> None:
        """After ``bar`` closed (it is the last element of ``self.data[bar.symbol]``)."""

    def on_tick(self, tick: Tick) -> None:
        """On each tick."""

    def on_order(self, order: Order, event: OrderEvent) -> None:
        """On every status change of one of this strategy's orders."""

    def on_fill(self, fill: FillEvent) -> None:
        """On each execution of one of this strategy's orders (already in the portfolio)."""

    def on_stop(self) -> None:
        """After the last event (or when the run is stopped)."""

    # ------------------------------------------------------------ state
    @property
    def ctx(self) -> StrategyContext:
        """The engine running this strategy."""
        if self._ctx is None:
            raise RuntimeError("strategy is not attached to an engine")
        return self._ctx

    @property
    def now(self) -> int:
        """Current event time (ns)."""
        return self.ctx.now

    @property
    def portfolio(self) -> Portfolio:
        """The account-wide portfolio (books per tag are in ``portfolio.books``)."""
        return self.ctx.portfolio

    @property
    def default_symbol(self) -> str:
        """The first traded symbol."""
        if self.symbols:
            return self.symbols[0]
        for symbol in self.data._h:  # the first seen (read per order: no Mapping protocol)
            return symbol
        raise RuntimeError("strategy has no symbols yet")

    @property
    def position(self) -> float:
        """This strategy's net position in the default symbol (all its books), always current.

        Cached until the portfolio's ``version`` changes (fills, new books), so asking every
        bar costs a few attribute reads."""
        pf = (self._ctx or self.ctx).portfolio
        c = self._pos_cache
        if c[0] is pf and c[1] == pf.version and c[2] is self.symbols:
            return c[3]
        value = self.position_of()
        self._pos_cache = (pf, pf.version, self.symbols, value)
        return value

    def position_of(self, symbol: str | None = None, tag: str | None = None) -> float:
        """This strategy's position in ``symbol`` (optionally of one book ``tag``)."""
        return self.ctx.strategy_position(self, symbol or self.default_symbol, tag)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """This strategy's working orders."""
        return self.ctx.open_orders_of(self, symbol)

    # ------------------------------------------------------------ orders
    def order(
        self,
        side: Side,
        qty: float,
        symbol: str | None = None,
        *,
        limit: float | None = None,
        stop: float | None = None,
        trail: float | None = None,
        trail_percent: bool = False,
        type: OrderType | str | None = None,
        tif: TimeInForce | str = _TIF.GTC,
        expire_ts: int = -1,
        tag: str | None = None,
        submit: bool = True,
    ) -> Order:
        """Create (and by default submit) an order. The type is inferred from the prices given:
        limit -> LIMIT, stop -> STOP, both -> STOP_LIMIT, trail -> TRAILING_STOP, none ->
        MARKET; pass ``type`` for MARKET_IF_TOUCHED / LIMIT_IF_TOUCHED (``stop`` = trigger)."""
        ctx = self._ctx if self._ctx is not None else self.ctx
        if side.__class__ is not Side:
            side = Side(side)
        if tif is not _TIF.GTC and not isinstance(tif, TimeInForce):
            tif = TimeInForce[tif.upper()] if isinstance(tif, str) else TimeInForce(tif)
        if type is None and limit is stop is trail is None and not trail_percent:
            # the common case: a market order, prices and trailing fields at their defaults
            o = market_order(
                ctx.new_order_id(),
                symbol or self.default_symbol,
                side,
                float(qty),
                tif,
                expire_ts,
                tag or self.name,
                self.name,
                ctx.now,
            )
            return ctx.submit_order(self, o) if submit else o
        if type is None:
            if trail is not None:
                otype = _OT.TRAILING_STOP
            elif limit is not None and stop is not None:
                otype = _OT.STOP_LIMIT
            elif limit is not None:
                otype = _OT.LIMIT
            elif stop is not None:
                otype = _OT.STOP
            else:
                otype = _OT.MARKET
        else:
            otype = OrderType[type.upper()] if isinstance(type, str) else OrderType(type)
        o = Order(
            id=ctx.new_order_id(),
            symbol=symbol or self.default_symbol,
            side=side,
            qty=float(qty),
            type=otype,
            limit_price=math.nan if limit is None else float(limit),
            stop_price=math.nan if stop is None else float(stop),
            tif=tif,
            expire_ts=expire_ts,
            tag=tag or self.name,
            strategy_id=self.name,
            trailing_offset=math.nan if trail is None else float(trail),
            trailing_offset_type=(_TRAIL.PERCENT if trail_percent else _TRAIL.PRICE),
            ts_init=ctx.now,
        )
        return ctx.submit_order(self, o) if submit else o

    # ------------------------------------------------------------ indicators
    def indicator(
        self,
        indicator: IndicatorT,
        symbol: str | None = None,
        inputs: Sequence[str] | None = None,
    ) -> IndicatorT:
        """Have the engine feed ``indicator`` each bar of ``symbol`` (default: the default
        symbol) before ``on_bar``, warm-up bars included; returns it, to read ``.value``.

        Call it from ``on_start``: registrations last one run. ``inputs`` are the bar fields
        ``indicator.update`` takes, in order (default: its ``inputs`` attribute, else close).
        In an array replay an indicator with a ``replay`` method (SMA, EMA, WMA, RSI) gets its
        values for the whole run at once, bit-identical to ``update`` bar by bar; during the
        run only ``value`` (and ``ready``) follow the bars, and the rest of its state catches
        up when the run ends.
        """
        fields = tuple(inputs) if inputs is not None else getattr(indicator, "inputs", ("close",))
        if not fields or any(f not in BAR_INPUTS for f in fields):
            raise ValueError(f"indicator inputs must be bar fields {BAR_INPUTS}, got {fields}")
        if not callable(getattr(indicator, "update", None)):
            raise TypeError(f"{type(indicator).__name__} has no update method")
        if any(reg[0] is indicator for reg in self._indicators):
            raise ValueError(f"{type(indicator).__name__} is already registered")
        self._indicators.append((indicator, symbol, fields))
        return indicator

    def buy(self, qty: float, symbol: str | None = None, **kw: Any) -> Order:
        """Buy ``qty`` (see :meth:`order` for keywords)."""
        return self.order(_SIDE.BUY, qty, symbol, **kw)

    def sell(self, qty: float, symbol: str | None = None, **kw: Any) -> Order:
        """Sell ``qty`` (see :meth:`order` for keywords)."""
        return self.order(_SIDE.SELL, qty, symbol, **kw)

    def target_position(
        self,
        symbol: str | None = None,
        qty: float | None = None,
        *,
        weight: float | None = None,
        tag: str | None = None,
        **kw: Any,
    ) -> Order | None:
        """Trade towards a target quantity, or a weight of equity, counting open orders so a
        repeated call never double-trades. Returns the order sent, or ``None`` if on target."""
        sym = symbol or self.default_symbol
        if (qty is None) == (weight is None):
            raise ValueError("give exactly one of qty or weight")
        inst = self.portfolio.instrument(sym)
        if weight is not None:
            price = self.portfolio.marks.get(sym, self.data[sym].last_price)
            if not (price > 0):
                raise ValueError(f"no price for {sym} to size a weight")
            qty = inst.round_qty(weight * self.portfolio.equity() / (price * inst.multiplier))
        assert qty is not None
        current = self.position_of(sym, tag)
        pending = sum(
            o.leaves_qty * float(o.side)
            for o in self.open_orders(sym)
            if tag is None or o.tag == tag
        )
        delta = inst.round_qty(qty - current - pending)
        if delta == 0.0:
            return None
        side = _SIDE.BUY if delta > 0 else _SIDE.SELL
        return self.order(side, abs(delta), sym, tag=tag, **kw)

    def cancel(self, order: Order) -> None:
        """Cancel a working order (or a held bracket child)."""
        self.ctx.cancel_order(self, order)

    def modify(
        self,
        order: Order,
        qty: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
    ) -> None:
        """Change quantity and/or prices of a working order."""
        self.ctx.modify_order(self, order, qty, limit, stop)

    def bracket(
        self,
        side: Side,
        qty: float,
        symbol: str | None = None,
        *,
        take_profit: float | None = None,
        stop_loss: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
        tif: TimeInForce | str = _TIF.GTC,
        tag: str | None = None,
    ) -> tuple[Order, Order | None, Order | None]:
        """Entry (market, or limit/stop) + take-profit LIMIT + stop-loss STOP. The exits are
        submitted when the entry fills, for the filled quantity, and cancel each other (OCO)."""
        entry = self.order(
            side, qty, symbol, limit=limit, stop=stop, tif=tif, tag=tag, submit=False
        )
        exit_side = _SIDE.SELL if entry.side is _SIDE.BUY else _SIDE.BUY
        tp = (
            self.order(exit_side, qty, entry.symbol, limit=take_profit, tag=entry.tag, submit=False)
            if take_profit is not None
            else None
        )
        sl = (
            self.order(exit_side, qty, entry.symbol, stop=stop_loss, tag=entry.tag, submit=False)
            if stop_loss is not None
            else None
        )
        link_bracket(entry, tp, sl)
        for child in (tp, sl):
            if child is not None:
                self.ctx.submit_order(self, child)  # held by the engine until the entry fills
        self.ctx.submit_order(self, entry)
        return entry, tp, sl

    def oco(self, *orders: Order) -> tuple[Order, ...]:
        """Link orders one-cancels-other and submit those not yet submitted."""
        link_oco(*orders)
        for o in orders:
            if o.status.name == "INITIALIZED":
                self.ctx.submit_order(self, o)
        return orders

    def kill(self, reason: str = "strategy kill") -> None:
        """Kill switch for this strategy: cancel its orders, flatten its positions, stop orders."""
        self.ctx.kill_switch(self, reason)
