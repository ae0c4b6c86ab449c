"""Array feeds: validated once, and a replay over columns gives exactly what the same bars give
through ``Engine.process`` (fills, orders, equity, what hooks see, progress, run control)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from ost_lab.core import Bar, Engine, ListFeed, RunControl, SimulatedBroker, Strategy
from ost_lab.core.array_feed import ArrayFeed
from ost_lab.core.portfolio import Portfolio
from ost_lab.core.risk import RiskEngine, RiskLimits, StaleFeedWatchdog
from ost_lab.core.sim_broker import Commission

MIN = 60_000_000_000
T0 = 1_704_205_860_000_000_000
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Cols:
    symbol: str
    ts_open: npt.NDArray[np.int64]
    ts_close: npt.NDArray[np.int64]
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64


def columns(symbol: str, n: int, seed: int, step: int = MIN, t0: int = T0) -> Cols:
    rng = np.random.default_rng(seed)
    c = 100.0 * np.exp(np.cumsum(rng.normal(0, 2e-3, n)))
    o = np.concatenate([[100.0], c[:-1]])
    ts = t0 + step * np.arange(n, dtype=np.int64)
    return Cols(
        symbol, ts - step, ts, o, np.maximum(o, c) * 1.001, np.minimum(o, c) * 0.999, c,
        rng.integers(1, 1000, n).astype(np.float64),
    )  # fmt: skip


def bars_of(feed_cols: list[Cols]) -> list[Bar]:
    """The same bars as ``Bar`` objects, built and validated one by one."""
    out = []
    for c in feed_cols:
        for k in range(len(c.close)):
            out.append(
                Bar(c.symbol, int(c.ts_close[k]), float(c.open[k]), float(c.high[k]),
                    float(c.low[k]), float(c.close[k]), float(c.volume[k]), int(c.ts_open[k]))
            )  # fmt: skip
    return out


class Busy(Strategy):
    """Reads its history and trades with several order types every few bars."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.seen: list[tuple[Any, ...]] = []

    def on_bar(self, bar: Bar) -> None:
        h = self.data[bar.symbol]
        k = len(h)
        self.seen.append(
            (bar, k, float(h.close[-1]), float(h.high[-3:].max()), self.position_of(bar.symbol),
             self.now, self.portfolio.equity())
        )  # fmt: skip
        if k % 7 == 0 and self.position_of(bar.symbol) == 0:
            self.bracket(1, 10, bar.symbol, take_profit=bar.close * 1.003,
                         stop_loss=bar.close * 0.997)  # fmt: skip
        elif k % 11 == 0:
            self.buy(3, bar.symbol, limit=bar.close * 0.999)
        elif k % 13 == 0:
            self.target_position(bar.symbol, 0)
        elif k % 17 == 0:
            self.sell(2, bar.symbol, stop=bar.close * 0.998, tif="IOC")


def run(feed: Any, risk: RiskEngine | None = None, **kw: Any) -> tuple[Any, Busy, list[int]]:
    s = Busy(warmup=3)
    done: list[int] = []
    broker = SimulatedBroker(commission=Commission(bps=5.0), max_volume_fraction=0.05)
    res = Engine(
        s, feed, broker, initial_cash=1e6, risk=risk, progress=lambda d, t: done.append(d),
        progress_every=50, **kw,
    ).run()  # fmt: skip
    return res, s, done


def same(a: Any, b: Any) -> None:
    assert a.status == b.status and a.n_events == b.n_events
    assert a.equity.equals(b.equity)
    assert a.fills.equals(b.fills)
    assert [(o.id, o.status, o.filled_qty, o.avg_fill_price) for o in a.orders] == [
        (o.id, o.status, o.filled_qty, o.avg_fill_price) for o in b.orders
    ]
    assert a.events == b.events


@pytest.mark.parametrize("daily_loss", [math.inf, 15.0])
def test_array_replay_equals_bar_by_bar(daily_loss: float) -> None:
    cols = [columns("AAA", 400, 1), columns("BBB", 300, 2, t0=T0 + 30 * MIN)]
    lim = RiskLimits(max_daily_loss_bps=daily_loss)
    ref, s_ref, p_ref = run(ListFeed(bars_of(cols)), RiskEngine(lim))
    got, s_got, p_got = run(ArrayFeed(cols), RiskEngine(lim))
    assert len(ref.fills) > 20
    same(got, ref)
    assert s_got.seen == s_ref.seen  # same bars, history, position, time and equity in hooks
    assert p_got == p_ref
    assert list(s_got.data) == list(s_ref.data)


class Swing(Strategy):
    """Holds a large position and trades every bar: a daily-loss halt shows on its next order."""

    def on_bar(self, bar: Bar) -> None:
        self.buy(4000) if self.position <= 0 else self.sell(8000)


@pytest.mark.parametrize("daily_loss", [math.inf, 15.0])
@pytest.mark.parametrize("paused", [False, True])
def test_one_symbol_several_strategies_equal_bar_by_bar(daily_loss: float, paused: bool) -> None:
    """A single-symbol feed (its loop names each strategy's parts directly) against
    ``Engine.process``: two strategies with their own warm-ups, the daily-loss rule on and off,
    a paused watchdog (hooks not called) or none."""
    cols = [columns("AAA", 400, 9)]

    def go(feed: Any) -> tuple[Any, list[Any]]:
        ss: list[Any] = [Busy(name="a", warmup=3), Busy(name="b", warmup=40), Swing()]
        wd = StaleFeedWatchdog(max_silence_ns=1) if paused else None
        if wd is not None:  # stale: paused until data arrives (a replay feeds it none)
            assert not wd.check(0) and wd.check(10**18)
        res = Engine(
            ss, feed, SimulatedBroker(commission=Commission(bps=5.0)), initial_cash=1e6,
            risk=RiskEngine(RiskLimits(max_daily_loss_bps=daily_loss)), watchdog=wd,
        ).run()  # fmt: skip
        return res, [s.seen for s in ss[:2]]

    (ref, seen_ref), (got, seen_got) = go(ListFeed(bars_of(cols))), go(ArrayFeed(cols))
    same(got, ref)
    assert seen_got == seen_ref and got.rejections == ref.rejections
    if daily_loss < math.inf and not paused:  # the halt was reached, and refused orders
        assert any(rej.rule == "daily_loss" for _, rej in got.rejections)
    if paused:  # no hook ran, so nothing traded
        assert len(got.fills) == 0 and seen_got == [[], []]
    else:  # the halt stops the trading early in the day, where it is set
        assert len(got.fills) > (20 if daily_loss == math.inf else 0)
        assert len(seen_got[1]) == 400 - 39


@pytest.mark.parametrize("n_bars", [0, 1])
def test_a_feed_with_no_symbol_or_few_bars_runs_as_the_bar_loop(n_bars: int) -> None:
    full = columns("AAA", 5, 1)
    few = Cols(full.symbol, *(getattr(full, f)[:n_bars] for f in list(Cols.__annotations__)[1:]))
    for cols in ([], [few]):
        ref, s_ref, p_ref = run(ListFeed(bars_of(cols)))
        got, s_got, p_got = run(ArrayFeed(cols))
        same(got, ref)
        assert got.status == "completed" and got.n_events == len(bars_of(cols))
        assert s_got.seen == s_ref.seen and p_got == p_ref


def test_ties_across_symbols_keep_one_equity_point_per_ts() -> None:
    cols = [columns("AAA", 200, 3), columns("BBB", 200, 4)]  # same timestamps
    ref, _, _ = run(ListFeed(bars_of(cols)))
    got, _, _ = run(ArrayFeed(cols))
    same(got, ref)
    assert len(got.equity) == 200


@pytest.mark.parametrize("how", ["stop", "cancel"])
def test_run_control_stops_an_array_replay_where_the_bar_loop_does(how: str) -> None:
    cols = [columns("AAA", 300, 5)]

    def go(feed: Any) -> Any:
        ctl = RunControl()

        class Stopper(Busy):
            def on_bar(self, bar: Bar) -> None:
                super().on_bar(bar)
                if len(self.data[bar.symbol]) == 120:
                    getattr(ctl, how)()

        s = Stopper()
        return Engine(s, feed, initial_cash=1e6, run_control=ctl).run()

    ref, got = go(ListFeed(bars_of(cols))), go(ArrayFeed(cols))
    same(got, ref)
    assert got.n_events == 120 and got.status == ("stopped" if how == "stop" else "cancelled")


def test_history_views_are_read_only_and_end_at_the_current_bar() -> None:
    cols = [columns("AAA", 50, 6)]
    lens: list[tuple[int, float]] = []

    class Probe(Strategy):
        def on_bar(self, bar: Bar) -> None:
            h = self.data[bar.symbol]
            lens.append((len(h.close), float(h.close[-1])))
            with pytest.raises(ValueError):
                h.close[-1] = 0.0

    Engine(Probe(), ArrayFeed(cols)).run()
    assert lens == [(k + 1, float(cols[0].close[k])) for k in range(50)]


def test_feed_checks_columns_like_bar_does() -> None:
    good = columns("AAA", 10, 7)
    bad_high = Cols(**{**good.__dict__, "high": good.low - 1.0})
    with pytest.raises(ValueError, match="inconsistent OHLC"):
        ArrayFeed([bad_high])
    nan_close = good.close.copy()
    nan_close[3] = math.nan
    with pytest.raises(ValueError, match="inconsistent OHLC"):
        ArrayFeed([Cols(**{**good.__dict__, "close": nan_close})])
    with pytest.raises(ValueError, match="ts_open"):
        ArrayFeed([Cols(**{**good.__dict__, "ts_open": good.ts_close + 1})])
    backwards = good.ts_close[::-1].copy()
    with pytest.raises(ValueError, match="backwards"):
        ArrayFeed([Cols(**{**good.__dict__, "ts_close": backwards, "ts_open": backwards})])
    assert list(ArrayFeed([good])) == bars_of([good])


def test_equity_at_arrays_matches_scalar_equity() -> None:
    pf = Portfolio(1_000.0)
    from ost_lab.core import FillEvent, Side

    pf.apply_fill(FillEvent(0, "a", "AAA", Side.BUY, 3.0, 10.0, 0.1))
    pf.apply_fill(FillEvent(0, "b", "BBB", Side.SELL, 2.0, 20.0, 0.2))
    a, b = np.array([9.5, 10.25, 11.0]), np.array([19.0, 21.5, 20.125])
    bulk = pf.equity_at({"AAA": a, "BBB": b})
    for k in range(3):
        pf.marks.update(AAA=float(a[k]), BBB=float(b[k]))
        assert bulk[k] == pf.equity()


def test_a_bound_history_never_writes_into_the_feed_columns() -> None:
    cols = columns("AAA", 30, 8)
    before = cols.close.copy()
    s = Busy()
    Engine(s, ArrayFeed([cols]), initial_cash=1e6).run()
    later = bars_of([columns("AAA", 5, 9, t0=T0 + 100 * MIN)])
    Engine(s, ListFeed(later), initial_cash=1e6).run()  # the bar-by-bar path appends
    np.testing.assert_array_equal(cols.close, before)
    h = s.data["AAA"]
    assert len(h) == 35
    np.testing.assert_array_equal(h.close, np.concatenate([before, [b.close for b in later]]))


def test_a_failing_strategy_leaves_the_same_equity_history() -> None:
    cols = [columns("AAA", 120, 10)]

    class Fails(Busy):
        def on_bar(self, bar: Bar) -> None:
            super().on_bar(bar)
            if len(self.data[bar.symbol]) == 90:
                raise RuntimeError("boom")

    def go(feed: Any) -> tuple[list[int], list[float]]:
        engine = Engine(Fails(), feed, initial_cash=1e6)
        with pytest.raises(RuntimeError, match="boom"):
            engine.run()
        ts, values = engine.portfolio.equity_history()
        return list(ts), list(values)

    ref, got = go(ListFeed(bars_of(cols))), go(ArrayFeed(cols))
    assert got == ref and len(got[0]) == 89


def test_broker_sees_every_bar_with_or_without_its_idle_shortcut() -> None:
    """With nothing working the array replay notes each bar for the broker instead of calling
    it; the broker's latest bar is the same, and a broker that changes ``on_market_data``
    still gets every bar."""

    class Counting(SimulatedBroker):
        def __init__(self) -> None:
            super().__init__()
            self.seen = 0

        def on_market_data(self, event: Any) -> None:
            self.seen += 1
            super().on_market_data(event)

    cols = [columns("A", 300, 1), columns("B", 200, 2, step=2 * MIN)]
    plain, counting = SimulatedBroker(), Counting()
    assert plain.idle_shortcut() is not None and counting.idle_shortcut() is None
    for broker in (plain, counting):
        Engine(Busy(), ArrayFeed(cols), broker=broker, initial_cash=1e6).run()
    assert counting.seen == 500
    last = {b.symbol: b for b in bars_of(cols)}
    assert plain._last == counting._last == last


@pytest.mark.parametrize("fails", [False, True])
def test_an_array_replay_restores_the_collectors_settings(fails: bool) -> None:
    """During the replay older objects are frozen and young collections are rarer; afterwards
    (also after a failure) thresholds and the freeze are as before, and a process that froze
    objects itself keeps them frozen."""
    import gc

    seen: list[tuple[int, int]] = []

    class Peek(Strategy):
        def on_bar(self, bar: Bar) -> None:
            seen.append((gc.get_freeze_count(), gc.get_threshold()[0]))
            if fails:
                raise RuntimeError("boom")

    before = gc.get_threshold()
    for pre_frozen in (False, True):
        seen.clear()
        gc.unfreeze()
        if pre_frozen:
            gc.freeze()
        frozen = gc.get_freeze_count()
        try:
            engine = Engine(Peek(), ArrayFeed([columns("AAA", 50, 1)]), initial_cash=1e6)
            if fails:
                with pytest.raises(RuntimeError, match="boom"):
                    engine.run()
            else:
                engine.run()
            assert gc.get_threshold() == before
            during_frozen, during_young = seen[0]
            assert during_young >= 50_000 and during_frozen > 0
            if pre_frozen:  # still frozen (objects freed meanwhile leave the count)
                assert 0 < gc.get_freeze_count() <= frozen
            else:
                assert gc.get_freeze_count() == 0
        finally:
            gc.unfreeze()
