"""The numba venue and the event-loop venue are one fill model: random bars and random order
scripts (every order type, TIFs, fraction sizing, cancels) give identical fills and equity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from replay_helpers import NAN, run_both, spec

from ost_lab.core import Commission
from ost_lab.replay.venue import CANCEL_ALL, QTY_FRACTION


def _random_bars(rng: np.random.Generator, n: int) -> pd.DataFrame:
    close = 100 + np.cumsum(rng.normal(0, 1, n)).round(2)
    opens = np.concatenate([[100.0], close[:-1] + rng.normal(0, 0.5, n - 1).round(2)])
    high = np.maximum(opens, close) + rng.uniform(0, 1, n).round(2)
    low = np.minimum(opens, close) - rng.uniform(0, 1, n).round(2)
    vol = rng.integers(50, 2000, n).astype(float)
    idx = pd.date_range("2024-01-01 23:00", periods=n, freq="min", tz="UTC")  # over midnight
    return pd.DataFrame(
        {"open": opens, "high": high, "low": low, "close": close, "volume": vol}, index=idx
    )


def _random_script(
    rng: np.random.Generator, df: pd.DataFrame, k: int, ts: np.ndarray | None = None
) -> list[list[float]]:
    """``k`` random orders on the bars (or ticks) of ``df``; ``ts``: their open times (ns),
    default ``df``'s index."""
    ts = df.index.as_unit("ns").asi8 if ts is None else ts
    out = []
    for _ in range(k):
        bar = int(rng.integers(0, len(df) - 1))
        c = float(df["close"].iloc[bar])
        side = int(rng.choice([-1, 1]))
        typ = int(rng.integers(0, 7))
        qty = float(rng.integers(1, 200))
        off = float(rng.uniform(0.2, 3.0)) * side
        tif = float(rng.choice([0, 0, 0, 1, 2, 3, 4]))  # GTC, IOC, FOK, DAY, GTD
        later = min(bar + int(rng.integers(1, 40)), len(df) - 1)
        expire = NAN
        if tif == 4:  # GTD: at a later bar's open, or halfway to the next bar
            half = (int(ts[min(later + 1, len(ts) - 1)]) - int(ts[later])) // 2
            expire = float(int(ts[later]) + int(rng.integers(0, 2)) * half)
        if typ == 1:
            out.append(spec(bar, side, qty, 1, limit=round(c - off, 2), tif=tif, expire_ts=expire))
        elif typ == 2:
            out.append(spec(bar, side, qty, 2, stop=round(c + off, 2), tif=tif, expire_ts=expire))
        elif typ == 3:
            stop = round(c + off, 2)
            out.append(spec(bar, side, qty, 3, limit=round(stop + side * 0.3, 2), stop=stop))
        elif typ == 4:
            out.append(spec(bar, side, qty, 4, stop=round(c - off, 2)))
        elif typ == 5:
            trig = round(c - off, 2)
            out.append(spec(bar, side, qty, 5, limit=round(trig + side * 0.2, 2), stop=trig))
        elif typ == 6:
            pct = float(rng.integers(0, 2))
            out.append(spec(bar, side, qty, 6, trail=1.0 if pct else 1.5, trail_pct=pct))
        elif rng.random() < 0.2:
            out.append(spec(bar, side, 0.3, 0, mode=QTY_FRACTION))
        else:
            out.append(spec(bar, side, qty, 0, tif=tif, expire_ts=expire))
        if rng.random() < 0.03:
            out.append(spec(bar, 0, 0, CANCEL_ALL))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_random_scripts_fill_identically(seed: int) -> None:
    rng = np.random.default_rng(seed)
    df = _random_bars(rng, 300)
    script = _random_script(rng, df, 120)
    kw: dict[str, object] = {
        "cash": 1e6,
        "commission": [0.0005, Commission(per_unit=0.01, minimum=1.0)][seed % 2],
        "slippage": [None, 2.0, ("half_spread", 0.02), ("sqrt_impact", 20.0)][seed % 4],
        "max_volume_fraction": [0.0, 0.2, 0.05][seed % 3],
        "fill_timing": ["next_open", "same_close"][seed % 2],
    }
    k, e = run_both(df, script, **kw)
    assert len(k.fills) > 20
    assert k.orders["status"].tolist() == e.orders["status"].tolist()
    np.testing.assert_allclose(k.orders["filled_qty"], e.orders["filled_qty"])
