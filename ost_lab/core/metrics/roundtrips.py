"""Round trips: flat-to-flat trades rebuilt from fills, with MFE/MAE from bars.

Fills are matched FIFO per (symbol, tag). A round trip opens when the position leaves
flat and closes when it returns to flat. A fill that flips the position is split pro rata
(quantity and commission): the closing part ends the current trip, the rest opens the
next one at the same price. Trip totals (PnL, average prices) do not depend on the lot
matching order because every trip starts and ends flat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ost_lab.core.metrics.equity import index_ns

ROUND_TRIP_COLUMNS = [
    "symbol",
    "tag",
    "side",
    "qty",
    "entry_ts",
    "exit_ts",
    "entry_price",
    "exit_price",
    "pnl_gross",
    "commission",
    "pnl_net",
    "return",
    "duration_ns",
    "mfe",
    "mae",
    "n_fills",
]

_EPS = 1e-9  # relative tolerance for float residue in quantities


@dataclass(slots=True)
class _Open:
    """A round trip in progress."""

    sign: float
    entry_ts: int
    pos: float = 0.0
    in_qty: float = 0.0
    in_value: float = 0.0
    out_qty: float = 0.0
    out_value: float = 0.0
    commission: float = 0.0
    n_fills: int = 0
    fill_prices: list[float] = field(default_factory=list)


def _close(key: tuple[str, str], t: _Open, exit_ts: int) -> dict[str, object]:
    entry = t.in_value / t.in_qty
    exit_ = t.out_value / t.out_qty
    gross = t.sign * (t.out_value - t.in_value)
    net = gross - t.commission
    return {
        "symbol": key[0],
        "tag": key[1],
        "side": "long" if t.sign > 0 else "short",
        "qty": t.in_qty,
        "entry_ts": t.entry_ts,
        "exit_ts": exit_ts,
        "entry_price": entry,
        "exit_price": exit_,
        "pnl_gross": gross,
        "commission": t.commission,
        "pnl_net": net,
        "return": net / t.in_value if t.in_value != 0.0 else math.nan,
        "duration_ns": exit_ts - t.entry_ts,
        "_prices": t.fill_prices,
        "n_fills": t.n_fills,
    }


def _normalise_fills(fills: pd.DataFrame) -> pd.DataFrame:
    f = fills.copy()
    if "tag" not in f.columns:
        f["tag"] = ""
    if "commission" not in f.columns:
        f["commission"] = 0.0
    f["ts"] = index_ns(pd.Index(f["ts"]))
    f = f.reset_index(drop=True)
    f["_seq"] = np.arange(len(f))
    return f.sort_values(["ts", "_seq"], kind="stable")


def round_trips(fills: pd.DataFrame, bars: pd.DataFrame | None = None) -> pd.DataFrame:
    """Closed round trips, one row each, ordered by exit then entry time.

    ``fills``: columns ts (int64 ns UTC), symbol, qty (+buy/-sell), price, commission, tag.
    ``bars`` (optional): columns symbol, high, low, indexed by bar ts (int64 ns or UTC
    DatetimeIndex) or with a ``ts`` column; adds MFE/MAE, otherwise they use fill prices only.
    Positions still open at the end are not reported (see :func:`open_positions`).
    """
    rows: list[dict[str, object]] = []
    if len(fills):
        f = _normalise_fills(fills)
        cols = zip(
            f["ts"].tolist(),
            f["symbol"].astype(str).tolist(),
            f["tag"].astype(str).tolist(),
            f["qty"].astype(float).tolist(),
            f["price"].astype(float).tolist(),
            f["commission"].astype(float).tolist(),
            strict=True,
        )
        books: dict[tuple[str, str], _Open] = {}
        for ts, sym, tag, qty, price, comm in cols:
            key = (sym, tag)
            remaining = qty
            while abs(remaining) > _EPS * abs(qty):
                t = books.get(key)
                if t is None:
                    t = _Open(sign=1.0 if remaining > 0 else -1.0, entry_ts=ts)
                    books[key] = t
                t.n_fills += 1
                t.fill_prices.append(price)
                if remaining * t.sign > 0:  # adds to the position
                    part = remaining
                    t.in_qty += abs(part)
                    t.in_value += abs(part) * price
                else:  # reduces; may close and flip
                    part = -t.sign * min(abs(remaining), t.pos)
                    t.out_qty += abs(part)
                    t.out_value += abs(part) * price
                t.commission += comm * (part / qty)
                t.pos += part * t.sign
                remaining -= part
                if t.pos <= _EPS * t.in_qty:
                    rows.append(_close(key, t, ts))
                    del books[key]
    out = pd.DataFrame(rows, columns=[*ROUND_TRIP_COLUMNS, "_prices"])
    if len(out):
        out = out.sort_values(["exit_ts", "entry_ts"], kind="stable").reset_index(drop=True)
    _add_excursions(out, bars)
    out = out.drop(columns="_prices")
    for c in ("entry_ts", "exit_ts", "duration_ns", "n_fills"):
        out[c] = out[c].astype(np.int64)
    for c in ROUND_TRIP_COLUMNS:
        if c not in ("symbol", "tag", "side", "entry_ts", "exit_ts", "duration_ns", "n_fills"):
            out[c] = out[c].astype(float)
    return out


def _bars_by_symbol(bars: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    b = bars
    ts = index_ns(pd.Index(b["ts"])) if "ts" in b.columns else index_ns(b.index)
    frame = pd.DataFrame(
        {
            "ts": ts,
            "symbol": b["symbol"].astype(str).to_numpy(),
            "high": b["high"].to_numpy(float),
            "low": b["low"].to_numpy(float),
        }
    ).sort_values("ts", kind="stable")
    out = {}
    for sym, g in frame.groupby("symbol", sort=False):
        out[str(sym)] = (g["ts"].to_numpy(), g["high"].to_numpy(), g["low"].to_numpy())
    return out


def _add_excursions(trips: pd.DataFrame, bars: pd.DataFrame | None) -> None:
    """MFE/MAE in currency: best/worst price seen while open vs the average entry.

    Prices considered: the trip's own fill prices plus the high/low of every bar whose ts
    lies in [entry_ts, exit_ts]. Long: MFE = (max high - entry) * qty, MAE = (min low -
    entry) * qty; short mirrored. MFE >= 0 >= MAE by construction.
    """
    if len(trips) == 0:
        trips["mfe"] = pd.Series(dtype=float)
        trips["mae"] = pd.Series(dtype=float)
        return
    by_sym = _bars_by_symbol(bars) if bars is not None and len(bars) else {}
    mfe = np.empty(len(trips))
    mae = np.empty(len(trips))
    cols = zip(
        trips["_prices"].tolist(),
        trips["symbol"].astype(str).tolist(),
        trips["side"].tolist(),
        trips["entry_ts"].tolist(),
        trips["exit_ts"].tolist(),
        trips["entry_price"].astype(float).tolist(),
        trips["qty"].astype(float).tolist(),
        strict=True,
    )
    for i, (prices, sym, side, t0, t1, entry, qty) in enumerate(cols):
        hi = max(prices)
        lo = min(prices)
        data = by_sym.get(sym)
        if data is not None:
            bts, bh, bl = data
            a = int(np.searchsorted(bts, t0, side="left"))
            b = int(np.searchsorted(bts, t1, side="right"))
            if b > a:
                hi = max(hi, float(bh[a:b].max()))
                lo = min(lo, float(bl[a:b].min()))
        if side == "long":
            mfe[i] = max(hi - entry, 0.0) * qty
            mae[i] = min(lo - entry, 0.0) * qty
        else:
            mfe[i] = max(entry - lo, 0.0) * qty
            mae[i] = min(entry - hi, 0.0) * qty
    trips["mfe"] = mfe
    trips["mae"] = mae


def positions_over_time(fills: pd.DataFrame) -> pd.DataFrame:
    """Net position per symbol after each fill timestamp (rows: ts, columns: symbols)."""
    if len(fills) == 0:
        return pd.DataFrame(index=pd.Index([], dtype=np.int64, name="ts"))
    f = _normalise_fills(fills)
    pos = f.pivot_table(index="ts", columns="symbol", values="qty", aggfunc="sum").fillna(0.0)
    return pos.cumsum()


def open_positions(fills: pd.DataFrame) -> pd.Series:
    """Net quantity per (symbol, tag) left open after all fills (non-zero only)."""
    if len(fills) == 0:
        return pd.Series(dtype=float)
    f = _normalise_fills(fills)
    s = f.groupby(["symbol", "tag"])["qty"].sum()
    tol = _EPS * f["qty"].abs().max()
    return s[s.abs() > tol]
