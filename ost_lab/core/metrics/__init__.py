"""Performance metrics from an equity curve and fills, and round trips with MFE/MAE.

Results are pandas objects; formulas and conventions are in ``docs/analytics.md``.
"""

from ost_lab.core.metrics.equity import (
    cagr,
    calmar,
    drawdown,
    index_ns,
    max_drawdown,
    max_drawdown_duration,
    periods_per_year,
    sharpe,
    simple_returns,
    sortino,
    total_return,
    volatility,
    years_spanned,
)
from ost_lab.core.metrics.roundtrips import (
    ROUND_TRIP_COLUMNS,
    open_positions,
    positions_over_time,
    round_trips,
)
from ost_lab.core.metrics.summary import exposure, performance, trade_stats

__all__ = [
    "ROUND_TRIP_COLUMNS",
    "cagr",
    "calmar",
    "drawdown",
    "exposure",
    "index_ns",
    "max_drawdown",
    "max_drawdown_duration",
    "open_positions",
    "performance",
    "periods_per_year",
    "positions_over_time",
    "round_trips",
    "sharpe",
    "simple_returns",
    "sortino",
    "total_return",
    "trade_stats",
    "volatility",
    "years_spanned",
]
