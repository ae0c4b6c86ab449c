"""Input data: pandas OHLCV frames, dicts of them, or secmaster ``Bars`` / ``MultiBars``.

Everything becomes :class:`BarData`: per symbol, contiguous float64 columns plus ``ts_open``
(bar start, Databento's convention: the index of a frame) and ``ts_close`` (when the bar is
known: the bar's last nanosecond, start + interval - 1, and before the next bar's start). So a
fill stamped at a bar's close (intrabar or same-close) is always before a fill at the next
bar's open, and every timestamp belongs to exactly one bar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ost_lab.core.array_feed import ArrayFeed
from ost_lab.core.events import Bar, Tick

__all__ = ["BarData", "SymbolBars", "merge_quotes", "ticks_data", "to_bar_data"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
_TF = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class SymbolBars:
    """One symbol's bars as contiguous arrays."""

    symbol: str
    ts_open: I64
    ts_close: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64

    def __len__(self) -> int:
        return int(self.ts_open.shape[0])

    def frame(self) -> pd.DataFrame:
        """OHLCV indexed by the bar start (UTC)."""
        idx = pd.DatetimeIndex(pd.to_datetime(self.ts_open, utc=True), name="ts")
        return pd.DataFrame(
            {
                "open": self.open,
                "high": self.high,
                "low": self.low,
                "close": self.close,
                "volume": self.volume,
            },
            index=idx,
        )


@dataclass(frozen=True)
class BarData:
    """Bars of one or more symbols; ``ticks=True`` when each row is a trade (or quote) tick,
    stored as a one-price bar (open = high = low = close = price, volume = size) with optional
    ``bid``/``ask`` per symbol."""

    symbols: dict[str, SymbolBars]
    ticks: bool = False
    quotes: dict[str, tuple[F64, F64]] | None = None

    @property
    def n_bars(self) -> int:
        """Total bars over all symbols."""
        return sum(len(b) for b in self.symbols.values())

    def events(self) -> list[Bar] | list[Tick]:
        """Core ``Bar`` (or ``Tick``) events in (close ts, symbol order) order."""
        if self.ticks:
            return self._tick_events()
        return list(self.feed())

    def feed(self) -> ArrayFeed:
        """The bars as core's :class:`~ost_lab.core.array_feed.ArrayFeed` (validated once;
        the engine replays it over the columns, the same events as :meth:`events`)."""
        if self.ticks:
            raise ValueError("tick data replays as Tick events: use events()")
        return ArrayFeed(list(self.symbols.values()))

    def _tick_events(self) -> list[Tick]:
        out: list[tuple[int, int, int, Tick]] = []
        for j, b in enumerate(self.symbols.values()):
            q = (self.quotes or {}).get(b.symbol)
            bid = q[0].tolist() if q else [math.nan] * len(b)
            ask = q[1].tolist() if q else [math.nan] * len(b)
            rows = zip(
                b.ts_open.tolist(), b.close.tolist(), b.volume.tolist(), bid, ask, strict=True
            )
            for k, (t, p, v, bd, ak) in enumerate(rows):
                out.append((t, j, k, Tick(b.symbol, t, p, v, bd, ak)))
        if len(self.symbols) > 1:
            out.sort(key=lambda x: (x[0], x[1], x[2]))
        return [x[3] for x in out]


def ticks_data(ticks: Mapping[str, Any], symbol: str) -> BarData:
    """Secmaster ``trades()``/``quotes()`` columns (``ts_event`` and ``price`` + ``size``, or
    ``bid_px``/``ask_px``) as one-price bars. A quote's bar is at the mid (what a kernel sees);
    both venues fill quotes at the touch (ask for buys, bid for sells, from ``quotes``), as
    core matches ticks, and at the mid when that side is missing."""
    ts = np.ascontiguousarray(ticks["ts_event"], dtype=np.int64)
    if ts.shape[0] > 1 and np.any(np.diff(ts) < 0):
        raise ValueError(f"{symbol}: tick timestamps must not go backwards")
    quotes = None
    if "price" in ticks:
        px = np.asarray(ticks["price"], dtype=np.float64)
        size = np.asarray(ticks.get("size", np.zeros(ts.shape[0])), dtype=np.float64)
        if "bid_px" in ticks:  # trades carrying the touch (merge_quotes): fills at the touch
            bid = np.ascontiguousarray(ticks["bid_px"], dtype=np.float64)
            ask = np.ascontiguousarray(ticks["ask_px"], dtype=np.float64)
            quotes = {symbol: (bid, ask)}
    else:
        bid = np.asarray(ticks["bid_px"], dtype=np.float64)
        ask = np.asarray(ticks["ask_px"], dtype=np.float64)
        px = (bid + ask) / 2.0
        size = np.zeros(ts.shape[0])
        quotes = {symbol: (bid, ask)}
    px = np.ascontiguousarray(px)
    b = SymbolBars(symbol, ts, ts.copy(), px, px, px, px, np.ascontiguousarray(size))
    return BarData({symbol: b}, ticks=True, quotes=quotes)


def merge_quotes(
    trades: Mapping[str, Any], quotes: Mapping[str, Any], *, quote_events: bool = False
) -> dict[str, Any]:
    """Secmaster ``trades()`` columns with the touch prevailing at each trade: ``bid_px`` /
    ``ask_px`` of the last quote at or before the trade's ``ts_event`` (nan before the first
    quote). Replayed (``Backtest(merge_quotes(t, q), ...)``) it is a trade stream whose orders
    fill at that touch in both venues (ask for buys, bid for sells; the trade price when a side
    is missing), while strategies see the trade prices.

    ``quote_events=True`` also makes every quote an event of its own, between the trades: a
    row with ``size`` 0 and ``price`` at the mid (the side present when one is missing; quotes
    with neither side are dropped), ahead of a trade with the same ``ts_event``. Orders then
    also fill when the touch moves between trades (a resting buy limit fills at the first ask
    at or below it). Under a volume cap (``max_volume_fraction``) quotes offer no liquidity.
    """
    ts = np.asarray(trades["ts_event"], dtype=np.int64)
    qts = np.asarray(quotes["ts_event"], dtype=np.int64)
    if qts.shape[0] > 1 and np.any(np.diff(qts) < 0):
        raise ValueError("quote timestamps must not go backwards")
    if ts.shape[0] > 1 and np.any(np.diff(ts) < 0):
        raise ValueError("trade timestamps must not go backwards")
    k = np.searchsorted(qts, ts, side="right") - 1
    seen = k >= 0
    out = {c: np.asarray(trades[c]) for c in ("ts_event", "price", "size") if c in trades}
    qcols = {c: np.asarray(quotes[c], dtype=np.float64) for c in ("bid_px", "ask_px")}
    for c, q in qcols.items():
        out[c] = np.where(seen, q[np.maximum(k, 0)] if q.shape[0] else np.nan, np.nan)
    if not quote_events:
        return out
    bid, ask = qcols["bid_px"], qcols["ask_px"]
    keep = ~(np.isnan(bid) & np.isnan(ask))
    bid, ask = bid[keep], ask[keep]
    mid = np.where(np.isnan(bid), ask, np.where(np.isnan(ask), bid, (bid + ask) / 2.0))
    n_q = int(keep.sum())
    size = np.asarray(out["size"], dtype=np.float64) if "size" in out else np.zeros(ts.shape[0])
    rows = {
        "ts_event": np.concatenate([qts[keep], ts]),
        "price": np.concatenate([mid, np.asarray(out["price"], dtype=np.float64)]),
        "size": np.concatenate([np.zeros(n_q), size]),
        "bid_px": np.concatenate([bid, out["bid_px"]]),
        "ask_px": np.concatenate([ask, out["ask_px"]]),
    }
    is_trade = np.concatenate([np.zeros(n_q, dtype=np.int8), np.ones(ts.shape[0], dtype=np.int8)])
    order = np.lexsort((is_trade, rows["ts_event"]))  # by time, quotes first; stable otherwise
    return {c: v[order] for c, v in rows.items()}


def _interval(ts: I64, timeframe: str | None) -> int:
    if timeframe and timeframe[-1] in _TF and timeframe[:-1].isdigit():
        return int(timeframe[:-1]) * _TF[timeframe[-1]] * 1_000_000_000
    if ts.shape[0] < 2:
        return 0
    return int(np.median(np.diff(ts)))


def _symbol_bars(
    symbol: str, ts: I64, cols: Mapping[str, Any], timeframe: str | None
) -> SymbolBars:
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    if ts.shape[0] > 1 and np.any(np.diff(ts) <= 0):
        raise ValueError(f"{symbol}: bar timestamps must be strictly increasing")
    step = _interval(ts, timeframe)
    ts_close = ts + max(step - 1, 0)
    if ts.shape[0] > 1:
        ts_close[:-1] = np.minimum(ts_close[:-1], ts[1:] - 1)

    def f(name: str) -> F64:
        return np.ascontiguousarray(np.asarray(cols[name], dtype=np.float64))

    vol = f("volume") if "volume" in cols else np.zeros(ts.shape[0])
    return SymbolBars(symbol, ts, ts_close, f("open"), f("high"), f("low"), f("close"), vol)


def _frame_bars(symbol: str, df: pd.DataFrame) -> SymbolBars:
    if not isinstance(df.index, pd.DatetimeIndex):
        raise TypeError("bars need a DatetimeIndex (tz-aware; naive means UTC)")
    idx = df.index if df.index.tz is not None else df.index.tz_localize("UTC")
    cols = {c.lower(): df[c].to_numpy() for c in df.columns}
    return _symbol_bars(symbol, idx.tz_convert("UTC").as_unit("ns").asi8, cols, None)


def to_bar_data(data: Any, symbol: str = "ASSET") -> BarData:
    """Accept a DataFrame (``symbol`` names it), a dict symbol -> DataFrame, a secmaster
    ``Bars`` or ``MultiBars``, secmaster tick columns (``trades()``/``quotes()``, named by
    ``symbol``), or a :class:`BarData`."""
    if isinstance(data, BarData):
        return data
    if isinstance(data, pd.DataFrame):
        return BarData({symbol: _frame_bars(symbol, data)})
    if isinstance(data, Mapping) and "ts_event" in data:
        return ticks_data(data, symbol)
    if isinstance(data, Mapping):
        return BarData({str(k): _frame_bars(str(k), v) for k, v in data.items()})
    names = getattr(data, "symbols", None)
    if isinstance(names, list):  # secmaster MultiBars
        return BarData({s: _secmaster_bars(data[s]) for s in names})
    if hasattr(data, "ts") and hasattr(data, "close") and hasattr(data, "symbol"):
        return BarData({str(data.symbol): _secmaster_bars(data)})
    raise TypeError(f"unsupported bar data: {type(data).__name__}")


def _secmaster_bars(b: Any) -> SymbolBars:
    scale = 1e-9 if getattr(b, "exact", False) else 1.0
    cols = {k: np.asarray(getattr(b, k), dtype=np.float64) * (scale if k != "volume" else 1.0)
            for k in ("open", "high", "low", "close", "volume")}  # fmt: skip
    return _symbol_bars(str(b.symbol), np.asarray(b.ts), cols, getattr(b, "timeframe", None))
