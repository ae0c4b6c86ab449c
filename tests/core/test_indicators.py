"""Indicators: Python classes == njit incremental == njit vectorised, and all match
independent pandas/numpy re-derivations."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

from ost_lab.core import indicators as ind

# ------------------------------------------------------------------ helpers


def price_path(m: int = 600, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, m)))


def ohlc(close: np.ndarray, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    high = close + rng.uniform(0.0, 1.0, close.size)
    low = close - rng.uniform(0.0, 1.0, close.size)
    return high, low, close


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    """Bit-identical, NaNs in the same places."""
    np.testing.assert_array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


def assert_close(a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> None:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    assert np.array_equal(np.isnan(a), np.isnan(b)), (a, b)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * scale)


def run_class(obj: Any, *cols: np.ndarray, pick: int | None = None) -> np.ndarray:
    out = []
    for row in zip(*(c.tolist() for c in cols), strict=True):
        r = obj.update(*row)
        out.append(r[pick] if pick is not None else r)
    return np.array(out, dtype=float)


def run_kernel(init: Any, upd: Callable[..., Any], *cols: np.ndarray, pick: int | None = None):
    out = []
    for row in zip(*(c.tolist() for c in cols), strict=True):
        r = upd(init, *row)
        out.append(r[pick] if pick is not None else r)
    return np.array(out, dtype=float)


# Each spec: (name, python factory, kernel init, kernel update, vectorised, n_inputs, pick)
SINGLE = [
    ("sma", ind.SMA, ind.sma_init, ind.sma_update, ind.sma),
    ("ema", ind.EMA, ind.ema_init, ind.ema_update, ind.ema),
    ("wma", ind.WMA, ind.wma_init, ind.wma_update, ind.wma),
    ("rsi", ind.RSI, ind.rsi_init, ind.rsi_update, ind.rsi),
    ("std", ind.RollingStd, ind.stdev_init, ind.stdev_update, ind.rolling_std),
    ("zscore", ind.ZScore, ind.zscore_init, ind.zscore_update, ind.zscore),
    ("highest", ind.Highest, ind.highest_init, ind.highest_update, ind.highest),
    ("lowest", ind.Lowest, ind.lowest_init, ind.lowest_update, ind.lowest),
]


def check_three_forms(x: np.ndarray, n: int) -> None:
    for _name, cls, init, upd, vec in SINGLE:
        v = vec(x, n)
        assert_same(run_class(cls(n), x), v)
        assert_same(run_kernel(init(n), upd, x), v)
    h, lo, c = x + 0.5, x - 0.25, x
    v = ind.atr(h, lo, c, n)
    assert_same(run_class(ind.ATR(n), h, lo, c), v)
    assert_same(run_kernel(ind.atr_init(n), ind.atr_update, h, lo, c), v)
    bb = ind.bollinger(x, n, 1.5)
    for k in range(3):
        assert_same(run_class(ind.Bollinger(n, 1.5), x, pick=k), bb[k])
        assert_same(run_kernel(ind.bollinger_init(n, 1.5), ind.bollinger_update, x, pick=k), bb[k])
    fast, slow, sig = max(1, n // 2), n, max(1, n // 3)
    md = ind.macd(x, fast, slow, sig)
    for k in range(3):
        assert_same(run_class(ind.MACD(fast, slow, sig), x, pick=k), md[k])
        got = run_kernel(ind.macd_init(fast, slow, sig), ind.macd_update, x, pick=k)
        assert_same(got, md[k])
    vol = np.abs(x) + 1.0
    vw = ind.vwap(x, vol)
    assert_same(run_class(ind.VWAP(), x, vol), vw)
    assert_same(run_kernel(ind.vwap_init(), ind.vwap_update, x, vol), vw)


# ------------------------------------------------- independent references


def ref_sma(x: np.ndarray, n: int) -> np.ndarray:
    return pd.Series(x).rolling(n).mean().to_numpy()


def ref_ema(x: np.ndarray, n: int) -> np.ndarray:
    return pd.Series(x).ewm(span=n, adjust=False, min_periods=n).mean().to_numpy()


def ref_wma(x: np.ndarray, n: int) -> np.ndarray:
    w = np.arange(1, n + 1, dtype=float)
    out = np.full(x.size, np.nan)
    for i in range(n - 1, x.size):
        out[i] = np.dot(x[i - n + 1 : i + 1], w) / w.sum()
    return out


def ref_rsi(x: np.ndarray, n: int) -> np.ndarray:
    d = np.diff(x)
    gain = np.where(d > 0, d, 0.0)
    loss = np.where(d < 0, -d, 0.0)
    out = np.full(x.size, np.nan)
    if d.size < n:
        return out

    def wilder(v: np.ndarray) -> np.ndarray:
        seeded = np.concatenate([[v[:n].mean()], v[n:]])
        return pd.Series(seeded).ewm(alpha=1.0 / n, adjust=False).mean().to_numpy()

    ag, al = wilder(gain), wilder(loss)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = 100.0 - 100.0 / (1.0 + ag / al)
    r = np.where(al == 0.0, np.where(ag == 0.0, 50.0, 100.0), r)
    out[n:] = r
    return out


def ref_atr(h: np.ndarray, lo: np.ndarray, c: np.ndarray, n: int) -> np.ndarray:
    pc = np.concatenate([[np.nan], c[:-1]])
    tr = np.nanmax(np.vstack([h - lo, np.abs(h - pc), np.abs(lo - pc)]), axis=0)
    out = np.full(c.size, np.nan)
    if c.size < n:
        return out
    seeded = np.concatenate([[tr[:n].mean()], tr[n:]])
    out[n - 1 :] = pd.Series(seeded).ewm(alpha=1.0 / n, adjust=False).mean().to_numpy()
    return out


def ref_std(x: np.ndarray, n: int) -> np.ndarray:
    return pd.Series(x).rolling(n).std(ddof=0).to_numpy()


# ------------------------------------------------------------ hand cases


def test_hand_computed_small_cases() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert_same(ind.sma(x, 2), [np.nan, 1.5, 2.5, 3.5, 4.5])
    # WMA(3) at index 2: (1*1 + 2*2 + 3*3) / 6
    np.testing.assert_allclose(ind.wma(x, 3)[2:], [14 / 6, 20 / 6, 26 / 6], rtol=1e-15)
    # EMA(3): alpha 0.5, seeded with 1 -> 1, 1.5, 2.25 (first n-1 NaN)
    np.testing.assert_allclose(ind.ema(x, 3)[2:], [2.25, 3.125, 4.0625])
    assert math.isnan(ind.ema(x, 3)[1])
    assert_same(ind.highest(np.array([3.0, 1.0, 2.0, 0.0]), 2), [np.nan, 3.0, 2.0, 2.0])
    assert_same(ind.lowest(np.array([3.0, 1.0, 2.0, 0.0]), 2), [np.nan, 1.0, 1.0, 0.0])
    # RSI(2): changes +1, -2 -> ag 0.5, al 1 -> 100 - 100/1.5
    r = ind.rsi(np.array([10.0, 11.0, 9.0, 9.0]), 2)
    assert math.isnan(r[1])
    assert r[2] == pytest.approx(100.0 - 100.0 / 1.5)
    # next change 0: ag 0.25, al 0.5
    assert r[3] == pytest.approx(100.0 - 100.0 / 1.5)
    assert ind.rsi(np.array([1.0, 2.0, 3.0]), 2)[2] == 100.0
    assert ind.rsi(np.array([1.0, 1.0, 1.0]), 2)[2] == 50.0
    # ATR(2): TR = [2, 3 (|h - pc| = 12-9), ...]
    a = ind.atr(np.array([10.0, 12.0]), np.array([8.0, 10.0]), np.array([9.0, 11.0]), 2)
    assert math.isnan(a[0]) and a[1] == 2.5
    # Bollinger population std: [1, 3] -> mean 2, std 1
    mid, up, lo = ind.bollinger(np.array([1.0, 3.0]), 2, 2.0)
    assert (mid[1], up[1], lo[1]) == (2.0, 4.0, 0.0)
    assert ind.zscore(np.array([1.0, 3.0]), 2)[1] == 1.0
    assert math.isnan(ind.zscore(np.array([2.0, 2.0, 2.0]), 2)[2])
    v = ind.vwap(np.array([10.0, 20.0, 30.0]), np.array([0.0, 1.0, 3.0]))
    assert math.isnan(v[0]) and v[1] == 20.0 and v[2] == 27.5


def test_warmup_lengths() -> None:
    x = price_path(60)
    n = 10
    first_valid = {
        "sma": n - 1,
        "ema": n - 1,
        "wma": n - 1,
        "rsi": n,
        "std": n - 1,
        "zscore": n - 1,
        "highest": n - 1,
        "lowest": n - 1,
    }
    for name, _cls, _i, _u, vec in SINGLE:
        out = vec(x, n)
        assert np.isnan(out[: first_valid[name]]).all(), name
        assert not np.isnan(out[first_valid[name] :]).any(), name
    m, s, h = ind.macd(x, 5, 10, 4)
    assert np.isnan(m[:9]).all() and not np.isnan(m[9:]).any()
    assert np.isnan(s[:12]).all() and not np.isnan(s[12:]).any()
    assert_same(np.isnan(h), np.isnan(s))


def test_bad_period_rejected() -> None:
    with pytest.raises(ValueError):
        ind.SMA(0)
    with pytest.raises(ValueError):
        ind.sma_init(0)


# ------------------------------------------------- reference agreement


@pytest.mark.parametrize("n", [1, 2, 14, 50])
def test_matches_independent_references_on_price_path(n: int) -> None:
    x = price_path()
    h, lo, c = ohlc(x)
    assert_close(ind.sma(x, n), ref_sma(x, n), 100)
    assert_close(ind.ema(x, n), ref_ema(x, n), 100)
    assert_close(ind.wma(x, n), ref_wma(x, n), 100)
    assert_close(ind.rsi(x, n), ref_rsi(x, n), 100)
    assert_close(ind.atr(h, lo, c, n), ref_atr(h, lo, c, n), 100)
    assert_close(ind.rolling_std(x, n), ref_std(x, n), 100)
    s = pd.Series(x)
    mean = s.rolling(n).mean()
    sd = s.rolling(n).std(ddof=0)
    mid, up, low = ind.bollinger(x, n, 2.0)
    assert_close(mid, mean, 100)
    assert_close(up, mean + 2 * sd, 100)
    assert_close(low, mean - 2 * sd, 100)
    z = ((s - mean) / sd).where(sd > 1e-9).to_numpy()
    got = ind.zscore(x, n)
    ok = ~np.isnan(z)
    np.testing.assert_allclose(got[ok], z[ok], rtol=1e-7, atol=1e-7)
    assert_close(ind.highest(x, n), s.rolling(n).max(), 1)
    assert_close(ind.lowest(x, n), s.rolling(n).min(), 1)
    vol = np.arange(1.0, x.size + 1.0)
    assert_close(ind.vwap(x, vol), np.cumsum(x * vol) / np.cumsum(vol), 100)


def test_macd_matches_pandas() -> None:
    x = price_path()
    s = pd.Series(x)
    line = s.ewm(span=12, adjust=False).mean() - s.ewm(span=26, adjust=False).mean()
    line[:25] = np.nan
    signal = line.ewm(span=9, adjust=False, min_periods=9).mean()
    m, sg, h = ind.macd(x, 12, 26, 9)
    assert_close(m, line, 10)
    assert_close(sg, signal, 10)
    assert_close(h, line - signal, 10)


def test_vwap_sessions_resets() -> None:
    p = np.array([1.0, 2.0, 10.0, 20.0])
    v = np.array([1.0, 1.0, 1.0, 3.0])
    out = ind.vwap_sessions(p, v, np.array([True, False, True, False]))
    np.testing.assert_allclose(out, [1.0, 1.5, 10.0, 17.5])
    py = ind.VWAP()
    py.update(1.0, 1.0)
    py.reset()
    assert math.isnan(py.value)
    assert py.update(10.0, 1.0) == 10.0


def test_three_forms_identical_on_price_path() -> None:
    check_three_forms(price_path(400), 20)


finite = st.floats(min_value=1.0, max_value=1000.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    xs=st.lists(finite | st.sampled_from([5.0, 5.0, 7.0]), min_size=0, max_size=80),
    n=st.integers(1, 12),
)
def test_three_forms_identical_random(xs: list[float], n: int) -> None:
    check_three_forms(np.array(xs, dtype=float), n)


@pytest.mark.parametrize("n", [2, 3, 7])
@pytest.mark.parametrize("big", [441.4726, 999.99, 1e6])
def test_window_of_identical_values_has_exactly_zero_spread(n: int, big: float) -> None:
    # A large value leaving the window used to leave rounding residue in the sliding variance
    # (std 6.6e-6 instead of 0 for [., 441.47.., 1.1, 1.1]); pandas gives exactly 0 there.
    x = np.array([1.0, big] + [1.1] * (n + 2))
    want = pd.Series(x).rolling(n).std(ddof=0).to_numpy()
    assert np.all(want[n + 1 :] == 0.0)
    got = ind.rolling_std(x, n)
    assert_same(got[n + 1 :], want[n + 1 :])  # exactly zero
    np.testing.assert_allclose(got, want, rtol=1e-12)
    mid, up, lo = ind.bollinger(x, n, 2.0)
    assert np.all(mid[n + 1 :] == 1.1) and np.all(up[n + 1 :] == 1.1) and np.all(lo[n + 1 :] == 1.1)
    assert np.all(np.isnan(ind.zscore(x, n)[n + 1 :]))  # no spread: undefined
    check_three_forms(x, n)


@settings(max_examples=40, deadline=None)
@given(xs=st.lists(finite, min_size=1, max_size=60), n=st.integers(1, 10))
def test_random_against_references(xs: list[float], n: int) -> None:
    x = np.array(xs)
    assert_close(ind.sma(x, n), ref_sma(x, n), 1000)
    assert_close(ind.ema(x, n), ref_ema(x, n), 1000)
    assert_close(ind.wma(x, n), ref_wma(x, n), 1000)
    assert_close(ind.rsi(x, n), ref_rsi(x, n), 100)
    s = pd.Series(x)
    assert_close(ind.highest(x, n), s.rolling(n).max())
    assert_close(ind.lowest(x, n), s.rolling(n).min())
    np.testing.assert_allclose(ind.rolling_std(x, n), ref_std(x, n), rtol=1e-7, atol=1e-6)
    h, lo = x + 0.5 * np.sqrt(x), x - 0.25 * np.sqrt(x)
    assert_close(ind.atr(h, lo, x, n), ref_atr(h, lo, x, n), 1000)


# ------------------------------------------------- use inside a jitted kernel


@njit  # no cache: test modules are not importable by numba's cache loader
def _kernel_strategy(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fast = ind.sma_init(5)
    slow = ind.ema_init(20)
    r = ind.rsi_init(14)
    hh = ind.highest_init(10)
    bb = ind.bollinger_init(20, 2.0)
    m = close.shape[0]
    signal = np.zeros(m)
    feats = np.empty((m, 4))
    for i in range(m):
        f = ind.sma_update(fast, close[i])
        s = ind.ema_update(slow, close[i])
        feats[i, 0] = f
        feats[i, 1] = ind.rsi_update(r, close[i])
        feats[i, 2] = ind.highest_update(hh, close[i])
        feats[i, 3] = ind.bollinger_update(bb, close[i])[1]
        if f > s:
            signal[i] = 1.0
    return signal, feats


def test_incremental_kernels_inside_njit_loop() -> None:
    x = price_path(300)
    sig, feats = _kernel_strategy(x)
    assert_same(feats[:, 0], ind.sma(x, 5))
    assert_same(feats[:, 1], ind.rsi(x, 14))
    assert_same(feats[:, 2], ind.highest(x, 10))
    assert_same(feats[:, 3], ind.bollinger(x, 20, 2.0)[1])
    with np.errstate(invalid="ignore"):
        expected = (ind.sma(x, 5) > ind.ema(x, 20)).astype(float)
    assert_same(sig, expected)


def test_python_classes_return_plain_floats_and_ready() -> None:
    s = ind.SMA(2)
    assert not s.ready
    s.update(1.0)
    out = s.update(2.0)
    assert type(out) is float and s.ready and s.value == 1.5
    r = ind.RSI(2)
    for v in (1.0, 2.0):
        r.update(v)
    assert not r.ready
    r.update(3.0)
    assert r.ready
