"""InstrumentPicker: search, filters, coverage, clamped date range, multi-select value."""

from __future__ import annotations

import datetime as dt

import pytest

from ost_lab.secmaster import Secmaster
from ost_lab.widgets.picker import (
    InstrumentPicker,
    Selection,
    clamp_range,
    coverage_range,
    timeframes,
)

D = dt.date


def _syms(p: InstrumentPicker) -> list[str]:
    return [v for _, v in p.results_list.options]


def test_type_ahead_prefix_and_words(secmaster: Secmaster) -> None:
    p = InstrumentPicker(secmaster)
    assert _syms(p) == ["AAPL", "AMZN", "EURUSD"]
    p.search_box.value = "a"
    assert _syms(p) == ["AAPL", "AMZN"]
    p.search_box.value = "AA"
    assert _syms(p) == ["AAPL"]
    p.search_box.value = "us doll"  # description words
    assert _syms(p) == ["EURUSD"]


def test_filters(secmaster: Secmaster) -> None:
    p = InstrumentPicker(secmaster)
    assert "fx" in p.asset_class.options and "XNAS" in p.exchange.options
    p.asset_class.value = "fx"
    assert _syms(p) == ["EURUSD"]
    p.asset_class.value = "(any)"
    p.exchange.value = "XNAS"
    assert _syms(p) == ["AAPL", "AMZN"]


def test_coverage_and_clamp(secmaster: Secmaster) -> None:
    p = InstrumentPicker(secmaster)
    p.results_list.value = ("AAPL",)
    assert "1m" in p.coverage.value and "1d" in p.coverage.value
    assert list(p.timeframe.options) == ["1m", "5m", "15m", "30m", "1h", "1d"]
    assert p.bounds == (D(2024, 1, 2), D(2024, 1, 4))  # 1170 bars from Jan 2 14:30
    assert (p.start.value, p.end.value) == (D(2024, 1, 2), D(2024, 1, 4))
    p.start.value = D(2020, 1, 1)  # before coverage: clamped
    assert p.start.value == D(2024, 1, 2)
    p.end.value = D(2030, 1, 1)
    assert p.end.value == D(2024, 1, 4)
    p.set_range("2024-01-03", "2024-01-09")
    assert (p.start.value, p.end.value) == (D(2024, 1, 3), D(2024, 1, 4))
    p.timeframe.value = "1d"
    assert p.bounds is not None and p.bounds[0] == D(2023, 6, 1)


def test_multi_select_value_intersects_coverage(secmaster: Secmaster) -> None:
    p = InstrumentPicker(secmaster)
    p.select("AAPL", "AMZN")
    sel = p.value
    assert isinstance(sel, Selection)
    assert sel.symbols == ("AAPL", "AMZN") and sel.timeframe == "1m"
    assert sel.start == D(2024, 1, 3)  # AMZN starts later: the common range
    bars = p.bars()
    assert set(bars.symbols) == {"AAPL", "AMZN"}


def test_value_is_usable_next_cell(secmaster: Secmaster) -> None:
    p = InstrumentPicker(secmaster)
    assert p.value is None
    p.select("EURUSD")
    p.set_range("2024-01-02", "2024-01-03")
    bars = p.value.bars(secmaster) if p.value else None
    assert bars is not None and len(bars) == 570  # Jan 2 14:30 to midnight
    with pytest.raises(KeyError):
        p.select("NOPE")


def test_pure_helpers() -> None:
    cov = [{"coverage": {"1m": {"first_ts": 0, "last_ts": 86_400 * 10**9 * 3, "rows": 1}}}]
    assert coverage_range(cov, "1m") == (D(1970, 1, 1), D(1970, 1, 5))
    assert coverage_range(cov, "1s") is None  # nothing finer stored
    b = (D(2024, 1, 1), D(2024, 2, 1))
    assert clamp_range(None, None, b) == b
    assert clamp_range(D(2024, 3, 1), D(2024, 3, 5), b) == (D(2024, 1, 31), D(2024, 2, 1))
    assert clamp_range(D(2024, 1, 10), D(2024, 1, 5), b) == (D(2024, 1, 10), D(2024, 1, 11))


def test_resampled_timeframes() -> None:
    cov = {"1m": {"first_ts": 0, "last_ts": 10**9, "rows": 1}, "trades": {}}
    assert timeframes(cov) == ["1m", "5m", "15m", "30m", "1h", "1d"]
    assert coverage_range([{"coverage": cov}], "1h") == (D(1970, 1, 1), D(1970, 1, 2))
    assert coverage_range([{"coverage": cov}], "1s") is None
