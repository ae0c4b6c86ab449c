"""Indicators a strategy registers are fed by the engine: the same values on every bar in the
bar-by-bar loop and in an array replay (which computes ``replay``-capable ones for the whole run
at once), warm-up bars included, and left in the state ``update`` would have left."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ost_lab.core import Bar, Engine, ListFeed, RunControl, Strategy
from ost_lab.core.array_feed import ArrayFeed
from ost_lab.core.indicators import ATR, EMA, RSI, SMA, WMA, Highest, ema, sma
from tests.core.test_array_feed import MIN, T0, bars_of, columns


class Watch(Strategy):
    """Registers six indicators on one symbol and notes what it sees at every bar."""

    warmup = 5

    def __init__(self, on: str | None = None, stop_at: int = 0, **kw: Any) -> None:
        super().__init__(**kw)
        self.on, self.stop_at = on, stop_at
        self.seen: list[tuple[str, ...]] = []

    def on_start(self) -> None:
        self.sma = self.indicator(SMA(4), self.on)  # numba replay in an array run
        self.ema = self.indicator(EMA(6), self.on)
        self.atr = self.indicator(ATR(3), self.on)  # several inputs: bar by bar
        self.hi = self.indicator(Highest(5), self.on, inputs=["high"])  # no replay method
        self.wma = self.indicator(WMA(5), self.on)
        self.rsi = self.indicator(RSI(7), self.on)

    def on_bar(self, bar: Bar) -> None:
        row = (bar.symbol, self.sma.value, self.sma.ready, self.ema.value, self.atr.value,
               self.hi.value, self.wma.value, self.rsi.value, self.rsi.ready)  # fmt: skip
        self.seen.append(tuple(map(repr, row)))  # repr: exact, and NaN equals NaN
        if self.stop_at and len(self.seen) == self.stop_at:
            self.ctx.control.stop()  # type: ignore[attr-defined]


def state(ind: Any) -> str:
    """Every slot of an indicator, exactly (NaN equals NaN)."""
    slots = [k for cls in type(ind).__mro__ for k in getattr(cls, "__slots__", ())]
    return repr([getattr(ind, k) for k in slots])


def run_both(cols: list[Any], **kw: Any) -> tuple[Watch, Watch]:
    ref, got = Watch(**kw), Watch(**kw)
    Engine(ref, ListFeed(bars_of(cols)), initial_cash=1e6, run_control=RunControl()).run()
    Engine(got, ArrayFeed(cols), initial_cash=1e6, run_control=RunControl()).run()
    return ref, got


@pytest.mark.parametrize("on", [None, "AAA", "BBB"])
def test_both_loops_feed_registered_indicators_the_same(on: str | None) -> None:
    cols = [columns("AAA", 300, 1), columns("BBB", 250, 2, t0=T0 + 30 * MIN)]
    ref, got = run_both(cols, on=on)
    assert len(ref.seen) == 300 + 250 - 2 * (Watch.warmup - 1)
    assert got.seen == ref.seen
    names = ("sma", "ema", "atr", "hi", "wma", "rsi")
    for a, b in zip([getattr(ref, k) for k in names], [getattr(got, k) for k in names],
                    strict=True):  # fmt: skip
        assert state(a) == state(b)


def test_values_are_the_indicators_of_the_symbol_so_far() -> None:
    """Cross-checked with the vectorised kernels on the symbol's closes: from the first
    ``on_bar`` (warm-up bars were fed too) and on the other symbol's bars."""
    cols = [columns("AAA", 200, 3), columns("BBB", 200, 4, t0=T0 + 7 * MIN + MIN // 2)]
    _, got = run_both(cols, on="BBB")
    b_close = cols[1].close
    ts_b = cols[1].ts_close
    events = sorted(bars_of(cols), key=lambda e: e.ts)
    seen = iter(got.seen)
    counts = {"AAA": 0, "BBB": 0}
    for bar in events:
        counts[bar.symbol] += 1
        if counts[bar.symbol] < Watch.warmup:
            continue
        row = next(seen)
        k = int(np.searchsorted(ts_b, bar.ts, side="right"))  # BBB bars closed so far
        want_sma = sma(b_close[:k], 4)[-1] if k else math.nan
        want_ema = ema(b_close[:k], 6)[-1] if k else math.nan
        assert row[1] == repr(float(want_sma)) and row[3] == repr(float(want_ema))
        assert row[2] == repr(k >= 4)


def test_a_stopped_array_run_leaves_indicators_as_update_would() -> None:
    cols = [columns("AAA", 500, 5)]
    ref, got = run_both(cols, stop_at=100)
    assert got.seen == ref.seen and len(got.seen) == 100
    n = 100 + Watch.warmup - 1  # bars processed
    fresh = SMA(4), EMA(6), WMA(5), RSI(7)
    for x in cols[0].close[:n].tolist():
        for ind in fresh:
            ind.update(x)
    for a, b in zip((got.sma, got.ema, got.wma, got.rsi), fresh, strict=True):
        assert state(a) == state(b)
        assert a.update(123.0) == b.update(123.0)  # and it goes on from there the same


def test_registrations_last_one_run() -> None:
    cols = [columns("AAA", 80, 6)]
    s = Watch()
    first = Engine(s, ArrayFeed(cols), initial_cash=1e6).run()
    seen, s.seen = s.seen, []
    Engine(s, ArrayFeed(cols), initial_cash=1e6).run()
    assert first.status == "completed" and s.seen == seen and len(s._indicators) == 6


def test_bad_registrations_are_refused() -> None:
    s = Strategy()
    with pytest.raises(ValueError, match="bar fields"):
        s.indicator(SMA(3), inputs=["mid"])
    with pytest.raises(ValueError, match="bar fields"):
        s.indicator(SMA(3), inputs=[])
    with pytest.raises(TypeError, match="no update"):
        s.indicator(object())
    ind = s.indicator(SMA(3))
    with pytest.raises(ValueError, match="already registered"):
        s.indicator(ind)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=40),
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=40),
    st.integers(1, 8),
)
def test_replay_is_update_for_each_value(head: list[float], tail: list[float], n: int) -> None:
    """From any state (after ``head``), ``replay(tail)`` gives ``update``'s outputs bit for bit
    and leaves the same state."""
    for make in (SMA, EMA, WMA, RSI):
        a, b = make(n), make(n)
        for x in head:
            a.update(x)
            b.update(x)
        want = [a.update(x) for x in tail]
        got = b.replay(np.array(tail, dtype=np.float64)).tolist()
        assert list(map(repr, got)) == list(map(repr, want))
        assert state(a) == state(b)
        warm = n + 1 if make is RSI else n  # RSI needs n changes
        assert a.ready == b.ready == (len(head) + len(tail) >= warm)
