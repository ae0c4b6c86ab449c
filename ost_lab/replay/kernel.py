"""Kernel strategies: a numba ``@njit`` decision function run by a jitted replay loop.

A kernel has this signature (all arrays float64)::

    @njit(cache=True)
    def kernel(i, open, high, low, close, volume, acct, state, params, out) -> int:
        ...  # decide at bar i's close; look only at [:i + 1]
        return n_orders_written_to_out

``acct`` holds ``acct[CASH]``, ``acct[POS]`` (position), ``acct[EQUITY]`` and ``acct[PENDING]``
(signed quantity of working orders), read-only for the kernel; ``state`` is the kernel's own
scratch array (kept between calls, the only array it may write besides ``out``); ``params``
its parameters; each row of ``out`` is one order: ``SIDE`` (+1/-1), ``QTY``,
``TYPE`` (an ``OrderType`` value, or ``CANCEL_ALL``), ``LIMIT``, ``STOP``, ``MODE``
(``QTY_UNITS`` or ``QTY_FRACTION``: a fraction of available funds sized at fill), ``TRAIL``,
``TRAIL_PCT``, ``TIF`` (``GTC``/``IOC``/``FOK``/``DAY``/``GTD``), ``EXPIRE`` (a GTD order's
expiry, ns). :func:`order` writes a row.

The replay loop is generated per kernel into a small module in the cache folder, so numba
caches it on disk (a jitted function passed as an argument is not cacheable): a fresh process
replaying a known kernel loads it instead of compiling. The same kernel runs in the event loop
(sandbox, live) through :class:`KernelStrategy`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from numba.core.dispatcher import Dispatcher

from ost_lab.core.events import Bar, Tick
from ost_lab.core.strategy import Strategy
from ost_lab.paths import cache_dir
from ost_lab.replay import venue as V
from ost_lab.replay._numba import jit
from ost_lab.replay.broker import submit_fraction

__all__ = ["KernelStrategy", "order", "runner_for"]

F64 = npt.NDArray[np.float64]
_RUNNER_VERSION = "5"

# One replay loop, emitted twice: ``run_chunk`` without numba's reference-counting runtime
# (fast: no atomic increments per array hand-over) and ``run_chunk_nrt`` with it, used only
# for kernels that allocate arrays (they do not compile without the runtime).
_LOOP = """
@{deco}
def {fn}(i0, i1, o, h, lo, c, v, ts, tsc, dend, bid, ask, acct, state, params, out, ords,
         olog, fills, cfg, equity, room):
    mult = cfg[MULT]
    if i0 < 0:
        raise ValueError("replay chunk starts before bar 0")
    i = i0
    while i < i1:
        i = nonneg(i)  # from i0 >= 0 up: array reads at i need no negative-index wraparound
        if acct[NW] > 0:  # orders working: match them against this bar first
            match_orders(i, o, h, lo, c, v, bid, ask, ords, olog, fills, acct, cfg)
        # cash and position change only at fills: while no order works, the kernel runs bar
        # after bar in this inner loop (kept small: its state stays in registers); with
        # orders working it runs one bar and goes back to matching
        busy = acct[NW] > 0
        cash = acct[CASH]
        pos = acct[POS]
        while True:
            i = nonneg(i)
            eq = cash + pos * c[i] * mult
            acct[EQUITY] = eq
            n = kernel(i, o, h, lo, c, v, acct, state, params, out)
            if n > 0:
                break
            equity[i] = eq
            i += 1
            if busy or i >= i1:
                break
            if (i & 7) == 0:  # fills read the open of the bar after a signal
                prefetch(o, i + 64)
        if n > 0:
            submit(i, n, c[i], v, ts, tsc, dend, out, ords, olog, fills, acct, cfg)
            equity[i] = acct[EQUITY] = acct[CASH] + acct[POS] * c[i] * mult
            i += 1
        if acct[NF] > room[0] or acct[NO] > room[1] or acct[NW] > room[2]:
            return i
    return i1
"""

_TEMPLATE = (
    '"""Generated replay loop for kernel {name} (ost_lab.replay.kernel)."""\n'
    "from ost_lab.replay._numba import jit_noalias, nonneg, prefetch, vjit_noalias\n"
    "from ost_lab.replay.venue import EQUITY, CASH, POS, MULT, NW, NF, NO, match_orders, submit\n"
    "\n"
    "kernel = None  # bound by ost_lab.replay.kernel before the first call\n"
    + _LOOP.format(deco="vjit_noalias", fn="run_chunk")
    + _LOOP.format(deco="jit_noalias", fn="run_chunk_nrt")
)

_RUNNERS: dict[Any, Callable[..., int]] = {}


def _kernel_key(kernel: Any) -> str:
    """Hash of the kernel's code (bytecode, constants, names) and the runner version."""
    fn = getattr(kernel, "py_func", kernel)
    code = fn.__code__
    h = hashlib.sha1(_RUNNER_VERSION.encode())
    h.update(_venue_digest())
    for part in (code.co_code, repr(code.co_consts), repr(code.co_names), fn.__qualname__):
        h.update(part if isinstance(part, bytes) else part.encode())
    return h.hexdigest()[:16]


@functools.cache
def _venue_digest() -> bytes:
    """Digest of the venue's sources: a runner embeds their compiled code, so any change to
    them must give a new runner module (numba only checks the runner's own file)."""
    from ost_lab.core import matching
    from ost_lab.replay import _numba, commission, sizing, slippage

    h = hashlib.sha1()
    for mod in (matching, _numba, commission, sizing, slippage, V):
        h.update(Path(str(mod.__file__)).read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.digest()


def _calls_other_jitted(kernel: Any) -> bool:
    """True if ``kernel`` refers to jitted functions other than :func:`order`. Those are
    compiled for the loop too; compiled without numba's runtime they would be shared with
    other callers (and a failed compile is remembered by numba), so such kernels get the loop
    with the runtime."""
    fn = getattr(kernel, "py_func", kernel)
    names = fn.__code__.co_names
    seen = [fn.__globals__.get(n) for n in names]
    seen += [c.cell_contents for c in fn.__closure__ or ()]
    for mod in [x for x in seen if isinstance(x, ModuleType)]:
        seen += [getattr(mod, n, None) for n in names]
    return any(isinstance(x, Dispatcher) and x is not order for x in seen)


class _Runner:
    """Calls the runtime-free loop; if the kernel needs numba's runtime (it allocates, so the
    first call fails to compile, or it calls other jitted functions), uses the loop compiled
    with it, for good."""

    def __init__(self, mod: ModuleType, kernel: Any) -> None:
        self.mod = mod
        self.fn: Any = mod.run_chunk_nrt if _calls_other_jitted(kernel) else mod.run_chunk

    def __call__(self, *args: Any) -> int:
        try:
            return int(self.fn(*args))
        except numba.core.errors.NumbaError:
            if self.fn is self.mod.run_chunk_nrt or self.fn.signatures:
                raise
            self.fn = self.mod.run_chunk_nrt
            return int(self.fn(*args))


def runner_for(kernel: Any) -> Callable[..., int]:
    """The jitted replay loop specialised to ``kernel`` (generated once, cached on disk)."""
    run = _RUNNERS.get(kernel)
    if run is None:
        name = getattr(kernel, "__name__", "kernel")
        modname = f"ost_lab_replay_run_{_kernel_key(kernel)}"
        folder = cache_dir() / "replay_runners"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{modname}.py"
        src = _TEMPLATE.format(name=name)
        if not path.exists() or path.read_text() != src:
            tmp = path.with_suffix(f".{id(kernel)}.tmp")
            tmp.write_text(src)
            tmp.replace(path)
        spec = importlib.util.spec_from_file_location(modname, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        spec.loader.exec_module(mod)
        # inlined into the loop at numba-IR level: a call with ten array arguments per bar
        # costs more than a small kernel's body
        inline = numba.njit(inline="always")(getattr(kernel, "py_func", kernel))
        setattr(mod, "kernel", inline)  # noqa: B010  (bound before the first compile)
        run = _RUNNERS[kernel] = _Runner(mod, kernel)
    return run


@jit
def order(
    out: F64, r: int, side: float, qty: float, typ: float = 0.0, limit: float = math.nan,
    stop: float = math.nan, mode: float = 0.0, trail: float = math.nan, trail_pct: float = 0.0,
    tif: float = 0.0, expire_ts: float = math.nan,
) -> int:  # fmt: skip
    """Write order row ``r`` of ``out``; returns ``r + 1`` (the count so far)."""
    out[r, V.SIDE] = side
    out[r, V.QTY] = qty
    out[r, V.TYPE] = typ
    out[r, V.LIMIT] = limit
    out[r, V.STOP] = stop
    out[r, V.MODE] = mode
    out[r, V.TRAIL] = trail
    out[r, V.TRAIL_PCT] = trail_pct
    out[r, V.TIF] = tif
    out[r, V.EXPIRE] = expire_ts
    return r + 1


_TIF = {0.0: "GTC", 1.0: "IOC", 2.0: "FOK", 3.0: "DAY", 4.0: "GTD"}
_TYPES = {
    0: "market",
    1: "limit",
    2: "stop",
    3: "stop_limit",
    4: "market_if_touched",
    5: "limit_if_touched",
    6: "trailing_stop",
}


class KernelStrategy(Strategy):
    """Runs a kernel strategy inside core's event loop (replay, sandbox or live): at each bar
    it calls the kernel with the bar history and turns the rows it writes into orders."""

    def __init__(
        self,
        kernel: Any,
        params: npt.ArrayLike = (),
        state: npt.ArrayLike | Callable[[F64], F64] = (),
        *,
        max_orders: int = 16,
        name: str | None = None,
        symbols: tuple[str, ...] = (),
    ) -> None:
        super().__init__(name or getattr(kernel, "__name__", "kernel"), symbols=symbols)
        self.kernel = kernel
        self.kparams = np.asarray(params, dtype=np.float64)
        self.kstate = make_state(state, self.kparams)
        self.kout = np.zeros((max_orders, V.OUT_COLS), dtype=np.float64)
        self.kacct = np.zeros(V.A_COLS, dtype=np.float64)
        self._ticks: dict[str, tuple[F64, F64, int]] = {}  # symbol -> (prices, sizes, count)

    def on_bar(self, bar: Bar) -> None:
        """Call the kernel at this bar's close and submit what it decided."""
        h = self.data[bar.symbol]
        self._call(bar.symbol, len(h) - 1, h.open, h.high, h.low, h.close, h.volume)

    def on_tick(self, tick: Tick) -> None:
        """Call the kernel at this tick, seen as a one-price bar (price = open = high = low =
        close, volume = size), as the kernel venue replays ticks."""
        px, sz, k = self._ticks.get(tick.symbol) or (np.empty(1024), np.empty(1024), 0)
        if k == px.shape[0]:
            px, sz = np.resize(px, 2 * k), np.resize(sz, 2 * k)
        px[k], sz[k] = tick.price, tick.size
        self._ticks[tick.symbol] = (px, sz, k + 1)
        p, s = px[: k + 1], sz[: k + 1]
        self._call(tick.symbol, k, p, p, p, p, s)

    def _call(self, symbol: str, i: int, o: F64, h: F64, lo: F64, c: F64, v: F64) -> None:
        a = self.kacct
        pf = self.portfolio
        a[V.CASH] = pf.cash
        a[V.POS] = self.position_of(symbol)
        a[V.EQUITY] = pf.equity()
        a[V.PENDING] = sum(
            od.leaves_qty * float(od.side) for od in self.open_orders(symbol) if od.qty > 0
        )
        n = self.kernel(i, o, h, lo, c, v, a, self.kstate, self.kparams, self.kout)
        for r in range(n):
            row = self.kout[r]
            if row[V.TYPE] == V.CANCEL_ALL:
                for od in self.open_orders(symbol):
                    self.cancel(od)
                continue
            self._send(symbol, row)

    def _send(self, symbol: str, row: F64) -> None:
        side = 1 if row[V.SIDE] > 0 else -1
        trail = row[V.TRAIL]
        kw: dict[str, Any] = {
            "type": _TYPES[int(row[V.TYPE])],
            "limit": None if math.isnan(row[V.LIMIT]) else float(row[V.LIMIT]),
            "stop": None if math.isnan(row[V.STOP]) else float(row[V.STOP]),
            "trail": None if math.isnan(trail) else float(trail),
            "trail_percent": bool(row[V.TRAIL_PCT] > 0),
            "tif": _TIF[float(row[V.TIF])],
        }
        if row[V.TIF] == V.GTD:
            kw["expire_ts"] = int(row[V.EXPIRE])
        if row[V.MODE] == V.QTY_FRACTION:
            submit_fraction(self, side, float(row[V.QTY]), symbol, **kw)
        elif side > 0:
            self.buy(float(row[V.QTY]), symbol, **kw)
        else:
            self.sell(float(row[V.QTY]), symbol, **kw)


def make_state(state: npt.ArrayLike | Callable[[F64], F64], params: F64) -> F64:
    """A fresh kernel state array: a copy of ``state(params)`` if callable, else of ``state``.
    Always a copy: the replay loop is compiled on the promise that the state it writes shares
    no memory with any other array (see ``_numba.NOALIAS``)."""
    return np.array(state(params) if callable(state) else state, dtype=np.float64)
