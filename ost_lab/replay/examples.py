"""The SMA crossover written both ways (kernel and ``Strategy``): docs, tests and benchmarks.

Signals follow backtesting.py's ``crossover``: fast crosses above slow when it was strictly
below on the previous bar and is strictly above now. Entries are fraction orders (sized at fill
from available funds, backtesting.py's default ``size=0.9999``), or, with ``units > 0``, fixed
quantities (a workload whose fill rate does not depend on the account's funds); exits close the
position. ``short=1`` also goes short on a downward cross (long/short variant).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ost_lab.core.events import Bar
from ost_lab.core.indicators import SMA
from ost_lab.core.strategy import Param, Strategy
from ost_lab.core.types import Side
from ost_lab.replay._numba import jit
from ost_lab.replay.broker import submit_fraction
from ost_lab.replay.kernel import order
from ost_lab.replay.venue import POS, QTY_FRACTION

__all__ = ["SmaCross", "sma_cross", "sma_cross_state"]

F64 = npt.NDArray[np.float64]
NAN = math.nan


def sma_cross_state(params: F64) -> F64:
    """Kernel state for ``params = [fast, slow, short, fraction(, units)]``: previous fast and slow
    SMA, and their running sums."""
    return np.array([NAN, NAN, 0.0, 0.0])


@jit
def sma_cross(
    i: int, o: F64, h: F64, lo: F64, c: F64, v: F64, acct: F64, state: F64, params: F64, out: F64
) -> int:
    """SMA(fast, slow) crossover kernel; ``params = [fast, slow, short, fraction(, units)]``:
    entries for ``fraction`` of available funds, or for ``units`` units when ``units > 0``.

    The SMAs are running sums with ``c`` itself as the ring buffer: the same float operations
    in the same order as ``core.indicators.SMA`` (so bit-identical to the ``Strategy``), written
    inline because a helper call per bar costs more than the arithmetic."""
    nf = int(params[0])
    ns = int(params[1])
    x = c[i]
    tf = state[2] + ((x - c[i - nf]) if i >= nf else x)
    ts = state[3] + ((x - c[i - ns]) if i >= ns else x)
    state[2] = tf
    state[3] = ts
    f = tf / nf if i >= nf - 1 else NAN
    s = ts / ns if i >= ns - 1 else NAN
    pf = state[0]
    ps = state[1]
    state[0] = f
    state[1] = s
    n = 0
    if pf < ps and f > s:
        pos = acct[POS]
        if pos < 0:
            n = order(out, n, 1.0, -pos)
        if params.size > 4 and params[4] > 0:
            n = order(out, n, 1.0, params[4])
        else:
            n = order(out, n, 1.0, params[3], 0.0, NAN, NAN, QTY_FRACTION)
    elif ps < pf and s > f:
        pos = acct[POS]
        if pos > 0:
            n = order(out, n, -1.0, pos)
        if params[2] > 0:
            if params.size > 4 and params[4] > 0:
                n = order(out, n, -1.0, params[4])
            else:
                n = order(out, n, -1.0, params[3], 0.0, NAN, NAN, QTY_FRACTION)
    return n


class SmaCross(Strategy):
    """The same crossover as a ``core.Strategy`` (event loop; identical fills to the kernel)."""

    fast = Param(10, min=1)
    slow = Param(20, min=1)
    short = Param(False)
    fraction = Param(1.0 - 2.0**-52, min=0.0, max=1.0, doc="of available funds (1 - eps: all)")
    units = Param(0.0, min=0.0, doc="fixed quantity per entry (0: size by fraction)")

    def on_start(self) -> None:
        """Fresh indicators for the run, fed each bar's close by the engine; the parameters
        read once (they hold for the run)."""
        self._f = self.indicator(SMA(self.fast))
        self._s = self.indicator(SMA(self.slow))
        self._pf = self._ps = NAN
        self._units, self._short, self._fraction = self.units, self.short, self.fraction

    def on_bar(self, bar: Bar) -> None:
        """Trade the crossovers."""
        f, s = self._f.value, self._s.value
        pf, ps = self._pf, self._ps
        self._pf, self._ps = f, s
        if pf < ps and f > s:
            pos = self.position
            if pos < 0:
                self.buy(-pos)
            self._entry(1)
        elif ps < pf and s > f:
            pos = self.position
            if pos > 0:
                self.sell(pos)
            if self._short:
                self._entry(-1)

    def _entry(self, side: int) -> None:
        if self._units > 0:
            self.order(Side.BUY if side > 0 else Side.SELL, self._units)
        else:
            submit_fraction(self, side, self._fraction)
