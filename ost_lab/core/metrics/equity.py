"""Equity-curve metrics: returns, risk, drawdowns, with explicit annualisation.

``equity`` is a float ``pd.Series`` indexed by a tz-aware UTC ``DatetimeIndex`` or by int64
nanoseconds since the epoch (UTC). Returns are simple per-period returns of the series.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

NS_PER_DAY = 86_400 * 1_000_000_000
DAYS_PER_YEAR = 365.25
TRADING_DAYS = 252


def index_ns(index: pd.Index) -> np.ndarray:
    """Index as int64 ns since the epoch (UTC)."""
    if isinstance(index, pd.DatetimeIndex):
        idx = index.tz_convert("UTC") if index.tz is not None else index
        return np.asarray(idx.as_unit("ns").asi8, dtype=np.int64)
    return np.asarray(index, dtype=np.int64)


def periods_per_year(index: pd.Index) -> float:
    """Infer how many observations make a year from the index spacing.

    Median spacing >= 20 h: daily-or-slower bars on the trading calendar (252 per year for
    daily, 52 weekly, 12 monthly, 4 quarterly, 1 yearly, picked by nearest calendar length).
    Intraday: 252 x the median number of observations per UTC calendar day, so a 6.5 h
    equity session of minute bars gives 252 * 390 and 24 h data gives 252 * 1440.
    Pass ``periods_per_year`` explicitly when this guess does not fit (e.g. crypto: 365).
    """
    ts = index_ns(index)
    if ts.size < 2:
        raise ValueError("need at least two timestamps to infer periods per year")
    step = float(np.median(np.diff(ts)))
    if step <= 0:
        raise ValueError("index must be increasing")
    days = step / NS_PER_DAY
    if days >= 20.0 / 24.0:
        table = [(1.0, 252.0), (7.0, 52.0), (30.4, 12.0), (91.3, 4.0), (365.25, 1.0)]
        return min(table, key=lambda t: abs(math.log(days / t[0])))[1]
    per_day = np.unique(ts // NS_PER_DAY, return_counts=True)[1]
    return float(TRADING_DAYS * np.median(per_day))


def simple_returns(equity: pd.Series) -> pd.Series:
    """Per-period simple returns ``E_t / E_{t-1} - 1`` (first observation dropped)."""
    e = equity.astype(float)
    return (e / e.shift(1) - 1.0).iloc[1:]


def total_return(equity: pd.Series) -> float:
    """``E_last / E_first - 1``."""
    if len(equity) == 0:
        return math.nan
    return float(equity.iloc[-1]) / float(equity.iloc[0]) - 1.0


def years_spanned(equity: pd.Series) -> float:
    """Calendar years between the first and last timestamp (365.25-day years)."""
    ts = index_ns(equity.index)
    if ts.size < 2:
        return 0.0
    return float(ts[-1] - ts[0]) / NS_PER_DAY / DAYS_PER_YEAR


def cagr(equity: pd.Series) -> float:
    """``(1 + total_return) ** (1 / years) - 1`` over calendar time; NaN for zero span."""
    years = years_spanned(equity)
    tr = total_return(equity)
    if years <= 0.0 or not math.isfinite(tr):
        return math.nan
    if tr <= -1.0:
        return -1.0
    return (1.0 + tr) ** (1.0 / years) - 1.0


def volatility(returns: pd.Series, ppy: float) -> float:
    """Annualised volatility ``std(r, ddof=1) * sqrt(ppy)``; NaN with fewer than 2 returns."""
    if len(returns) < 2:
        return math.nan
    return float(np.std(returns.to_numpy(float), ddof=1)) * math.sqrt(ppy)


def sharpe(returns: pd.Series, ppy: float, risk_free: float = 0.0) -> float:
    """``mean(r - rf/ppy) / std(r, ddof=1) * sqrt(ppy)``; NaN if std is 0 or < 2 returns."""
    if len(returns) < 2:
        return math.nan
    r = returns.to_numpy(float) - risk_free / ppy
    sd = float(np.std(r, ddof=1))
    if not sd > 1e-15 * max(1.0, abs(float(np.mean(r)))):
        return math.nan
    return float(np.mean(r)) / sd * math.sqrt(ppy)


def sortino(returns: pd.Series, ppy: float, risk_free: float = 0.0) -> float:
    """``mean(x) / sqrt(mean(min(x, 0)^2)) * sqrt(ppy)`` with ``x = r - rf/ppy``.

    The downside deviation averages over all periods (target 0). No downside: +inf if the
    mean excess return is positive, NaN otherwise.
    """
    if len(returns) < 1:
        return math.nan
    x = returns.to_numpy(float) - risk_free / ppy
    dd = math.sqrt(float(np.mean(np.minimum(x, 0.0) ** 2)))
    m = float(np.mean(x))
    if dd == 0.0:
        return math.inf if m > 0.0 else math.nan
    return m / dd * math.sqrt(ppy)


def drawdown(equity: pd.Series) -> pd.Series:
    """Drawdown series ``E_t / max_{s<=t} E_s - 1`` (0 at new highs, negative below)."""
    e = equity.astype(float)
    return e / e.cummax() - 1.0


def max_drawdown(equity: pd.Series) -> float:
    """Most negative drawdown (e.g. -0.25 for a 25% fall); 0 for a never-falling curve."""
    if len(equity) == 0:
        return math.nan
    return float(drawdown(equity).min())


def max_drawdown_duration(equity: pd.Series) -> int:
    """Longest time under water in ns: from a peak to the first time equity is back at or
    above it (or to the last timestamp if it never recovers). 0 if never under water.
    (A value at or above every earlier one is a peak; NaN values are under water.)"""
    e = equity.to_numpy(float)
    if e.size == 0:
        return 0
    ts = index_ns(equity.index).astype(np.int64)
    with np.errstate(invalid="ignore"):
        peak = e >= np.fmax.accumulate(e)  # at or above every earlier value
    # time of the latest peak at or before each point (0 before the first, as a start)
    at = np.maximum.accumulate(np.where(peak, np.arange(e.size), -1))
    peak_ts = np.where(at >= 0, ts[np.maximum(at, 0)], 0)
    ends = np.flatnonzero(peak[1:] & ~peak[:-1]) + 1  # back at a peak after time under water
    spans = ts[ends] - peak_ts[ends - 1]
    best = int(spans.max()) if spans.size else 0
    if not peak[-1]:  # still under water at the end
        best = max(best, int(ts[-1] - peak_ts[-1]))
    return best


def calmar(equity: pd.Series) -> float:
    """``CAGR / |max drawdown|``; NaN when there is no drawdown."""
    mdd = max_drawdown(equity)
    if not mdd < 0.0:
        return math.nan
    return cagr(equity) / abs(mdd)
