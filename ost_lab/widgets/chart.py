"""The backtest chart: candles (line when zoomed out) + volume, indicator overlays, entry/exit
markers with hover, equity and drawdown panes on one linked time axis.

The chart keeps the full history in numpy and sends Bokeh only what the visible range needs:
on every x-range change (with :func:`chart_widget`, range changes come back to the kernel as
widget messages) it re-slices and decimates (:mod:`.decimate`), so a million bars stay
responsive and a zoomed-in view shows every bar. ``stream_*`` appends bars, fills and equity
incrementally (for live views); calls from other threads are buffered and applied on the
kernel's loop (:mod:`.threading`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from bokeh.layouts import column
from bokeh.models import (
    ColumnDataSource,
    CrosshairTool,
    DatetimeTickFormatter,
    HoverTool,
    NumeralTickFormatter,
    Range1d,
)
from bokeh.models.layouts import Column
from bokeh.plotting import figure

from ost_lab.widgets.decimate import decimate_line, decimate_ohlcv, visible_slice
from ost_lab.widgets.threading import Marshal

__all__ = ["BacktestChart", "chart_widget", "plot_result"]

F64 = npt.NDArray[np.float64]
_PALETTE = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_UP, _DOWN = "#26a69a", "#ef5350"


def _ms(ts_ns: Any) -> F64:
    """ns timestamps (ints, DatetimeIndex or datetime64) -> float ms, Bokeh's datetime unit."""
    if isinstance(ts_ns, pd.DatetimeIndex):
        ts_ns = ts_ns.as_unit("ns").asi8
    a = np.asarray(ts_ns)
    if np.issubdtype(a.dtype, np.datetime64):
        a = a.astype("datetime64[ns]").astype(np.int64)
    return a.astype(np.float64) / 1e6


class _Columns:
    """Growable float64 columns (amortised O(1) append), for streamed history."""

    def __init__(self, names: tuple[str, ...], data: Mapping[str, Any] | None = None) -> None:
        self.names = names
        cols = {k: np.asarray((data or {}).get(k, ()), dtype=np.float64) for k in names}
        self.n = len(cols[names[0]])
        cap = max(self.n, 64)
        self._a = {k: np.resize(v, cap) if self.n else np.empty(cap) for k, v in cols.items()}

    def append(self, rows: Mapping[str, F64]) -> None:
        m = len(rows[self.names[0]])
        if self.n + m > len(self._a[self.names[0]]):
            cap = max(2 * (self.n + m), 64)
            for k in self.names:
                b = np.empty(cap)
                b[: self.n] = self._a[k][: self.n]
                self._a[k] = b
        for k in self.names:
            self._a[k][self.n : self.n + m] = rows[k]
        self.n += m

    def __getitem__(self, name: str) -> F64:
        return self._a[name][: self.n]


class BacktestChart:
    """A Bokeh layout over bars, fills and equity that re-decimates itself for its view.

    ``max_points``: most bars (or line points) sent per view; ``candle_limit``: candles are
    drawn when the view holds at most that many bars/buckets, a close line otherwise.
    ``indicators``: name -> values aligned with the bars, drawn over the price.
    """

    def __init__(
        self,
        ts: Any = (),
        open: Any = (),
        high: Any = (),
        low: Any = (),
        close: Any = (),
        volume: Any = (),
        *,
        fills: pd.DataFrame | None = None,
        equity: pd.Series | None = None,
        indicators: Mapping[str, Any] | None = None,
        title: str = "",
        max_points: int = 2000,
        candle_limit: int = 300,
        height: int = 520,
        marshal: Marshal | None = None,
    ) -> None:
        self.max_points = int(max_points)
        self.candle_limit = int(candle_limit)
        self.marshal = marshal or Marshal()
        self._lock = threading.Lock()
        self._pending: list[tuple[str, Any]] = []
        self._flush_scheduled = False
        self.indicator_names = tuple(indicators or ())
        names = ("x", "open", "high", "low", "close", "volume", *self.indicator_names)
        bars = {"x": _ms(ts), "open": open, "high": high, "low": low, "close": close}
        bars["volume"] = volume
        bars.update(dict(indicators or {}))
        self.bars = _Columns(names, bars)
        self.fills = _Columns(("x", "price", "qty", "commission", "entry"))
        self.equity = _Columns(("x", "equity", "drawdown"))
        self._peak = -np.inf
        self._pos = 0.0
        self.mode = "line"
        self._build(title, height)
        if fills is not None and len(fills):
            self._append_fills(fills)
        if equity is not None and len(equity):
            self._append_equity(equity.index, equity.to_numpy())
        self._fit_range()
        self.refresh()

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_result(
        cls,
        result: Any,
        symbol: str | None = None,
        *,
        indicators: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> BacktestChart:
        """The chart of a ``BacktestResult`` (one symbol: the first by default)."""
        sym = symbol or next(iter(result.data.symbols))
        b = result.data.symbols[sym]
        fills = result.fills[result.fills["symbol"] == sym]
        return cls(
            b.ts_open, b.open, b.high, b.low, b.close, b.volume,
            fills=fills, equity=result.equity, indicators=indicators,
            title=kwargs.pop("title", sym), **kwargs,
        )  # fmt: skip

    def _build(self, title: str, height: int) -> None:
        tools = "xpan,xwheel_zoom,box_zoom,reset,save"
        self.x_range = Range1d(start=0, end=1)
        self.bar_source = ColumnDataSource(self._empty_bars())
        self.buy_source = ColumnDataSource(self._empty_fills())
        self.sell_source = ColumnDataSource(self._empty_fills())
        self.equity_source = ColumnDataSource({"x": [], "equity": [], "drawdown": []})
        price = figure(
            x_axis_type="datetime", x_range=self.x_range, height=int(height * 0.5),
            sizing_mode="stretch_width", title=title, tools=tools,
            active_scroll="xwheel_zoom",
        )  # fmt: skip
        s = self.bar_source
        self.wick = price.segment("x", "high", "x", "low", source=s, color="color")
        self.body = price.vbar("x", "w", "top", "bottom", source=s, fill_color="color",
                               line_color="color")  # fmt: skip
        self.line = price.line("x", "close", source=s, color="#555555", legend_label="close")
        for i, name in enumerate(self.indicator_names):
            price.line("x", name, source=s, color=_PALETTE[i % len(_PALETTE)],
                       legend_label=name, line_width=1.5)  # fmt: skip
        hover_f = [("time", "@x{%F %T}"), ("price", "@price{0,0.00}"), ("qty", "@qty"),
                   ("fee", "@commission{0.00}"), ("", "@kind")]  # fmt: skip
        self.buys = price.scatter("x", "price", source=self.buy_source, marker="triangle",
                                  size=11, color="#2e7d32", legend_label="buy")  # fmt: skip
        self.sells = price.scatter("x", "price", source=self.sell_source,
                                   marker="inverted_triangle", size=11, color="#c62828",
                                   legend_label="sell")  # fmt: skip
        price.add_tools(HoverTool(renderers=[self.buys, self.sells], tooltips=hover_f,
                                  formatters={"@x": "datetime"}))  # fmt: skip
        price.add_tools(HoverTool(renderers=[self.body], tooltips=[
            ("time", "@x{%F %T}"), ("o", "@open"), ("h", "@high"), ("l", "@low"),
            ("c", "@close"), ("v", "@volume{0,0}"), ("bars", "@count")],
            formatters={"@x": "datetime"}))  # fmt: skip
        price.legend.location = "top_left"
        price.legend.click_policy = "hide"
        vol = figure(x_axis_type="datetime", x_range=self.x_range, height=int(height * 0.14),
                     sizing_mode="stretch_width", tools=tools)  # fmt: skip
        vol.vbar("x", "w", "volume", 0, source=s, color="color", alpha=0.6)
        vol.yaxis.formatter = NumeralTickFormatter(format="0a")
        eq = figure(x_axis_type="datetime", x_range=self.x_range, height=int(height * 0.2),
                    sizing_mode="stretch_width", tools=tools, title="equity")  # fmt: skip
        eq.line("x", "equity", source=self.equity_source, color="navy")
        eq.yaxis.formatter = NumeralTickFormatter(format="0,0")
        dd = figure(x_axis_type="datetime", x_range=self.x_range, height=int(height * 0.16),
                    sizing_mode="stretch_width", tools=tools, title="drawdown")  # fmt: skip
        dd.varea("x", "drawdown", 0, source=self.equity_source, color="#c62828", alpha=0.4)
        dd.yaxis.formatter = NumeralTickFormatter(format="0.0%")
        cross = CrosshairTool(dimensions="height")
        fmt = DatetimeTickFormatter(hours="%m-%d %H:%M", minutes="%H:%M", days="%Y-%m-%d")
        for f in (price, vol, eq, dd):
            f.add_tools(cross)
            f.xaxis.formatter = fmt
            f.min_border_left = 70
        self.figures = (price, vol, eq, dd)
        self.layout: Column = column(*self.figures, sizing_mode="stretch_width")
        self.x_range.on_change("start", self._on_range)
        self.x_range.on_change("end", self._on_range)

    def _empty_bars(self) -> dict[str, list[Any]]:
        keys = ("x", "open", "high", "low", "close", "volume", "top", "bottom", "w", "count")
        return {k: [] for k in (*keys, "color", *self.indicator_names)}

    @staticmethod
    def _empty_fills() -> dict[str, list[Any]]:
        return {k: [] for k in ("x", "price", "qty", "commission", "kind")}

    # ---------------------------------------------------------------- view
    def _fit_range(self) -> None:
        xs = [a["x"] for a in (self.bars, self.equity, self.fills) if a.n]
        if not xs:
            return
        lo = min(float(a[0]) for a in xs)
        hi = max(float(a[-1]) for a in xs)
        if hi <= lo:
            hi = lo + 60_000.0
        self._set_bounds(lo, hi)
        self._muted = True
        try:
            self.x_range.update(start=lo, end=hi)
        finally:
            self._muted = False

    def _set_bounds(self, lo: float, hi: float) -> None:
        pad = (hi - lo) * 0.02
        self.x_range.bounds = (lo - pad, hi + pad)

    _muted = False

    def _on_range(self, attr: str, old: Any, new: Any) -> None:
        if not self._muted:
            self.refresh()

    def set_range(self, start: Any, end: Any) -> None:
        """Show ``[start, end]`` (ns ints, timestamps, or ms floats) as a user zoom would."""
        lo, hi = (float(_ms(pd.DatetimeIndex([t]))[0]) if not isinstance(t, float) else t
                  for t in (start, end))  # fmt: skip
        self._muted = True
        try:
            self.x_range.update(start=lo, end=hi)
        finally:
            self._muted = False
        self.refresh()

    def view(self) -> tuple[float, float]:
        """The visible x range (ms)."""
        return float(self.x_range.start), float(self.x_range.end)  # type: ignore[arg-type]

    def refresh(self) -> None:
        """Re-slice and decimate everything for the current view and replace the sources."""
        lo, hi = self.view()
        b = self.bars
        sl = visible_slice(b["x"], lo, hi, pad=0.5)
        d = decimate_ohlcv(b["x"][sl], b["open"][sl], b["high"][sl], b["low"][sl],
                           b["close"][sl], b["volume"][sl], self.max_points)  # fmt: skip
        last = np.cumsum(d.count) - 1 + (sl.start or 0)
        data: dict[str, Any] = {
            "x": d.x, "open": d.open, "high": d.high, "low": d.low, "close": d.close,
            "volume": d.volume, "top": np.maximum(d.open, d.close),
            "bottom": np.minimum(d.open, d.close), "w": self._widths(d.x), "count": d.count,
            "color": np.where(d.close >= d.open, _UP, _DOWN),
        }  # fmt: skip
        for name in self.indicator_names:
            data[name] = b[name][last] if len(last) else np.empty(0)
        self.bar_source.data = data
        in_view = int(np.count_nonzero((d.x >= lo) & (d.x <= hi)))
        self._set_mode("candle" if in_view <= self.candle_limit else "line")
        self._refresh_fills(lo, hi)
        e = self.equity
        es = visible_slice(e["x"], lo, hi, pad=0.5)
        ex, ey = decimate_line(e["x"][es], e["equity"][es], self.max_points)
        _, dy = decimate_line(e["x"][es], e["drawdown"][es], self.max_points)
        if len(dy) != len(ey):  # different extremes: resample drawdown at the equity points
            dy = np.interp(ex, e["x"][es], e["drawdown"][es])
        self.equity_source.data = {"x": ex, "equity": ey, "drawdown": dy}

    def _widths(self, x: F64) -> F64:
        if len(x) < 2:
            return np.full(len(x), 60_000.0 * 0.8)
        dx = np.diff(x)
        med = float(np.median(dx))
        return np.minimum(np.append(dx, med), med) * 0.8  # a session gap is not a wide bar

    def _set_mode(self, mode: str) -> None:
        self.mode = mode
        candles = mode == "candle"
        self.wick.visible = candles
        self.body.visible = candles
        self.line.visible = not candles

    def _refresh_fills(self, lo: float, hi: float) -> None:
        f = self.fills
        sl = visible_slice(f["x"], lo, hi, pad=0.5)
        idx = np.arange(sl.start or 0, sl.stop or 0)
        if len(idx) > self.max_points:  # thin markers evenly, keep first/last
            idx = idx[np.linspace(0, len(idx) - 1, self.max_points).astype(np.int64)]
        qty = f["qty"][idx]
        for source, mask in ((self.buy_source, qty > 0), (self.sell_source, qty < 0)):
            j = idx[mask]
            source.data = {
                "x": f["x"][j], "price": f["price"][j], "qty": f["qty"][j],
                "commission": f["commission"][j],
                "kind": np.where(f["entry"][j] > 0, "entry", "exit").astype(object),
            }  # fmt: skip

    # ---------------------------------------------------------------- streaming
    def _append_fills(self, fills: pd.DataFrame) -> None:
        qty = fills["qty"].to_numpy(dtype=np.float64)
        before = self._pos + np.concatenate([[0.0], np.cumsum(qty)[:-1]])
        after = before + qty
        self._pos = float(after[-1]) if len(after) else self._pos
        entry = (np.abs(after) > np.abs(before)).astype(np.float64)
        comm = fills["commission"].to_numpy(dtype=np.float64) if "commission" in fills else 0
        self.fills.append({
            "x": _ms(fills["ts"].to_numpy()), "price": fills["price"].to_numpy(np.float64),
            "qty": qty, "commission": np.zeros(len(qty)) + comm, "entry": entry,
        })  # fmt: skip

    def _append_equity(self, ts: Any, values: Any) -> None:
        v = np.asarray(values, dtype=np.float64)
        peak = np.maximum.accumulate(np.maximum(v, self._peak)) if len(v) else v
        self._peak = float(peak[-1]) if len(v) else self._peak
        with np.errstate(divide="ignore", invalid="ignore"):
            dd = np.where(peak > 0, v / peak - 1.0, 0.0)
        self.equity.append({"x": _ms(ts), "equity": v, "drawdown": dd})

    def _append_bars(self, rows: Mapping[str, Any]) -> None:
        data = {k: np.asarray(rows.get(k, np.nan), dtype=np.float64) for k in self.bars.names}
        data["x"] = _ms(rows["ts"])
        n = len(data["x"])
        self.bars.append({k: np.broadcast_to(v, (n,)) for k, v in data.items()})

    def stream_bars(self, ts: Any, open: Any, high: Any, low: Any, close: Any, volume: Any,
                    **indicators: Any) -> None:  # fmt: skip
        """Append new bars (ns times). Safe from any thread."""
        self._enqueue("bars", dict(ts=ts, open=open, high=high, low=low, close=close,
                                   volume=volume, **indicators))  # fmt: skip

    def stream_fills(self, fills: pd.DataFrame) -> None:
        """Append fills (core ``FILLS_COLUMNS``). Safe from any thread."""
        self._enqueue("fills", fills.copy())

    def stream_equity(self, ts: Any, equity: Any) -> None:
        """Append equity points (ns times). Safe from any thread."""
        self._enqueue("equity", (np.atleast_1d(ts), np.atleast_1d(equity)))

    def _enqueue(self, kind: str, payload: Any) -> None:
        with self._lock:
            self._pending.append((kind, payload))
            if self._flush_scheduled:
                return
            self._flush_scheduled = True
        self.marshal(self.flush)

    def flush(self) -> None:
        """Apply buffered stream updates (on the kernel's thread). A view that showed the end
        follows the tail: it grows if it showed everything, else slides."""
        with self._lock:
            todo, self._pending, self._flush_scheduled = self._pending, [], False
        if not todo:
            return
        lo, hi = self.view()
        tails = [float(a["x"][-1]) for a in (self.bars, self.equity) if a.n]
        following = not tails or hi >= max(tails)
        heads = [float(a["x"][0]) for a in (self.bars, self.equity) if a.n]
        showing_all = not heads or lo <= min(heads)
        for kind, payload in todo:
            if kind == "bars":
                self._append_bars(payload)
            elif kind == "fills":
                self._append_fills(payload)
            else:
                self._append_equity(*payload)
        if following:
            xs = [float(a["x"][-1]) for a in (self.bars, self.equity) if a.n]
            first = [float(a["x"][0]) for a in (self.bars, self.equity) if a.n]
            new_hi = max(xs)
            new_lo = min(first) if showing_all else new_hi - (hi - lo)
            self._set_bounds(min(first), new_hi)
            self._muted = True
            try:
                self.x_range.update(start=new_lo, end=max(new_hi, new_lo + 1.0))
            finally:
                self._muted = False
        self.refresh()


def chart_widget(chart: BacktestChart | Any) -> Any:
    """Wrap a chart (or any Bokeh layout) as an ipywidget (``jupyter_bokeh.BokehModel``), so
    range changes reach the kernel and updates render live. Needs BokehJS loaded once:
    :func:`ost_lab.widgets.enable_notebook`."""
    import ipywidgets as W
    from jupyter_bokeh.widgets import BokehModel

    layout = chart.layout if isinstance(chart, BacktestChart) else chart
    # stretch_width needs a sized parent: inside a flex Box the widget would collapse
    return BokehModel(layout, layout=W.Layout(width="100%"))


def plot_result(result: Any, symbol: str | None = None, *, widget: bool = False,
                **kwargs: Any) -> Any:  # fmt: skip
    """``BacktestResult.plot()``: the chart's Bokeh layout, or with ``widget=True`` a live
    ``BokehModel`` that re-decimates on zoom."""
    chart = BacktestChart.from_result(result, symbol, **kwargs)
    return chart_widget(chart) if widget else chart.layout
