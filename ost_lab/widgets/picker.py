"""InstrumentPicker: type-ahead search over the secmaster, asset-class/exchange filters,
coverage per timeframe, multi-select, and a date range clamped to the selection's coverage.

``picker.value`` is a :class:`Selection` usable in the next cell (``picker.value.bars(sm)`` or
``picker.bars()``).
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import pandas as pd

__all__ = ["InstrumentPicker", "Selection", "clamp_range", "coverage_range", "timeframes"]

_ANY = "(any)"
#: Timeframes offered when finer stored bars can be resampled to them.
STANDARD_TIMEFRAMES = ("1s", "1m", "5m", "15m", "30m", "1h", "1d")


def _tf_ns(tf: str) -> int | None:
    from ost_lab.secmaster.reader import parse_timeframe

    try:
        return parse_timeframe(tf)
    except Exception:  # 'trades', 'quotes', unknown rtypes
        return None


def _source_tf(coverage: dict[str, Any], timeframe: str) -> str | None:
    """The stored timeframe ``timeframe`` is read (or resampled) from: itself, else the
    coarsest stored finer timeframe that divides it."""
    if timeframe in coverage:
        return timeframe
    want = _tf_ns(timeframe)
    if want is None:
        return None
    best: tuple[int, str] | None = None
    for tf in coverage:
        ns = _tf_ns(tf)
        if ns is not None and ns < want and want % ns == 0 and (best is None or ns > best[0]):
            best = (ns, tf)
    return best[1] if best else None


def timeframes(coverage: dict[str, Any]) -> list[str]:
    """Timeframes available for one instrument: stored ones and standard ones resampled
    from them, finest first."""
    out = {tf for tf in coverage if _tf_ns(tf) is not None}
    out |= {tf for tf in STANDARD_TIMEFRAMES if _source_tf(coverage, tf)}
    return sorted(out, key=lambda tf: _tf_ns(tf) or 0)


@dataclass(frozen=True)
class Selection:
    """What the picker selected: symbols, a timeframe and a date range (end exclusive)."""

    symbols: tuple[str, ...]
    timeframe: str
    start: dt.date | None
    end: dt.date | None

    @property
    def symbol(self) -> str:
        """The first selected symbol."""
        return self.symbols[0]

    def bars(self, secmaster: Any) -> Any:
        """The selected bars from ``secmaster`` (``Bars`` for one symbol, else ``MultiBars``)."""
        syms: Any = self.symbols[0] if len(self.symbols) == 1 else list(self.symbols)
        return secmaster.bars(syms, self.timeframe, self.start, self.end)


def _day(ns: int) -> dt.date:
    return pd.Timestamp(ns, tz="UTC").date()


def coverage_range(
    instruments: list[dict[str, Any]], timeframe: str
) -> tuple[dt.date, dt.date] | None:
    """Days covered by *all* instruments at ``timeframe`` (stored or resampled; end
    exclusive), or None."""
    spans = []
    for inst in instruments:
        src = _source_tf(inst["coverage"], timeframe)
        if src is None:
            return None
        cov = inst["coverage"][src]
        spans.append((_day(cov["first_ts"]), _day(cov["last_ts"]) + dt.timedelta(days=1)))
    if not spans:
        return None
    lo, hi = max(s[0] for s in spans), min(s[1] for s in spans)
    return (lo, hi) if lo < hi else None


def clamp_range(
    start: dt.date | None, end: dt.date | None, bounds: tuple[dt.date, dt.date]
) -> tuple[dt.date, dt.date]:
    """``[start, end)`` clamped into ``bounds``; missing ends take the bound; never empty."""
    lo, hi = bounds
    s = min(max(start or lo, lo), hi - dt.timedelta(days=1))
    e = max(min(end or hi, hi), s + dt.timedelta(days=1))
    return s, e


def _choices(secmaster: Any) -> tuple[list[str], list[str]]:
    """Distinct asset classes and exchanges (one query, not a search with coverage)."""
    conn = getattr(secmaster, "conn", None)
    if conn is not None:
        rows = conn.execute("SELECT DISTINCT asset_class, exchange FROM instruments").fetchall()
    else:
        rows = [(r["asset_class"], r["exchange"]) for r in secmaster.search("", limit=10_000)]
    return sorted({str(a) for a, _ in rows if a}), sorted({str(e) for _, e in rows if e})


class InstrumentPicker:
    """Search box + filters + result list + coverage table + timeframe + date range.

    ``secmaster``: an open ``ost_lab.secmaster.Secmaster``. ``limit``: results per search.
    """

    def __init__(
        self, secmaster: Any, *, text: str = "", timeframe: str = "1m", limit: int = 50
    ) -> None:
        self.secmaster = secmaster
        self.limit = limit
        self.results: list[dict[str, Any]] = []
        classes, exchanges = _choices(secmaster)
        self.search_box = W.Text(value=text, placeholder="symbol or description words",
                                 description="Search", continuous_update=True)  # fmt: skip
        self.asset_class = W.Dropdown(options=[_ANY, *classes], description="Asset class")
        self.exchange = W.Dropdown(options=[_ANY, *exchanges], description="Exchange")
        self.results_list = W.SelectMultiple(options=[], rows=8, description="Results",
                                             layout=W.Layout(width="520px"))  # fmt: skip
        self.timeframe = W.Dropdown(options=[timeframe], value=timeframe, description="Timeframe")
        self.start = W.DatePicker(description="Start")
        self.end = W.DatePicker(description="End (excl.)")
        self.coverage = W.HTML()
        self.message = W.HTML()
        for w in (self.search_box, self.asset_class, self.exchange):
            w.observe(self._on_query, names="value")
        self.results_list.observe(self._on_select, names="value")
        self.timeframe.observe(self._on_timeframe, names="value")
        for w in (self.start, self.end):
            w.observe(self._on_dates, names="value")
        self.widget = W.VBox([
            W.HBox([self.search_box, self.asset_class, self.exchange]),
            self.results_list, self.coverage,
            W.HBox([self.timeframe, self.start, self.end]), self.message,
        ])  # fmt: skip
        self._clamping = False
        self.refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # ---------------------------------------------------------------- search
    def refresh(self) -> None:
        """Run the search for the current text and filters."""
        ac = None if self.asset_class.value == _ANY else self.asset_class.value
        rows = self.secmaster.search(self.search_box.value, asset_class=ac, limit=self.limit)
        if self.exchange.value != _ANY:
            rows = [r for r in rows if r["exchange"] == self.exchange.value]
        self.results = rows
        keep = [s for s in self.results_list.value if any(r["symbol"] == s for r in rows)]
        self.results_list.options = [
            (f"{r['symbol']:<10} {r['asset_class'] or ''} {r['exchange'] or ''} — "
             f"{r['description'] or ''}", r["symbol"])
            for r in rows
        ]  # fmt: skip
        self.results_list.value = tuple(keep)
        self._on_select()

    def _on_query(self, _change: Any = None) -> None:
        self.refresh()

    def select(self, *symbols: str) -> None:
        """Select ``symbols`` (searching for each if not in the current results)."""
        missing = [s for s in symbols if not any(r["symbol"] == s for r in self.results)]
        if missing:
            self.search_box.value = missing[0] if len(symbols) == 1 else ""
            if any(not any(r["symbol"] == s for r in self.results) for s in symbols):
                raise KeyError(f"not in the secmaster: {missing}")
        self.results_list.value = tuple(symbols)

    @property
    def selected(self) -> list[dict[str, Any]]:
        """Search rows of the selected instruments."""
        by = {r["symbol"]: r for r in self.results}
        return [by[s] for s in self.results_list.value if s in by]

    # ---------------------------------------------------------------- coverage
    def _on_select(self, _change: Any = None) -> None:
        sel = self.selected
        self.coverage.value = self._coverage_table(sel)
        per = [timeframes(r["coverage"]) for r in sel]
        common = [tf for tf in per[0] if all(tf in p for p in per[1:])] if per else []
        if common:
            cur = self.timeframe.value
            self.timeframe.options = common
            self.timeframe.value = cur if cur in common else common[0]
        self._clamp()

    def _on_timeframe(self, _change: Any = None) -> None:
        self._clamp()

    def _on_dates(self, _change: Any = None) -> None:
        if not self._clamping:
            self._clamp()

    @property
    def bounds(self) -> tuple[dt.date, dt.date] | None:
        """Coverage of the selection at the chosen timeframe (end exclusive)."""
        return coverage_range(self.selected, self.timeframe.value) if self.selected else None

    def _clamp(self) -> None:
        b = self.bounds
        self._clamping = True
        try:
            if b is None:
                self.message.value = (
                    "<i>no common coverage for this selection</i>" if self.selected else ""
                )
                return
            s, e = clamp_range(self.start.value, self.end.value, b)
            self.start.value, self.end.value = s, e
            self.message.value = f"<small>coverage {b[0]} – {b[1]} (end exclusive)</small>"
        finally:
            self._clamping = False

    @staticmethod
    def _coverage_table(rows: list[dict[str, Any]]) -> str:
        if not rows:
            return ""
        out = ["<table><tr><th>symbol</th><th>timeframe</th><th>first</th><th>last</th>"
               "<th>rows</th></tr>"]  # fmt: skip
        for r in rows:
            for tf, c in r["coverage"].items():
                first = pd.Timestamp(c["first_ts"], tz="UTC").strftime("%Y-%m-%d %H:%M")
                last = pd.Timestamp(c["last_ts"], tz="UTC").strftime("%Y-%m-%d %H:%M")
                sym = html.escape(r["symbol"])
                out.append(
                    f"<tr><td>{sym}</td><td>{tf}</td><td>{first}</td><td>{last}</td>"
                    f"<td>{c['rows']:,}</td></tr>"
                )
        return "".join(out) + "</table>"

    # ---------------------------------------------------------------- value
    @property
    def value(self) -> Selection | None:
        """The selection (None when nothing is selected)."""
        syms = tuple(self.results_list.value)
        if not syms:
            return None
        return Selection(syms, self.timeframe.value, self.start.value, self.end.value)

    @value.setter
    def value(self, sel: Selection) -> None:
        self.select(*sel.symbols)
        self.timeframe.value = sel.timeframe
        self.start.value, self.end.value = sel.start, sel.end
        self._clamp()

    def set_range(self, start: dt.date | str, end: dt.date | str) -> None:
        """Set the date range (clamped to coverage)."""
        self.start.value = pd.Timestamp(start).date()
        self.end.value = pd.Timestamp(end).date()
        self._clamp()

    def bars(self) -> Any:
        """The selected bars."""
        sel = self.value
        if sel is None:
            raise ValueError("no instrument selected")
        return sel.bars(self.secmaster)
