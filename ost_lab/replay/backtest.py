"""``Backtest``: one front door for both strategy APIs.

* A ``core.Strategy`` subclass (or instance) runs in core's ``Engine`` against the event-loop
  venue (:class:`.broker.VenueBroker`) — the exact loop sandbox and live use.
* A numba kernel (:mod:`.kernel`) runs in a jitted loop against the numba venue
  (:mod:`.venue`), in chunks so progress is reported and a ``RunControl`` can stop it between
  chunks (~100k bars: a few ms). ``engine="event"`` runs the same kernel in the event loop.

Both return a :class:`.result.BacktestResult`; fills agree exactly (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from ost_lab.core import matching
from ost_lab.core.engine import Engine, RunControl, next_utc_midnight
from ost_lab.core.portfolio import FILLS_COLUMNS, Portfolio
from ost_lab.core.risk import RiskEngine
from ost_lab.core.sim_broker import Commission
from ost_lab.core.strategy import Strategy
from ost_lab.core.types import AccountType, Instrument, OrderType
from ost_lab.replay import venue as V
from ost_lab.replay.broker import VenueBroker
from ost_lab.replay.commission import CommissionModel
from ost_lab.replay.data import BarData, to_bar_data
from ost_lab.replay.kernel import KernelStrategy, make_state, runner_for
from ost_lab.replay.result import ORDERS_COLUMNS, BacktestResult
from ost_lab.replay.slippage import SlippageModel

__all__ = ["Backtest", "FillTimingName", "Progress", "is_kernel"]

FillTimingName = Literal["next_open", "same_close"]
IntrabarName = Literal["pessimistic", "bar_direction"]
_INTRABAR = {"pessimistic": matching.PESSIMISTIC, "bar_direction": matching.BAR_DIRECTION}
Progress = Callable[[int, int], None]
_STATUS_NAMES = np.array(["ACCEPTED", "FILLED", "CANCELED", "EXPIRED"], dtype=object)  # V.WORKING..
_TYPE_NAMES = np.array([t.name.lower() for t in OrderType], dtype=object)


def is_kernel(obj: Any) -> bool:
    """True for a numba-jitted function (a kernel strategy)."""
    return hasattr(obj, "py_func") and callable(obj)


class Backtest:
    """A historical replay of ``strategy`` (``Strategy`` class/instance or numba kernel) over
    ``data`` (DataFrame, dict of DataFrames, secmaster ``Bars``/``MultiBars``).

    ``commission``: a rate of notional (0.002 = 0.2 %) or a ``Commission``/``CommissionModel``.
    ``slippage``: bps (float), ``SlippageModel`` or ``(kind, param)``. ``fill_timing``:
    ``"next_open"`` (market orders fill at the next bar's open) or ``"same_close"`` (at the
    deciding bar's close: for signals computed at the end of a bar). ``max_volume_fraction``:
    share of each bar's volume available to all working orders together (0 = unlimited).
    ``latency_bars``: orders start working that many bars later (kernel venue).
    ``latency_ns`` (tick data only; both venues): an order decided at a tick with time ``t``
    starts working at the first later tick with a time ``>= t + latency_ns``.
    ``intrabar``: the path assumed inside a bar (``core.matching``): ``"pessimistic"`` (only the
    trigger and the close are known to trade after an intrabar trigger) or ``"bar_direction"``
    (open-low-high-close when close >= open, else open-high-low-close).
    ``account``: ``"margin"`` (shorts allowed) or ``"cash"``. Kernel strategies take
    ``params`` (array) and ``state`` (array, or a callable ``state(params)``).
    ``session_end``: when a DAY order placed at a ts ends, e.g. ``core.daily_close("16:00",
    "America/New_York")`` (None: the next UTC midnight); both venues. It must name the end of
    the session containing ts: the same end for every ts before it.
    """

    def __init__(
        self,
        data: Any,
        strategy: Any,
        *,
        cash: float = 100_000.0,
        commission: float | Commission | None = None,
        slippage: float | SlippageModel | tuple[str, float] | None = None,
        fill_timing: FillTimingName = "next_open",
        max_volume_fraction: float = 0.0,
        latency_bars: int = 0,
        latency_ns: int = 0,
        instruments: Mapping[str, Instrument] | None = None,
        account: Literal["margin", "cash"] = "margin",
        risk: RiskEngine | None = None,
        symbol: str = "ASSET",
        state: npt.ArrayLike | Callable[[Any], Any] = (),
        max_orders: int = 16,
        engine: Literal["auto", "event"] = "auto",
        intrabar: IntrabarName = "pessimistic",
        session_end: Callable[[int], int] | None = None,
    ) -> None:
        if fill_timing not in ("next_open", "same_close"):
            raise ValueError(f"fill_timing must be 'next_open' or 'same_close': {fill_timing!r}")
        if intrabar not in _INTRABAR:
            raise ValueError(f"intrabar must be 'pessimistic' or 'bar_direction': {intrabar!r}")
        self.intrabar: IntrabarName = intrabar
        #: when a DAY order placed at a ts ends (``core.daily_close(...)``; None: UTC midnight)
        self.session_end = session_end
        self.data: BarData = to_bar_data(data, symbol)
        self.strategy = strategy
        self.cash = float(cash)
        self.commission = CommissionModel.coerce(commission)
        self.slippage = SlippageModel.coerce(slippage)
        self.fill_timing: FillTimingName = fill_timing
        self.max_volume_fraction = float(max_volume_fraction)
        self.latency_bars = int(latency_bars)
        self.latency_ns = int(latency_ns)
        if self.latency_ns < 0:
            raise ValueError(f"latency_ns must be >= 0: {latency_ns!r}")
        if self.latency_ns and not self.data.ticks:
            raise ValueError(
                "latency_ns applies to tick data (trades/quotes); bars take latency_bars"
            )
        self.instruments = dict(instruments or {})
        self.account = AccountType.MARGIN if account == "margin" else AccountType.CASH
        self.risk = risk
        self.state = state
        self.max_orders = int(max_orders)
        self.engine = engine

    # ------------------------------------------------------------------ run
    def run(
        self,
        *,
        control: RunControl | None = None,
        progress: Progress | None = None,
        on_chunk: Progress | None = None,
        chunk_bars: int = 100_000,
        params: npt.ArrayLike | None = None,
        **strategy_params: Any,
    ) -> BacktestResult:
        """Replay and return the result. ``control`` (core ``RunControl``) is polled between
        chunks of ``chunk_bars`` bars (kernel) or every event (event loop); ``progress(done,
        total)`` and ``on_chunk(done, total)`` are called after each chunk. Kernel parameters
        go in ``params``; ``Strategy`` parameters as keywords."""
        control = control or RunControl()
        if is_kernel(self.strategy) and self.engine != "event":
            return self._run_kernel(control, progress, on_chunk, chunk_bars, params)
        return self._run_event(control, progress, on_chunk, chunk_bars, params, strategy_params)

    # ---------------------------------------------------------- event loop
    def _make_strategy(self, params: npt.ArrayLike | None, kw: dict[str, Any]) -> Strategy:
        syms = tuple(self.data.symbols)
        s = self.strategy
        if is_kernel(s):
            p = np.asarray(params if params is not None else (), dtype=np.float64)
            return KernelStrategy(s, p, self.state, max_orders=self.max_orders, symbols=syms)
        if isinstance(s, Strategy):
            for k, v in kw.items():
                setattr(s, k, v)
            return s
        if isinstance(s, type) and issubclass(s, Strategy):
            inst = s(**kw)
            if not inst.symbols:
                inst.symbols = syms
            return inst
        raise TypeError("strategy must be a Strategy subclass/instance or a numba kernel")

    def _run_event(
        self,
        control: RunControl,
        progress: Progress | None,
        on_chunk: Progress | None,
        chunk_bars: int,
        params: npt.ArrayLike | None,
        kw: dict[str, Any],
    ) -> BacktestResult:
        strat = self._make_strategy(params, kw)
        pf = Portfolio(self.cash, self.instruments, self.account)
        broker = VenueBroker(
            self.instruments,
            fill_timing="close" if self.fill_timing == "same_close" else "next_open",
            commission=self.commission,
            slippage=self.slippage,
            max_volume_fraction=self.max_volume_fraction,
            portfolio=pf,
        )
        broker.intrabar = _INTRABAR[self.intrabar]
        broker.latency_ns = self.latency_ns
        events = self.data.events() if self.data.ticks else self.data.feed()

        def report(done: int, total: int | None) -> None:
            for cb in (progress, on_chunk):
                if cb is not None:
                    cb(done, total if total is not None else len(events))

        engine = Engine(
            strat,
            events,
            broker,
            portfolio=pf,
            instruments=self.instruments,
            risk=self.risk,
            run_control=control,
            progress=report if (progress or on_chunk) else None,
            progress_every=chunk_bars,
            session_end=self.session_end or next_utc_midnight,
        )
        res = engine.run()
        orders = lambda: pd.DataFrame(  # noqa: E731
            [
                (
                    o.id,
                    o.ts_init,
                    o.symbol,
                    int(o.side),
                    o.type.name.lower(),
                    o.qty,
                    o.limit_price,
                    o.stop_price,
                    o.filled_qty,
                    o.avg_fill_price,
                    o.status.name,
                )
                for o in res.orders
            ],
            columns=list(ORDERS_COLUMNS),
        )
        return BacktestResult(
            res.status, res.equity, res.fills, orders, self.data, dict(kw), res.n_events
        )

    # -------------------------------------------------------------- kernel
    def _run_kernel(
        self,
        control: RunControl,
        progress: Progress | None,
        on_chunk: Progress | None,
        chunk_bars: int,
        params: npt.ArrayLike | None,
    ) -> BacktestResult:
        if len(self.data.symbols) != 1:
            raise ValueError("kernel strategies replay one symbol; use a Strategy for several")
        ((sym, b),) = self.data.symbols.items()
        inst = self.instruments.get(sym) or Instrument(sym)
        p = np.asarray(params if params is not None else (), dtype=np.float64)
        state = make_state(self.state, p)
        run = runner_for(self.strategy)
        n = len(b)
        cfg = np.zeros(V.C_COLS)
        cfg[V.MULT], cfg[V.LOT] = inst.multiplier, inst.lot_size
        cfg[V.VOL_FRAC] = self.max_volume_fraction
        cfg[V.PER_UNIT], cfg[V.BPS], cfg[V.MIN_FEE] = self.commission.as_tuple()
        cfg[V.SLIP_KIND], cfg[V.SLIP_P] = self.slippage.code, self.slippage.param
        cfg[V.SAME_CLOSE] = 1.0 if self.fill_timing == "same_close" else 0.0
        cfg[V.LATENCY] = self.latency_bars
        cfg[V.INTRABAR] = _INTRABAR[self.intrabar]
        cfg[V.LATENCY_NS] = self.latency_ns
        quotes = (self.data.quotes or {}).get(sym)
        none = np.empty(0)
        bid, ask = quotes if quotes is not None else (none, none)
        dend = (
            session_ends(b.ts_close, self.session_end)
            if self.session_end is not None
            else np.empty(0, dtype=np.int64)
        )
        cfg[V.QUOTES] = 1.0 if quotes is not None else 0.0
        acct = np.zeros(V.A_COLS)
        acct[V.CASH] = acct[V.EQUITY] = self.cash
        mo = self.max_orders
        out = np.zeros((mo, V.OUT_COLS))
        ords = np.zeros((4 * mo + 64, V.W_COLS))
        # every row the venue reads it wrote first: no zeroing pass; generous capacity is
        # only address space until touched, so tables rarely grow (then geometrically)
        cap = min(n * mo, n // 8) + 4096
        olog = np.empty((cap, V.O_COLS))
        fills = np.empty((cap, V.F_COLS))
        equity = np.empty(n)
        status: Literal["completed", "stopped", "cancelled"] = "completed"
        i = 0
        while i < n:
            if control.cancel_requested or control.stop_requested:
                status = "cancelled" if control.cancel_requested else "stopped"
                break
            room = np.array(
                [len(fills) - len(ords) - mo - 1, len(olog) - mo - 1, len(ords) - mo - 1],
                dtype=np.float64,
            )
            i1 = min(n, i + chunk_bars)
            i = run(i, i1, b.open, b.high, b.low, b.close, b.volume, b.ts_open, b.ts_close,
                    dend, bid, ask, acct, state, p, out, ords, olog, fills, cfg, equity,
                    room)  # fmt: skip
            if acct[V.NF] > room[0]:
                fills = _grow(fills, int(acct[V.NF]))
            if acct[V.NO] > room[1]:
                olog = _grow(olog, int(acct[V.NO]))
            if acct[V.NW] > room[2]:
                ords = _grow(ords, int(acct[V.NW]))
            for cb in (progress, on_chunk):
                if cb is not None:
                    cb(i, n)
        return self._kernel_result(status, b, i, equity, fills, olog, acct, p)

    def _kernel_result(
        self,
        status: Literal["completed", "stopped", "cancelled"],
        b: Any,
        n_done: int,
        equity: npt.NDArray[np.float64],
        fills: npt.NDArray[np.float64],
        olog: npt.NDArray[np.float64],
        acct: npt.NDArray[np.float64],
        params: npt.NDArray[np.float64],
    ) -> BacktestResult:
        tag = getattr(self.strategy, "__name__", "kernel")
        idx = _utc_index(b.ts_close[:n_done], "ts")
        eq = pd.Series(equity[:n_done], index=idx, name="equity", copy=False)
        f = fills[: int(acct[V.NF])]  # this run's own tables: no copy
        o = olog[: int(acct[V.NO])]
        meta = {"params": params.tolist()}
        return BacktestResult(
            status, eq, lambda: _fills_frame(b, f, tag), lambda: _orders_frame(b, o), self.data,
            meta, n_done,
        )  # fmt: skip


def _fills_frame(b: Any, f: npt.NDArray[np.float64], tag: str) -> pd.DataFrame:
    """The kernel venue's fill log as core ``FILLS_COLUMNS``."""
    bar = f[:, V.F_BAR].astype(np.int64)
    ts = np.where(f[:, V.F_AT_OPEN] > 0, b.ts_open[bar], b.ts_close[bar])
    return pd.DataFrame(
        {
            "ts": ts.astype(np.int64),
            "symbol": pd.Series([b.symbol] * len(f), dtype=object),
            "qty": f[:, V.F_QTY],
            "price": f[:, V.F_PRICE],
            "commission": f[:, V.F_FEE],
            "tag": pd.Series([tag] * len(f), dtype=object),
        },
        columns=list(FILLS_COLUMNS),
    )


def _orders_frame(b: Any, o: npt.NDArray[np.float64]) -> pd.DataFrame:
    """The kernel venue's order log as ``ORDERS_COLUMNS``."""
    filled = o[:, V.O_FILLED]
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(filled > 0, o[:, V.O_VALUE] / np.where(filled > 0, filled, 1), np.nan)
    return pd.DataFrame(
        {
            "id": [f"K-{k:06d}" for k in range(1, len(o) + 1)],
            "ts": b.ts_close[o[:, V.O_BAR].astype(np.int64)],
            "symbol": b.symbol,
            "side": o[:, V.O_SIDE].astype(np.int64),
            "type": _TYPE_NAMES[o[:, V.O_TYPE].astype(np.int64)],
            "qty": o[:, V.O_QTY],
            "limit": o[:, V.O_LIMIT],
            "stop": o[:, V.O_STOP],
            "filled_qty": filled,
            "avg_fill_price": avg,
            "status": np.where(
                (o[:, V.O_STATUS] == V.WORKING) & (filled > 0),
                "PARTIALLY_FILLED",
                _STATUS_NAMES[o[:, V.O_STATUS].astype(np.int64)],
            ),
        },
        columns=list(ORDERS_COLUMNS),
    )


def _grow(a: npt.NDArray[np.float64], used: int) -> npt.NDArray[np.float64]:
    """Twice the rows of ``a``, its first ``used`` rows copied (the rest is never read
    before the venue writes it)."""
    out = np.empty((2 * a.shape[0], a.shape[1]))
    out[:used] = a[:used]
    return out


def _utc_index(ts: npt.NDArray[np.int64], name: str) -> pd.DatetimeIndex:
    """UTC ``DatetimeIndex`` over int64 ns timestamps without copying them.

    pandas' public constructors localise naive values to UTC through a full copy (about
    30 ms per 10M bars); the values already are UTC, so wrap them as they are."""
    values = np.asarray(ts, dtype=np.int64).view("M8[ns]")
    try:
        arr = pd.arrays.DatetimeArray._simple_new(values, dtype=pd.DatetimeTZDtype("ns", "UTC"))
        return pd.DatetimeIndex(arr, name=name, copy=False)
    except (AttributeError, TypeError):  # pandas without the private constructor
        return pd.DatetimeIndex(values, name=name).tz_localize("UTC")


def session_ends(ts_close: npt.NDArray[np.int64], session_end: Callable[[int], int]) -> Any:
    """``session_end(ts_close[i])`` for every bar, calling it once per session: a session end
    holds for every later bar that closes before it."""
    n = ts_close.shape[0]
    out = np.empty(n, dtype=np.int64)
    i = 0
    while i < n:
        t = int(ts_close[i])
        end = int(session_end(t))
        if end <= t:
            raise ValueError(f"session_end({t}) = {end} is not after it")
        j = max(i + 1, int(np.searchsorted(ts_close, end, side="left")))
        out[i:j] = end
        i = j
    return out
