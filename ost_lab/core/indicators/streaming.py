"""Pure-Python incremental indicators for event-loop strategies.

Each class mirrors the numba kernel of the same name in
:mod:`ost_lab.core.indicators.kernels` operation for operation, so results are
bit-identical. Updates use plain Python floats and lists (no numpy scalars) so one
``update`` costs about a microsecond. ``update`` returns the new value (NaN during
warm-up); ``value`` holds the last one and ``ready`` tells whether warm-up is over.

``inputs`` names the bar fields ``update`` takes, in order: what the engine feeds an indicator a
strategy registers (``Strategy.indicator``). Indicators with a ``replay`` method (one column in,
the outputs of ``update`` for each value at numba speed, the state advanced as ``update`` would)
are computed for a whole array replay at once; the others are updated bar by bar.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import numpy.typing as npt

from ost_lab.core.indicators.kernels import ema_run, rsi_run, sma_run, wma_run

NAN = math.nan
F64 = npt.NDArray[np.float64]


def _check(n: int) -> int:
    if n < 1:
        raise ValueError("n must be >= 1")
    return int(n)


class SMA:
    """Simple moving average of the last ``n`` values (running sum over a ring buffer)."""

    __slots__ = ("_buf", "_count", "_pos", "_sum", "n", "value")
    inputs = ("close",)

    def __init__(self, n: int) -> None:
        self.n = _check(n)
        self._buf = [0.0] * self.n
        self._count = 0
        self._pos = 0
        self._sum = 0.0
        self.value = NAN

    @property
    def ready(self) -> bool:
        """``n`` values seen: the value is defined (read from it, so a value the engine sets
        during an array replay answers too)."""
        return self.value == self.value

    def replay(self, values: F64) -> F64:
        """``update`` for each value in turn, at numba speed (see the module docstring)."""
        st = np.array([self.n, self._count, self._pos, self._sum, *self._buf], dtype=np.float64)
        out = sma_run(st, np.ascontiguousarray(values, dtype=np.float64))
        self._count, self._pos, self._sum = int(st[1]), int(st[2]), float(st[3])
        self._buf = st[4:].tolist()
        if out.shape[0]:
            self.value = float(out[-1])
        return out

    def update(self, x: float) -> float:
        n = self.n
        pos = self._pos
        buf = self._buf
        if self._count >= n:  # warm: the hot path, fewest attribute touches
            total = self._sum = self._sum + (x - buf[pos])
            buf[pos] = x
            pos += 1
            self._pos = 0 if pos == n else pos
            v = self.value = total / n
            return v
        self._sum += x
        self._count += 1
        buf[pos] = x
        pos += 1
        self._pos = 0 if pos == n else pos
        v = NAN if self._count < n else self._sum / n
        self.value = v
        return v


class EMA:
    """EMA with ``alpha = 2/(n+1)`` seeded with the first value; NaN for the first n-1."""

    __slots__ = ("_a", "_count", "_y", "n", "value")
    inputs = ("close",)

    def __init__(self, n: int) -> None:
        self.n = _check(n)
        self._a = 2.0 / (self.n + 1.0)
        self._count = 0
        self._y = 0.0
        self.value = NAN

    @property
    def ready(self) -> bool:
        """``n`` values seen: the value is defined (as :attr:`SMA.ready`)."""
        return self.value == self.value

    def replay(self, values: F64) -> F64:
        """``update`` for each value in turn, at numba speed (see the module docstring)."""
        st = np.array([self.n, self._a, self._count, self._y], dtype=np.float64)
        out = ema_run(st, np.ascontiguousarray(values, dtype=np.float64))
        self._count, self._y = int(st[2]), float(st[3])
        if out.shape[0]:
            self.value = float(out[-1])
        return out

    def update(self, x: float) -> float:
        a = self._a
        y = x if self._count == 0 else (1.0 - a) * self._y + a * x
        self._y = y
        if self._count < self.n:
            self._count += 1
            if self._count < self.n:
                self.value = NAN
                return NAN
        self.value = y
        return y


class WMA:
    """Linearly weighted moving average, weights 1..n with the newest weighted n."""

    __slots__ = ("_buf", "_count", "_den", "_pos", "_sum", "_wsum", "n", "value")

    def __init__(self, n: int) -> None:
        self.n = _check(n)
        self._buf = [0.0] * self.n
        self._count = 0
        self._pos = 0
        self._sum = 0.0
        self._wsum = 0.0
        self._den = self.n * (self.n + 1) / 2.0
        self.value = NAN

    @property
    def ready(self) -> bool:
        """``n`` values seen: the value is defined (as :attr:`SMA.ready`)."""
        return self.value == self.value

    def replay(self, values: F64) -> F64:
        """``update`` for each value in turn, at numba speed (see the module docstring)."""
        head = [self.n, self._count, self._pos, self._sum, self._wsum]
        st = np.array([*head, *self._buf], dtype=np.float64)
        out = wma_run(st, np.ascontiguousarray(values, dtype=np.float64))
        self._count, self._pos = int(st[1]), int(st[2])
        self._sum, self._wsum = float(st[3]), float(st[4])
        self._buf = st[5:].tolist()
        if out.shape[0]:
            self.value = float(out[-1])
        return out

    def update(self, x: float) -> float:
        n = self.n
        pos = self._pos
        if self._count >= n:
            self._wsum = self._wsum + n * x - self._sum
            self._sum += x - self._buf[pos]
        else:
            self._count += 1
            self._wsum = self._wsum + self._count * x
            self._sum += x
        self._buf[pos] = x
        pos += 1
        self._pos = 0 if pos == n else pos
        v = NAN if self._count < n else self._wsum / self._den
        self.value = v
        return v


class ATR:
    """Wilder ATR: TR (first bar high-low), seeded by the mean of the first n TRs."""

    __slots__ = ("_atr", "_count", "_pc", "_trsum", "n", "value")
    inputs = ("high", "low", "close")

    def __init__(self, n: int) -> None:
        self.n = _check(n)
        self._count = 0
        self._pc = 0.0
        self._atr = 0.0
        self._trsum = 0.0
        self.value = NAN

    @property
    def ready(self) -> bool:
        return self._count >= self.n

    def update(self, high: float, low: float, close: float) -> float:
        n = self.n
        if self._count == 0:
            tr = high - low
        else:
            pc = self._pc
            tr = max(high - low, abs(high - pc), abs(low - pc))
        self._pc = close
        if self._count < n:
            self._count += 1
            self._trsum += tr
            if self._count < n:
                self.value = NAN
                return NAN
            self._atr = self._trsum / n
        else:
            self._atr = (self._atr * (n - 1.0) + tr) / n
        self.value = self._atr
        return self._atr


class RSI:
    """Wilder RSI: mean of the first n gains/losses, then ``(avg*(n-1)+x)/n``.

    100 if the average loss is 0 (50 if both averages are 0). First value after n+1 inputs.
    """

    __slots__ = ("_ag", "_al", "_count", "_prev", "n", "value")

    def __init__(self, n: int) -> None:
        self.n = _check(n)
        self._count = 0
        self._prev = 0.0
        self._ag = 0.0
        self._al = 0.0
        self.value = NAN

    @property
    def ready(self) -> bool:
        """``n + 1`` values seen: the value is defined (as :attr:`SMA.ready`)."""
        return self.value == self.value

    def replay(self, values: F64) -> F64:
        """``update`` for each value in turn, at numba speed (see the module docstring)."""
        st = np.array([self.n, self._count, self._prev, self._ag, self._al], dtype=np.float64)
        out = rsi_run(st, np.ascontiguousarray(values, dtype=np.float64))
        self._count = int(st[1])
        self._prev, self._ag, self._al = float(st[2]), float(st[3]), float(st[4])
        if out.shape[0]:
            self.value = float(out[-1])
        return out

    def update(self, x: float) -> float:
        n = self.n
        count = self._count
        if count == 0:
            self._prev = x
            self._count = 1
            self.value = NAN
            return NAN
        d = x - self._prev
        self._prev = x
        g = d if d > 0.0 else 0.0
        lo = -d if d < 0.0 else 0.0
        if count < n:
            self._ag += g
            self._al += lo
            self._count = count + 1
            self.value = NAN
            return NAN
        if count == n:
            ag = (self._ag + g) / n
            al = (self._al + lo) / n
            self._count = count + 1
        else:
            ag = (self._ag * (n - 1.0) + g) / n
            al = (self._al * (n - 1.0) + lo) / n
        self._ag = ag
        self._al = al
        v = (50.0 if ag == 0.0 else 100.0) if al == 0.0 else 100.0 - 100.0 / (1.0 + ag / al)
        self.value = v
        return v


class _MeanVar:
    """Rolling mean and population variance: sliding Welford, exact refresh every n values,
    exactly (x, 0) over a window of n identical values (as ``kernels.meanvar_update``)."""

    __slots__ = ("_buf", "_count", "_last", "_m2", "_mean", "_pos", "_same", "n")

    def __init__(self, n: int) -> None:
        self.n = _check(n)
        self._buf = [0.0] * self.n
        self._count = 0
        self._pos = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._last = NAN
        self._same = 0.0

    def push(self, x: float) -> tuple[float, float]:
        n = self.n
        pos = self._pos
        mean = self._mean
        m2 = self._m2
        if self._count >= n:
            old = self._buf[pos]
            delta = x - old
            new_mean = mean + delta / n
            m2 += delta * (x - new_mean + old - mean)
            mean = new_mean
        else:
            self._count += 1
            delta = x - mean
            mean += delta / self._count
            m2 += delta * (x - mean)
        buf = self._buf
        buf[pos] = x
        pos += 1
        if pos == n:
            pos = 0
            if self._count >= n:
                total = 0.0
                for b in buf:
                    total += b
                mean = total / n
                m2 = 0.0
                for b in buf:
                    d = b - mean
                    m2 += d * d
        same = self._same + 1.0 if x == self._last else 1.0
        self._last = x
        self._same = same
        if same >= n:
            mean = x
            m2 = 0.0
        if m2 < 0.0:
            m2 = 0.0
        self._pos = pos
        self._mean = mean
        self._m2 = m2
        if self._count < n:
            return NAN, NAN
        return mean, m2 / n


class RollingStd:
    """Rolling population standard deviation (ddof=0)."""

    __slots__ = ("_mv", "n", "value")

    def __init__(self, n: int) -> None:
        self._mv = _MeanVar(n)
        self.n = self._mv.n
        self.value = NAN

    @property
    def ready(self) -> bool:
        return self._mv._count >= self.n

    def update(self, x: float) -> float:
        v = math.sqrt(self._mv.push(x)[1])
        self.value = v
        return v


class ZScore:
    """``(x - mean) / std`` over the last n values including x; NaN when std is 0."""

    __slots__ = ("_mv", "n", "value")

    def __init__(self, n: int) -> None:
        self._mv = _MeanVar(n)
        self.n = self._mv.n
        self.value = NAN

    @property
    def ready(self) -> bool:
        return self._mv._count >= self.n

    def update(self, x: float) -> float:
        mean, var = self._mv.push(x)
        sd = math.sqrt(var)
        v = (x - mean) / sd if sd > 0.0 else NAN
        self.value = v
        return v


class Bollinger:
    """Bollinger bands: mid = rolling mean, bands = mid +/- k * population std."""

    __slots__ = ("_mv", "k", "lower", "n", "upper", "value")

    def __init__(self, n: int, k: float = 2.0) -> None:
        self._mv = _MeanVar(n)
        self.n = self._mv.n
        self.k = float(k)
        self.value = NAN
        self.upper = NAN
        self.lower = NAN

    @property
    def ready(self) -> bool:
        return self._mv._count >= self.n

    def update(self, x: float) -> tuple[float, float, float]:
        """Return (mid, upper, lower); ``value`` is the mid."""
        mean, var = self._mv.push(x)
        w = self.k * math.sqrt(var)
        self.value = mean
        self.upper = mean + w
        self.lower = mean - w
        return mean, self.upper, self.lower


class MACD:
    """MACD = EMA_fast - EMA_slow (both seeded with the first value), signal = EMA of MACD."""

    __slots__ = (
        "_af",
        "_as",
        "_asig",
        "_count",
        "_ef",
        "_es",
        "_sc",
        "_sg",
        "_warm",
        "fast",
        "hist",
        "signal",
        "signal_n",
        "slow",
        "value",
    )

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self.fast = _check(fast)
        self.slow = _check(slow)
        self.signal_n = _check(signal)
        self._af = 2.0 / (self.fast + 1.0)
        self._as = 2.0 / (self.slow + 1.0)
        self._asig = 2.0 / (self.signal_n + 1.0)
        self._warm = max(self.fast, self.slow)
        self._count = 0
        self._ef = 0.0
        self._es = 0.0
        self._sc = 0
        self._sg = 0.0
        self.value = NAN
        self.signal = NAN
        self.hist = NAN

    @property
    def ready(self) -> bool:
        return self._sc >= self.signal_n

    def update(self, x: float) -> tuple[float, float, float]:
        """Return (macd, signal, hist); ``value`` is the macd line."""
        if self._count == 0:
            ef = x
            es = x
        else:
            af = self._af
            a_s = self._as
            ef = (1.0 - af) * self._ef + af * x
            es = (1.0 - a_s) * self._es + a_s * x
        self._ef = ef
        self._es = es
        if self._count < self._warm:
            self._count += 1
            if self._count < self._warm:
                return NAN, NAN, NAN
        m = ef - es
        a = self._asig
        sg = m if self._sc == 0 else (1.0 - a) * self._sg + a * m
        self._sg = sg
        self.value = m
        if self._sc < self.signal_n:
            self._sc += 1
            if self._sc < self.signal_n:
                return m, NAN, NAN
        self.signal = sg
        self.hist = m - sg
        return m, sg, self.hist


class VWAP:
    """Cumulative VWAP ``sum(p*v)/sum(v)`` since the last :meth:`reset`; NaN while no volume."""

    __slots__ = ("_pv", "_v", "value")
    inputs = ("close", "volume")

    def __init__(self) -> None:
        self._pv = 0.0
        self._v = 0.0
        self.value = NAN

    @property
    def ready(self) -> bool:
        return self._v != 0.0

    def reset(self) -> None:
        """Start a new session."""
        self._pv = 0.0
        self._v = 0.0
        self.value = NAN

    def update(self, price: float, volume: float) -> float:
        self._pv += price * volume
        self._v += volume
        v = NAN if self._v == 0.0 else self._pv / self._v
        self.value = v
        return v


class _Extreme:
    """Rolling max of ``sign * x`` via a monotonic deque (amortised O(1))."""

    __slots__ = ("_dq", "_sign", "_t", "n", "value")

    def __init__(self, n: int, sign: float) -> None:
        self.n = _check(n)
        self._sign = sign
        self._t = 0
        self._dq: deque[tuple[int, float]] = deque()
        self.value = NAN

    @property
    def ready(self) -> bool:
        return self._t >= self.n

    def update(self, x: float) -> float:
        dq = self._dq
        t = self._t
        v = self._sign * x
        limit = t - self.n
        while dq and dq[0][0] <= limit:
            dq.popleft()
        while dq and dq[-1][1] <= v:
            dq.pop()
        dq.append((t, v))
        self._t = t + 1
        r = NAN if t < self.n - 1 else self._sign * dq[0][1]
        self.value = r
        return r


class Highest(_Extreme):
    """Highest of the last n values."""

    __slots__ = ()

    def __init__(self, n: int) -> None:
        super().__init__(n, 1.0)


class Lowest(_Extreme):
    """Lowest of the last n values."""

    __slots__ = ()

    def __init__(self, n: int) -> None:
        super().__init__(n, -1.0)
