"""Numba kernels: the single definition of every indicator formula.

Each indicator ``X`` has three njit functions:

* ``x_init(...) -> state``: a small float64 state array (hftbacktest style, so a jitted
  strategy can keep many indicators in plain arrays),
* ``x_update(state, ...) -> value``: one O(1) step, NaN during warm-up,
* ``x(values, ...) -> np.ndarray``: the vectorised form, which is literally a loop over
  ``x_update`` so both agree bit for bit.

The pure-Python classes in :mod:`ost_lab.core.indicators.streaming` repeat the same float
operations in the same order (tested to be bit-identical). Inputs are assumed finite.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

NAN = math.nan

# ----------------------------------------------------------------------------- SMA
# state: [n, count, pos, sum, buf[n]]


@njit(cache=True)
def sma_init(n: int) -> np.ndarray:
    """State for a simple moving average over ``n`` values."""
    if n < 1:
        raise ValueError("n must be >= 1")
    s = np.zeros(4 + n)
    s[0] = n
    return s


@njit(cache=True)
def sma_update(state: np.ndarray, x: float) -> float:
    """Push ``x``; return the mean of the last ``n`` values (NaN until ``n`` seen)."""
    n = int(state[0])
    count = int(state[1])
    pos = int(state[2])
    total = state[3]
    if count >= n:
        total += x - state[4 + pos]
    else:
        total += x
        count += 1
        state[1] = count
    state[4 + pos] = x
    pos += 1
    if pos == n:
        pos = 0
    state[2] = pos
    state[3] = total
    if count < n:
        return NAN
    return total / n


@njit(cache=True)
def sma_run(state: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``sma_update`` for each value in turn: the outputs (``state`` ends after the last)."""
    out = np.empty(values.shape[0])
    for i in range(values.shape[0]):
        out[i] = sma_update(state, values[i])
    return out


@njit(cache=True)
def sma(values: np.ndarray, n: int) -> np.ndarray:
    """Vectorised SMA."""
    return sma_run(sma_init(n), values)


# ----------------------------------------------------------------------------- EMA
# state: [n, alpha, count, y]


@njit(cache=True)
def ema_init(n: int) -> np.ndarray:
    """State for an EMA with ``alpha = 2 / (n + 1)``, seeded with the first value."""
    if n < 1:
        raise ValueError("n must be >= 1")
    s = np.zeros(4)
    s[0] = n
    s[1] = 2.0 / (n + 1.0)
    return s


@njit(cache=True)
def ema_update(state: np.ndarray, x: float) -> float:
    """``y = (1 - a) * y + a * x``; y0 = x0; NaN for the first ``n - 1`` values."""
    n = state[0]
    a = state[1]
    count = state[2]
    y = x if count == 0.0 else (1.0 - a) * state[3] + a * x
    state[3] = y
    if count < n:
        count += 1.0
        state[2] = count
    if count < n:
        return NAN
    return y


@njit(cache=True)
def ema_run(state: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``ema_update`` for each value in turn: the outputs (``state`` ends after the last)."""
    out = np.empty(values.shape[0])
    for i in range(values.shape[0]):
        out[i] = ema_update(state, values[i])
    return out


@njit(cache=True)
def ema(values: np.ndarray, n: int) -> np.ndarray:
    """Vectorised EMA (pandas ``ewm(span=n, adjust=False, min_periods=n)``)."""
    return ema_run(ema_init(n), values)


# ----------------------------------------------------------------------------- WMA
# state: [n, count, pos, sum, wsum, buf[n]]


@njit(cache=True)
def wma_init(n: int) -> np.ndarray:
    """State for a linearly weighted moving average (weights 1..n, newest heaviest)."""
    if n < 1:
        raise ValueError("n must be >= 1")
    s = np.zeros(5 + n)
    s[0] = n
    return s


@njit(cache=True)
def wma_update(state: np.ndarray, x: float) -> float:
    """Push ``x``; return ``sum(k * x_k) / (n (n + 1) / 2)`` over the last ``n`` values."""
    n = int(state[0])
    count = int(state[1])
    pos = int(state[2])
    total = state[3]
    wsum = state[4]
    if count >= n:
        wsum = wsum + n * x - total
        total += x - state[5 + pos]
    else:
        count += 1
        state[1] = count
        wsum = wsum + count * x
        total += x
    state[5 + pos] = x
    pos += 1
    if pos == n:
        pos = 0
    state[2] = pos
    state[3] = total
    state[4] = wsum
    if count < n:
        return NAN
    return wsum / (n * (n + 1) / 2.0)


@njit(cache=True)
def wma_run(state: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``wma_update`` for each value in turn: the outputs (``state`` ends after the last)."""
    out = np.empty(values.shape[0])
    for i in range(values.shape[0]):
        out[i] = wma_update(state, values[i])
    return out


@njit(cache=True)
def wma(values: np.ndarray, n: int) -> np.ndarray:
    """Vectorised WMA."""
    return wma_run(wma_init(n), values)


# ----------------------------------------------------------------------------- ATR
# state: [n, count, prev_close, atr, tr_sum]


@njit(cache=True)
def atr_init(n: int) -> np.ndarray:
    """State for Wilder's average true range."""
    if n < 1:
        raise ValueError("n must be >= 1")
    s = np.zeros(5)
    s[0] = n
    return s


@njit(cache=True)
def atr_update(state: np.ndarray, high: float, low: float, close: float) -> float:
    """True range (first bar: high - low); seed = mean of first n TR; then Wilder smoothing."""
    n = state[0]
    count = state[1]
    if count == 0.0:
        tr = high - low
    else:
        pc = state[2]
        tr = max(high - low, abs(high - pc), abs(low - pc))
    state[2] = close
    if count < n:
        count += 1.0
        state[1] = count
        state[4] += tr
        if count < n:
            return NAN
        state[3] = state[4] / n
        return state[3]
    a = (state[3] * (n - 1.0) + tr) / n
    state[3] = a
    return a


@njit(cache=True)
def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    """Vectorised ATR."""
    st = atr_init(n)
    out = np.empty(close.shape[0])
    for i in range(close.shape[0]):
        out[i] = atr_update(st, high[i], low[i], close[i])
    return out


# ----------------------------------------------------------------------------- RSI
# state: [n, count, prev, avg_gain, avg_loss]


@njit(cache=True)
def rsi_init(n: int) -> np.ndarray:
    """State for Wilder's RSI."""
    if n < 1:
        raise ValueError("n must be >= 1")
    s = np.zeros(5)
    s[0] = n
    return s


@njit(cache=True)
def _rsi_value(ag: float, al: float) -> float:
    if al == 0.0:
        if ag == 0.0:
            return 50.0
        return 100.0
    return 100.0 - 100.0 / (1.0 + ag / al)


@njit(cache=True)
def rsi_update(state: np.ndarray, x: float) -> float:
    """Wilder RSI: seed = simple mean of the first n changes, then (avg*(n-1)+g)/n."""
    n = state[0]
    count = state[1]
    if count == 0.0:
        state[2] = x
        state[1] = 1.0
        return NAN
    d = x - state[2]
    state[2] = x
    g = d if d > 0.0 else 0.0
    lo = -d if d < 0.0 else 0.0
    if count < n:
        state[3] += g
        state[4] += lo
        state[1] = count + 1.0
        return NAN
    if count == n:
        ag = (state[3] + g) / n
        al = (state[4] + lo) / n
        state[1] = count + 1.0
    else:
        ag = (state[3] * (n - 1.0) + g) / n
        al = (state[4] * (n - 1.0) + lo) / n
    state[3] = ag
    state[4] = al
    return _rsi_value(ag, al)


@njit(cache=True)
def rsi_run(state: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``rsi_update`` for each value in turn: the outputs (``state`` ends after the last)."""
    out = np.empty(values.shape[0])
    for i in range(values.shape[0]):
        out[i] = rsi_update(state, values[i])
    return out


@njit(cache=True)
def rsi(values: np.ndarray, n: int) -> np.ndarray:
    """Vectorised RSI (first value at index ``n``)."""
    return rsi_run(rsi_init(n), values)


# --------------------------------------------------- rolling mean / variance (ddof=0)
# state: [n, count, pos, mean, m2, k, buf[n]]


_MV_BUF = 8  # first window slot of a meanvar state


@njit(cache=True)
def meanvar_init(n: int, k: float = 2.0) -> np.ndarray:
    """State for a rolling mean and population variance.

    Sliding Welford update, with an exact two-pass recompute every n values (amortised O(1)).
    A window of n identical values is exactly (x, 0), as in pandas: the sliding update would
    leave rounding residue there, which the square root of a standard deviation magnifies.
    Layout: [n, count, pos, mean, m2, k, last value, run of identical values, window...].
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    s = np.zeros(_MV_BUF + n)
    s[0] = n
    s[5] = k
    s[6] = NAN
    return s


@njit(cache=True)
def meanvar_update(state: np.ndarray, x: float) -> tuple[float, float]:
    """Push ``x``; return (mean, population variance) of the last n, NaN during warm-up."""
    n = int(state[0])
    count = int(state[1])
    pos = int(state[2])
    mean = state[3]
    m2 = state[4]
    if count >= n:
        old = state[_MV_BUF + pos]
        delta = x - old
        new_mean = mean + delta / n
        m2 += delta * (x - new_mean + old - mean)
        mean = new_mean
    else:
        count += 1
        state[1] = count
        delta = x - mean
        mean += delta / count
        m2 += delta * (x - mean)
    state[_MV_BUF + pos] = x
    pos += 1
    if pos == n:
        pos = 0
        if count >= n:
            # exact two-pass refresh once per window: stops rounding drift accumulating
            total = 0.0
            for i in range(n):
                total += state[_MV_BUF + i]
            mean = total / n
            m2 = 0.0
            for i in range(n):
                d = state[_MV_BUF + i] - mean
                m2 += d * d
    same = state[7] + 1.0 if x == state[6] else 1.0
    state[6] = x
    state[7] = same
    if same >= n:
        mean = x
        m2 = 0.0
    if m2 < 0.0:
        m2 = 0.0
    state[2] = pos
    state[3] = mean
    state[4] = m2
    if count < n:
        return NAN, NAN
    return mean, m2 / n


@njit(cache=True)
def stdev_init(n: int) -> np.ndarray:
    """State for a rolling population standard deviation."""
    return meanvar_init(n, 0.0)


@njit(cache=True)
def stdev_update(state: np.ndarray, x: float) -> float:
    """Rolling population std (ddof=0)."""
    _, var = meanvar_update(state, x)
    return math.sqrt(var)


@njit(cache=True)
def rolling_std(values: np.ndarray, n: int) -> np.ndarray:
    """Vectorised rolling population std (pandas ``rolling(n).std(ddof=0)``)."""
    st = meanvar_init(n, 0.0)
    out = np.empty(values.shape[0])
    for i in range(values.shape[0]):
        out[i] = stdev_update(st, values[i])
    return out


@njit(cache=True)
def zscore_init(n: int) -> np.ndarray:
    """State for a rolling z-score."""
    return meanvar_init(n, 0.0)


@njit(cache=True)
def zscore_update(state: np.ndarray, x: float) -> float:
    """``(x - mean) / std`` over the last n (including x); NaN if std == 0."""
    mean, var = meanvar_update(state, x)
    sd = math.sqrt(var)
    if not sd > 0.0:
        return NAN
    return (x - mean) / sd


@njit(cache=True)
def zscore(values: np.ndarray, n: int) -> np.ndarray:
    """Vectorised rolling z-score."""
    st = meanvar_init(n, 0.0)
    out = np.empty(values.shape[0])
    for i in range(values.shape[0]):
        out[i] = zscore_update(st, values[i])
    return out


@njit(cache=True)
def bollinger_init(n: int, k: float = 2.0) -> np.ndarray:
    """State for Bollinger bands: mean +/- k * population std."""
    return meanvar_init(n, k)


@njit(cache=True)
def bollinger_update(state: np.ndarray, x: float) -> tuple[float, float, float]:
    """Return (mid, upper, lower)."""
    mean, var = meanvar_update(state, x)
    w = state[5] * math.sqrt(var)
    return mean, mean + w, mean - w


@njit(cache=True)
def bollinger(
    values: np.ndarray, n: int, k: float = 2.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised Bollinger bands: (mid, upper, lower)."""
    st = meanvar_init(n, k)
    m = values.shape[0]
    mid = np.empty(m)
    up = np.empty(m)
    lo = np.empty(m)
    for i in range(m):
        mid[i], up[i], lo[i] = bollinger_update(st, values[i])
    return mid, up, lo


# ----------------------------------------------------------------------------- MACD
# state: [fast, slow, signal, count, ema_fast, ema_slow, sig_count, ema_sig]


@njit(cache=True)
def macd_init(fast: int = 12, slow: int = 26, signal: int = 9) -> np.ndarray:
    """State for MACD built from the EMA convention above."""
    if fast < 1 or slow < 1 or signal < 1:
        raise ValueError("periods must be >= 1")
    s = np.zeros(8)
    s[0] = fast
    s[1] = slow
    s[2] = signal
    return s


@njit(cache=True)
def macd_update(state: np.ndarray, x: float) -> tuple[float, float, float]:
    """Return (macd, signal, hist).

    macd = EMA_fast - EMA_slow once both are warm (max(fast, slow) values); the signal
    EMA is seeded with the first valid macd and warm after ``signal`` macd values.
    """
    af = 2.0 / (state[0] + 1.0)
    aslow = 2.0 / (state[1] + 1.0)
    nsig = state[2]
    count = state[3]
    if count == 0.0:
        ef = x
        es = x
    else:
        ef = (1.0 - af) * state[4] + af * x
        es = (1.0 - aslow) * state[5] + aslow * x
    state[4] = ef
    state[5] = es
    warm = max(state[0], state[1])
    if count < warm:
        count += 1.0
        state[3] = count
    if count < warm:
        return NAN, NAN, NAN
    m = ef - es
    asig = 2.0 / (nsig + 1.0)
    sc = state[6]
    sg = m if sc == 0.0 else (1.0 - asig) * state[7] + asig * m
    state[7] = sg
    if sc < nsig:
        sc += 1.0
        state[6] = sc
    if sc < nsig:
        return m, NAN, NAN
    return m, sg, m - sg


@njit(cache=True)
def macd(
    values: np.ndarray, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised MACD: (macd, signal, hist)."""
    st = macd_init(fast, slow, signal)
    m = values.shape[0]
    a = np.empty(m)
    b = np.empty(m)
    c = np.empty(m)
    for i in range(m):
        a[i], b[i], c[i] = macd_update(st, values[i])
    return a, b, c


# ----------------------------------------------------------------------------- VWAP
# state: [sum(p*v), sum(v)]


@njit(cache=True)
def vwap_init() -> np.ndarray:
    """State for a cumulative VWAP (reset it at session starts)."""
    return np.zeros(2)


@njit(cache=True)
def vwap_reset(state: np.ndarray) -> None:
    """Start a new session."""
    state[0] = 0.0
    state[1] = 0.0


@njit(cache=True)
def vwap_update(state: np.ndarray, price: float, volume: float) -> float:
    """``sum(p * v) / sum(v)`` since the last reset; NaN while ``sum(v) == 0``."""
    state[0] += price * volume
    state[1] += volume
    if state[1] == 0.0:
        return NAN
    return state[0] / state[1]


@njit(cache=True)
def vwap(prices: np.ndarray, volumes: np.ndarray) -> np.ndarray:
    """Vectorised cumulative VWAP."""
    st = vwap_init()
    out = np.empty(prices.shape[0])
    for i in range(prices.shape[0]):
        out[i] = vwap_update(st, prices[i], volumes[i])
    return out


@njit(cache=True)
def vwap_sessions(prices: np.ndarray, volumes: np.ndarray, new_session: np.ndarray) -> np.ndarray:
    """Vectorised VWAP reset before every bar where ``new_session`` is True."""
    st = vwap_init()
    out = np.empty(prices.shape[0])
    for i in range(prices.shape[0]):
        if new_session[i]:
            vwap_reset(st)
        out[i] = vwap_update(st, prices[i], volumes[i])
    return out


# ------------------------------------------------------------- highest / lowest
# state: [n, sign, t, head, size, vals[n], idx[n]]  (monotonic deque in a ring)


@njit(cache=True)
def extreme_init(n: int, sign: float) -> np.ndarray:
    """State for a rolling max (sign=+1) or min (sign=-1) over n values."""
    if n < 1:
        raise ValueError("n must be >= 1")
    s = np.zeros(5 + 2 * n)
    s[0] = n
    s[1] = sign
    return s


@njit(cache=True)
def extreme_update(state: np.ndarray, x: float) -> float:
    """Amortised O(1) rolling extreme via a monotonic deque; NaN until n values seen."""
    n = int(state[0])
    sign = state[1]
    t = state[2]
    head = int(state[3])
    size = int(state[4])
    v = sign * x
    while size > 0 and state[5 + n + head] <= t - n:
        head += 1
        if head == n:
            head = 0
        size -= 1
    while size > 0:
        back = head + size - 1
        if back >= n:
            back -= n
        if state[5 + back] <= v:
            size -= 1
        else:
            break
    slot = head + size
    if slot >= n:
        slot -= n
    state[5 + slot] = v
    state[5 + n + slot] = t
    size += 1
    state[3] = head
    state[4] = size
    state[2] = t + 1.0
    if t < n - 1:
        return NAN
    return sign * state[5 + head]


@njit(cache=True)
def highest_init(n: int) -> np.ndarray:
    """State for the rolling highest value."""
    return extreme_init(n, 1.0)


@njit(cache=True)
def lowest_init(n: int) -> np.ndarray:
    """State for the rolling lowest value."""
    return extreme_init(n, -1.0)


@njit(cache=True)
def highest(values: np.ndarray, n: int) -> np.ndarray:
    """Vectorised rolling max."""
    st = extreme_init(n, 1.0)
    out = np.empty(values.shape[0])
    for i in range(values.shape[0]):
        out[i] = extreme_update(st, values[i])
    return out


@njit(cache=True)
def lowest(values: np.ndarray, n: int) -> np.ndarray:
    """Vectorised rolling min."""
    st = extreme_init(n, -1.0)
    out = np.empty(values.shape[0])
    for i in range(values.shape[0]):
        out[i] = extreme_update(st, values[i])
    return out
