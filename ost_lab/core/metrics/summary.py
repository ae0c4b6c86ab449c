"""One-call performance summary combining equity metrics and round-trip statistics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ost_lab.core.metrics.equity import (
    cagr,
    calmar,
    index_ns,
    max_drawdown,
    max_drawdown_duration,
    sharpe,
    simple_returns,
    sortino,
    total_return,
    volatility,
)
from ost_lab.core.metrics.equity import periods_per_year as infer_periods_per_year
from ost_lab.core.metrics.roundtrips import positions_over_time, round_trips


def exposure(equity: pd.Series, fills: pd.DataFrame | None) -> float:
    """Fraction of the equity curve's time span with any non-zero net position.

    Positions are netted per symbol (across tags) and change at fill timestamps; time is
    measured in ns between the first and last equity timestamp. NaN for a zero span.
    """
    ts = index_ns(equity.index)
    if ts.size < 2 or ts[-1] <= ts[0]:
        return math.nan
    t0, t1 = int(ts[0]), int(ts[-1])
    if fills is None or len(fills) == 0:
        return 0.0
    pos = positions_over_time(fills)
    in_mkt = (pos.abs() > 1e-9).any(axis=1).to_numpy()
    change = pos.index.to_numpy(np.int64)  # each position holds until the next change
    start = np.maximum(change, t0)
    end = np.minimum(np.append(change[1:], t1), t1)
    total = int(np.maximum(end - start, 0)[in_mkt].sum())
    return total / (t1 - t0)


def trade_stats(trips: pd.DataFrame) -> pd.Series:
    """Count, hit rate, average win/loss, payoff and profit factor from net trip PnL.

    Winners have pnl_net > 0, losers pnl_net < 0 (break-even trips count as trades but
    neither). Profit factor = gross wins / |gross losses|: inf with wins and no losses, NaN
    with no trades or nothing won or lost.
    """
    pnl = trips["pnl_net"].to_numpy(float) if len(trips) else np.zeros(0)
    wins = pnl[pnl > 0]
    losses = pnl[pnl < 0]
    n = int(pnl.size)
    avg_win = float(wins.mean()) if wins.size else math.nan
    avg_loss = float(losses.mean()) if losses.size else math.nan
    won = float(wins.sum())
    lost = float(-losses.sum())
    if lost > 0:
        pf = won / lost
    elif won > 0:
        pf = math.inf
    else:
        pf = math.nan
    if wins.size and losses.size:
        payoff = avg_win / abs(avg_loss)
    elif wins.size:
        payoff = math.inf
    else:
        payoff = math.nan
    return pd.Series(
        {
            "n_trades": n,
            "hit_rate": wins.size / n if n else math.nan,
            "avg_win": avg_win,
            "avg_loss": avg_loss,
            "payoff": payoff,
            "profit_factor": pf,
        },
        dtype=object,
    )


def performance(
    equity: pd.Series,
    fills: pd.DataFrame | None = None,
    *,
    periods_per_year: float | None = None,
    risk_free: float = 0.0,
) -> pd.Series:
    """All headline metrics as a ``pd.Series`` (see docs/analytics.md for formulas).

    ``periods_per_year`` overrides the inferred annualisation factor; ``risk_free`` is an
    annual rate, converted per period by ``rf / ppy``.
    """
    if periods_per_year is not None:
        ppy = float(periods_per_year)
    elif len(equity) >= 2:
        ppy = infer_periods_per_year(equity.index)
    else:
        ppy = math.nan
    r = simple_returns(equity)
    f = fills if fills is not None else pd.DataFrame(columns=["ts", "symbol", "qty", "price"])
    trips = round_trips(f)
    stats = trade_stats(trips)
    e = equity.to_numpy(float)
    pnl = float(e[-1] - e[0]) if e.size else math.nan
    fees = float(f["commission"].sum()) if "commission" in f.columns and len(f) else 0.0
    gross = pnl + fees
    notional = float((f["qty"].abs() * f["price"]).sum()) if len(f) else 0.0
    mean_eq = float(np.mean(e)) if e.size else math.nan
    out = {
        "start_ns": int(index_ns(equity.index)[0]) if e.size else -1,
        "end_ns": int(index_ns(equity.index)[-1]) if e.size else -1,
        "periods_per_year": ppy,
        "total_return": total_return(equity),
        "cagr": cagr(equity),
        "volatility": volatility(r, ppy),
        "sharpe": sharpe(r, ppy, risk_free),
        "sortino": sortino(r, ppy, risk_free),
        "calmar": calmar(equity),
        "max_drawdown": max_drawdown(equity),
        "max_drawdown_duration": pd.Timedelta(max_drawdown_duration(equity), unit="ns")
        if e.size
        else pd.NaT,
        "exposure": exposure(equity, fills),
        "n_fills": len(f),
        **stats.to_dict(),
        "pnl": pnl,
        "fees": fees,
        "fees_pct_pnl": fees / abs(gross) if gross != 0.0 else math.nan,
        "turnover": notional / mean_eq if mean_eq else math.nan,
    }
    return pd.Series(out, dtype=object, name="performance")
