"""Decimation is min/max-preserving, bounded in size, and exact when the data fits."""

from __future__ import annotations

import numpy as np

from ost_lab.widgets.decimate import decimate_line, decimate_ohlcv, visible_slice


def _bars(n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    c = 100 + np.cumsum(rng.normal(size=n))
    o = np.roll(c, 1)
    o[0] = c[0]
    h = np.maximum(o, c) + rng.random(n)
    lo = np.minimum(o, c) - rng.random(n)
    return np.arange(n, dtype=np.float64), o, h, lo, c, rng.random(n) * 100


def test_fits_returns_raw_copy() -> None:
    x, o, h, lo, c, v = _bars(500)
    d = decimate_ohlcv(x, o, h, lo, c, v, 1000)
    assert len(d) == 500
    np.testing.assert_array_equal(d.high, h)
    assert d.high is not h
    assert (d.count == 1).all()


def test_buckets_preserve_extremes_and_totals() -> None:
    x, o, h, lo, c, v = _bars(100_003)
    h[12_345] = 10_000.0  # a spike must survive
    lo[99_999] = -10_000.0
    d = decimate_ohlcv(x, o, h, lo, c, v, 1000)
    assert len(d) == 1000
    assert d.high.max() == 10_000.0 and d.low.min() == -10_000.0
    assert d.count.sum() == 100_003
    assert d.open[0] == o[0] and d.close[-1] == c[-1]
    np.testing.assert_allclose(d.volume.sum(), v.sum())
    starts = np.concatenate([[0], np.cumsum(d.count)[:-1]])
    for k in (0, 17, 999):
        s = slice(starts[k], starts[k] + d.count[k])
        assert d.high[k] == h[s].max() and d.low[k] == lo[s].min()
        assert d.x[k] == x[s][0] and d.close[k] == c[s][-1]


def test_line_keeps_envelope() -> None:
    rng = np.random.default_rng(1)
    y = np.cumsum(rng.normal(size=50_000))
    x = np.arange(50_000, dtype=np.float64)
    dx, dy = decimate_line(x, y, 400)
    assert len(dx) <= 400
    assert dy.max() == y.max() and dy.min() == y.min()
    assert (np.diff(dx) > 0).all()
    _sx, sy = decimate_line(x[:100], y[:100], 400)
    np.testing.assert_array_equal(sy, y[:100])


def test_visible_slice_with_pad() -> None:
    x = np.arange(100, dtype=np.float64)
    assert visible_slice(x, 10, 20) == slice(10, 21)
    assert visible_slice(x, 10, 20, pad=0.5) == slice(5, 26)
    assert visible_slice(x, -50, -10) == slice(0, 0)


def test_line_tolerates_nan() -> None:
    y = np.arange(1000, dtype=np.float64)
    y[:300] = np.nan
    y[500] = np.nan
    dx, dy = decimate_line(np.arange(1000, dtype=np.float64), y, 100)
    assert len(dx) <= 100 and np.nanmax(dy) == 999.0 and np.nanmin(dy) == 300.0
