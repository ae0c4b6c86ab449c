"""Min/max-preserving decimation of OHLCV bars and lines for a visible time range.

Pure numpy, no Bokeh: the chart calls these on every range change so a browser never
receives more than a few thousand points, yet each bucket keeps the true high and low (a spike
never disappears when zoomed out) and a narrow view returns the raw bars unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["OHLCV", "decimate_line", "decimate_ohlcv", "visible_slice"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class OHLCV:
    """Columns of bars (or buckets of bars): ``x`` is each bar's (bucket's first) time."""

    x: F64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    count: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.x.shape[0])


def visible_slice(
    x: npt.NDArray[np.floating] | npt.NDArray[np.integer], lo: float, hi: float, pad: float = 0.0
) -> slice:
    """Index slice of sorted ``x`` inside ``[lo, hi]`` widened by ``pad`` times the width on each
    side (so a small pan does not show empty space before the next update)."""
    w = (hi - lo) * pad
    i = int(np.searchsorted(x, lo - w, side="left"))
    j = int(np.searchsorted(x, hi + w, side="right"))
    return slice(i, j)


def _edges(n: int, buckets: int) -> npt.NDArray[np.int64]:
    return np.linspace(0, n, buckets + 1).astype(np.int64)[:-1]


def decimate_ohlcv(
    x: F64,
    open_: F64,
    high: F64,
    low: F64,
    close: F64,
    volume: F64,
    max_points: int,
) -> OHLCV:
    """Bars as at most ``max_points`` buckets: first open, max high, min low, last close, summed
    volume, first time. Returns copies of the input when it already fits."""
    n = int(x.shape[0])
    if n <= max_points:
        return OHLCV(
            np.array(x, dtype=np.float64),
            np.array(open_, dtype=np.float64),
            np.array(high, dtype=np.float64),
            np.array(low, dtype=np.float64),
            np.array(close, dtype=np.float64),
            np.array(volume, dtype=np.float64),
            np.ones(n, dtype=np.int64),
        )
    if max_points < 1:
        raise ValueError("max_points must be >= 1")
    start = _edges(n, max_points)
    last = np.append(start[1:], n) - 1
    return OHLCV(
        np.asarray(x, dtype=np.float64)[start],
        np.asarray(open_, dtype=np.float64)[start],
        np.maximum.reduceat(np.asarray(high, dtype=np.float64), start),
        np.minimum.reduceat(np.asarray(low, dtype=np.float64), start),
        np.asarray(close, dtype=np.float64)[last],
        np.add.reduceat(np.asarray(volume, dtype=np.float64), start),
        (last - start + 1).astype(np.int64),
    )


def decimate_line(x: F64, y: F64, max_points: int) -> tuple[F64, F64]:
    """A line as at most ``max_points`` points: per bucket its min and its max, in time order
    (so the drawn envelope is exact). Returns copies when it already fits."""
    n = int(x.shape[0])
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if n <= max_points:
        return x.copy(), y.copy()
    buckets = max(max_points // 2, 1)
    start = _edges(n, buckets)
    sizes = np.diff(np.append(start, n))
    imin = _first_equal(y, np.fmin.reduceat(y, start), start, sizes)  # fmin: NaN-tolerant
    imax = _first_equal(y, np.fmax.reduceat(y, start), start, sizes)
    idx = np.unique(np.concatenate([imin, imax]))
    return x[idx], y[idx]


def _first_equal(
    y: F64, per_bucket: F64, start: npt.NDArray[np.int64], sizes: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Index of the first element of each bucket equal to that bucket's value (O(n)); the
    bucket's start when none is (an all-NaN bucket)."""
    hits = np.flatnonzero(y == np.repeat(per_bucket, sizes))
    pos = np.searchsorted(hits, start, side="left")
    found = np.append(hits, np.iinfo(np.int64).max)[pos]
    return np.where(found < start + sizes, found, start).astype(np.int64)
