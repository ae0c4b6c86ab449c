"""Shared test helpers: hand-made bars and a scripted kernel that replays a list of orders."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ost_lab.replay import Backtest, BacktestResult, order
from ost_lab.replay._numba import jit

NAN = math.nan
ROW = 10  # bar, side, qty, type, limit, stop, mode, trail, trail_pct, tif


def bars(rows: Sequence[tuple[float, float, float, float, float]]) -> pd.DataFrame:
    """Daily OHLCV bars from (open, high, low, close, volume) rows."""
    idx = pd.date_range("2024-01-01", periods=len(rows), freq="D", tz="UTC")
    return pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"], index=idx)


@jit
def script(i, o, h, lo, c, v, acct, state, params, out):  # type: ignore[no-untyped-def]
    """Emit the scripted orders whose bar is ``i`` (rows of ``ROW`` params)."""
    n = 0
    for r in range(params.size // 11):
        p = params[r * 11 : r * 11 + 11]
        if p[0] == i:
            n = order(out, n, p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10])
    return n


def spec(
    bar: int,
    side: int,
    qty: float,
    typ: int = 0,
    limit: float = NAN,
    stop: float = NAN,
    mode: float = 0.0,
    trail: float = NAN,
    trail_pct: float = 0.0,
    tif: float = 0.0,
    expire_ts: float = NAN,
) -> list[float]:
    """One scripted order."""
    return [bar, side, qty, typ, limit, stop, mode, trail, trail_pct, tif, expire_ts]


def run_both(
    df: pd.DataFrame, orders: Sequence[list[float]], **kw: Any
) -> tuple[BacktestResult, BacktestResult]:
    """Run the script on the numba venue and in core's event loop; assert identical fills."""
    params = np.array([x for o in orders for x in o], dtype=np.float64)
    k = Backtest(df, script, **kw).run(params=params)
    e = Backtest(df, script, engine="event", **kw).run(params=params)
    cols = ["ts", "qty", "price", "commission"]
    pd.testing.assert_frame_equal(k.fills[cols], e.fills[cols], check_exact=True)
    pd.testing.assert_series_equal(k.equity, e.equity, check_exact=True)
    return k, e
