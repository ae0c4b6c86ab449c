"""Bar building from ticks: time, tick, volume and value (dollar) bars.

One :class:`BarBuilder` serves live feeds (``update`` per tick) and replays
(``update_many`` on arrays, a numba kernel); both run the same rules on the same state
and give bit-identical bars, however the stream is split between the two.

Rules (see docs/analytics.md):

* time bars are aligned to UTC epoch multiples of the interval; ``ts`` is the bar start
  (Databento convention). A bar closes on the first tick at/after its end, or on
  ``flush(now_ns)`` once ``now_ns >= end``. Empty intervals emit nothing. Time-bar ticks
  older than the open bar (or than the end of the last closed bar) are dropped and
  counted in ``late_ticks``.
* tick / volume / value bars close on the tick that reaches the threshold; that tick is
  kept whole in the closing bar (no splitting), so volume/value bars can overshoot.
  ``ts`` is the first tick's time.
* ``flush()`` with no argument closes any partial bar (end of a replay).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
from numba import njit

TIME, TICK, VOLUME, VALUE = 0, 1, 2, 3
_KINDS = {"time": TIME, "tick": TICK, "volume": VOLUME, "value": VALUE}
PRICE_SCALE = 1e9
BAR_COLUMNS = [
    "ts",
    "ts_last",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "value",
    "vwap",
    "n_ticks",
]

# integer state: open, start, last, n, watermark, late
_IOPEN, _ISTART, _ILAST, _IN, _IWM, _ILATE = range(6)
# float state: open, high, low, close, volume, value
_FO, _FH, _FL, _FC, _FV, _FVAL = range(6)


class Bar(NamedTuple):
    """A finished bar. ``value`` is sum(price * size); ``vwap`` = value / volume."""

    ts: int
    ts_last: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    value: float
    vwap: float
    n_ticks: int


def bars_frame(bars: list[Bar]) -> pd.DataFrame:
    """Bars as a DataFrame with stable dtypes (int64 ts/ts_last/n_ticks, float64 rest)."""
    df = pd.DataFrame(bars, columns=BAR_COLUMNS)
    for c in BAR_COLUMNS:
        df[c] = df[c].astype(np.int64 if c in ("ts", "ts_last", "n_ticks") else np.float64)
    return df


@njit(cache=True)
def _build(
    ts: np.ndarray,
    px: np.ndarray,
    sz: np.ndarray,
    kind: int,
    interval: int,
    threshold: float,
    ist: np.ndarray,
    fst: np.ndarray,
    out_i: np.ndarray,
    out_f: np.ndarray,
) -> int:
    """Kernel mirroring :meth:`BarBuilder.update` over arrays; returns bars written."""
    k = 0
    for j in range(ts.shape[0]):
        t = ts[j]
        p = px[j]
        s = sz[j]
        if kind == TIME:
            floor = ist[_ISTART] if ist[_IOPEN] == 1 else ist[_IWM]
            if t < floor:
                ist[_ILATE] += 1
                continue
            start = t - t % interval
            if ist[_IOPEN] == 1 and start != ist[_ISTART]:
                k = _emit(ist, fst, out_i, out_f, k)
                ist[_IWM] = ist[_ISTART] + interval
            if ist[_IOPEN] == 0:
                ist[_IOPEN] = 1
                ist[_ISTART] = start
                ist[_IN] = 0
                fst[_FO] = p
                fst[_FH] = p
                fst[_FL] = p
                fst[_FV] = 0.0
                fst[_FVAL] = 0.0
        elif ist[_IOPEN] == 0:
            ist[_IOPEN] = 1
            ist[_ISTART] = t
            ist[_IN] = 0
            fst[_FO] = p
            fst[_FH] = p
            fst[_FL] = p
            fst[_FV] = 0.0
            fst[_FVAL] = 0.0
        if p > fst[_FH]:
            fst[_FH] = p
        if p < fst[_FL]:
            fst[_FL] = p
        fst[_FC] = p
        fst[_FV] += s
        fst[_FVAL] += p * s
        ist[_IN] += 1
        ist[_ILAST] = t
        if kind == TICK:
            done = ist[_IN] >= threshold
        elif kind == VOLUME:
            done = fst[_FV] >= threshold
        elif kind == VALUE:
            done = fst[_FVAL] >= threshold
        else:
            done = False
        if done:
            k = _emit(ist, fst, out_i, out_f, k)
    return k


@njit(cache=True)
def _emit(ist: np.ndarray, fst: np.ndarray, out_i: np.ndarray, out_f: np.ndarray, k: int) -> int:
    out_i[k, 0] = ist[_ISTART]
    out_i[k, 1] = ist[_ILAST]
    out_i[k, 2] = ist[_IN]
    for c in range(6):
        out_f[k, c] = fst[c]
    v = fst[_FV]
    out_f[k, 6] = fst[_FVAL] / v if v > 0.0 else math.nan
    ist[_IOPEN] = 0
    return k + 1


class BarBuilder:
    """Turns a tick stream into bars; construct with :meth:`time`, :meth:`ticks`,
    :meth:`volume` or :meth:`value`.

    ``fixed_price=True`` means prices arrive as integers x 1e9 (Databento/storage format);
    they are converted with ``price / 1e9`` to float64 before anything else.
    """

    def __init__(self, kind: str, size: float, *, fixed_price: bool = False) -> None:
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {sorted(_KINDS)}")
        self.kind = kind
        self._kind = _KINDS[kind]
        if self._kind == TIME:
            self.interval = int(size)
            if self.interval <= 0:
                raise ValueError("interval must be > 0 ns")
            self.threshold = 0.0
        else:
            self.interval = 0
            self.threshold = float(size)
            if not self.threshold > 0:
                raise ValueError("threshold must be > 0")
        self.fixed_price = fixed_price
        # plain Python state (cheap per tick); packed into arrays for the batch kernel
        self._is_open = False
        self._start = 0
        self._last = 0
        self._n = 0
        self._wm = -(2**63)
        self._late = 0
        self._o = self._h = self._l = self._c = 0.0
        self._v = 0.0
        self._val = 0.0

    # ------------------------------------------------------------ constructors

    @classmethod
    def time(cls, interval: int | str | pd.Timedelta, *, fixed_price: bool = False) -> BarBuilder:
        """Time bars; ``interval`` in ns or any pandas timedelta ("1s", "5min", "1h")."""
        ns = interval if isinstance(interval, int) else pd.Timedelta(interval).value
        return cls("time", ns, fixed_price=fixed_price)

    @classmethod
    def ticks(cls, n: int, *, fixed_price: bool = False) -> BarBuilder:
        """A bar every ``n`` ticks."""
        return cls("tick", n, fixed_price=fixed_price)

    @classmethod
    def volume(cls, threshold: float, *, fixed_price: bool = False) -> BarBuilder:
        """A bar once cumulative size reaches ``threshold``."""
        return cls("volume", threshold, fixed_price=fixed_price)

    @classmethod
    def value(cls, threshold: float, *, fixed_price: bool = False) -> BarBuilder:
        """A bar once cumulative price * size reaches ``threshold`` (dollar bars)."""
        return cls("value", threshold, fixed_price=fixed_price)

    # ------------------------------------------------------------------ state

    @property
    def late_ticks(self) -> int:
        """Time-bar ticks dropped for arriving after their interval was closed/passed."""
        return self._late

    @property
    def current(self) -> Bar | None:
        """The partial bar being built, if any (not emitted)."""
        return self._bar() if self._is_open else None

    def _bar(self) -> Bar:
        v = self._v
        return Bar(
            self._start,
            self._last,
            self._o,
            self._h,
            self._l,
            self._c,
            v,
            self._val,
            self._val / v if v > 0.0 else math.nan,
            self._n,
        )

    def _emit(self) -> Bar:
        self._is_open = False
        return self._bar()

    def _open(self, start: int, p: float) -> None:
        self._is_open = True
        self._start = start
        self._n = 0
        self._o = self._h = self._l = self._c = p
        self._v = 0.0
        self._val = 0.0

    # ------------------------------------------------------------------ feeding

    def update(self, ts: int, price: float, size: float) -> Bar | None:
        """Feed one tick; return the bar it closed, if any."""
        ts = int(ts)
        p = price / PRICE_SCALE if self.fixed_price else float(price)
        s = float(size)
        out = None
        k = self._kind
        if k == TIME:
            if ts < (self._start if self._is_open else self._wm):
                self._late += 1
                return None
            start = ts - ts % self.interval
            if self._is_open and start != self._start:
                out = self._emit()
                self._wm = self._start + self.interval
            if not self._is_open:
                self._open(start, p)
        elif not self._is_open:
            self._open(ts, p)
        if p > self._h:
            self._h = p
        if p < self._l:
            self._l = p
        self._c = p
        self._v += s
        self._val += p * s
        self._n += 1
        self._last = ts
        if (
            (k == TICK and self._n >= self.threshold)
            or (k == VOLUME and self._v >= self.threshold)
            or (k == VALUE and self._val >= self.threshold)
        ):
            out = self._emit()
        return out

    def _pack(self) -> tuple[np.ndarray, np.ndarray]:
        ist = np.array(
            [int(self._is_open), self._start, self._last, self._n, self._wm, self._late],
            dtype=np.int64,
        )
        fst = np.array([self._o, self._h, self._l, self._c, self._v, self._val])
        return ist, fst

    def _unpack(self, ist: np.ndarray, fst: np.ndarray) -> None:
        i = ist.tolist()
        self._is_open = i[_IOPEN] == 1
        self._start, self._last, self._n, self._wm, self._late = i[1:]
        self._o, self._h, self._l, self._c, self._v, self._val = fst.tolist()

    def update_many(self, ts: np.ndarray, price: np.ndarray, size: np.ndarray) -> pd.DataFrame:
        """Feed arrays of ticks (replay); return the bars they closed as a DataFrame."""
        t = np.ascontiguousarray(ts, dtype=np.int64)
        if self.fixed_price:
            p = np.asarray(price, dtype=np.int64) / PRICE_SCALE
        else:
            p = np.ascontiguousarray(price, dtype=np.float64)
        s = np.ascontiguousarray(size, dtype=np.float64)
        if not (t.shape == p.shape == s.shape) or t.ndim != 1:
            raise ValueError("ts, price and size must be 1-d arrays of equal length")
        out_i = np.empty((t.size, 3), dtype=np.int64)
        out_f = np.empty((t.size, 7), dtype=np.float64)
        ist, fst = self._pack()
        k = _build(t, p, s, self._kind, self.interval, self.threshold, ist, fst, out_i, out_f)
        self._unpack(ist, fst)
        df = pd.DataFrame(
            {
                "ts": out_i[:k, 0],
                "ts_last": out_i[:k, 1],
                "open": out_f[:k, 0],
                "high": out_f[:k, 1],
                "low": out_f[:k, 2],
                "close": out_f[:k, 3],
                "volume": out_f[:k, 4],
                "value": out_f[:k, 5],
                "vwap": out_f[:k, 6],
                "n_ticks": out_i[:k, 2],
            }
        )
        return df

    def flush(self, now_ns: int | None = None) -> Bar | None:
        """Close the open bar early.

        With ``now_ns`` (live timer): close a time bar whose interval has ended
        (``now_ns >= start + interval``); no effect on other kinds. Without it: close any
        partial bar (end of data).
        """
        if not self._is_open:
            return None
        end = self._start + self.interval
        if now_ns is None:
            if self._kind == TIME:
                self._wm = end
            return self._emit()
        if self._kind != TIME or int(now_ns) < end:
            return None
        self._wm = end
        return self._emit()
