"""BarBuilder: live (per tick) == replay (arrays), against independent pandas/Python bars."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ost_lab.core.bars import BAR_COLUMNS, Bar, BarBuilder, bars_frame

S = 10**9
MIN = 60 * S


def ticks(m: int = 500, seed: int = 0, span: int = 20 * MIN):
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(1_700_000_000 * S, 1_700_000_000 * S + span, m)).astype(np.int64)
    px = np.round(100.0 + rng.normal(0.0, 0.05, m).cumsum(), 2)
    sz = rng.integers(1, 20, m).astype(float)
    return ts, px, sz


def live(builder: BarBuilder, ts, px, sz, flush: bool = True) -> pd.DataFrame:
    out = [b for b in map(builder.update, ts.tolist(), px.tolist(), sz.tolist()) if b]
    if flush:
        last = builder.flush()
        if last:
            out.append(last)
    return bars_frame(out)


def replay(builder: BarBuilder, ts, px, sz) -> pd.DataFrame:
    df = builder.update_many(ts, px, sz)
    last = builder.flush()
    if last:
        df = pd.concat([df, bars_frame([last])], ignore_index=True)
    return df


def reference_groups(ts, px, sz, key) -> pd.DataFrame:
    d = pd.DataFrame({"ts": ts, "p": px, "s": sz, "k": key, "pv": px * sz})
    g = d.groupby("k", sort=True)
    out = pd.DataFrame(
        {
            "ts_last": g["ts"].max(),
            "open": g["p"].first(),
            "high": g["p"].max(),
            "low": g["p"].min(),
            "close": g["p"].last(),
            "volume": g["s"].sum(),
            "value": g["pv"].sum(),
            "n_ticks": g["p"].size(),
        }
    )
    out["vwap"] = out["value"] / out["volume"]
    return out


def check_against(df: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert len(df) == len(ref)
    np.testing.assert_array_equal(df["ts_last"], ref["ts_last"])
    np.testing.assert_array_equal(df["n_ticks"], ref["n_ticks"])
    for c in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(df[c], ref[c])
    for c in ("volume", "value", "vwap"):
        np.testing.assert_allclose(df[c], ref[c], rtol=1e-12)


@pytest.mark.parametrize("interval", [S, 7 * S, MIN, 5 * MIN, 3600 * S])
def test_time_bars_match_pandas_groupby(interval: int) -> None:
    ts, px, sz = ticks()
    df = replay(BarBuilder.time(interval), ts, px, sz)
    ref = reference_groups(ts, px, sz, ts // interval * interval)
    check_against(df, ref)
    np.testing.assert_array_equal(df["ts"], ref.index.to_numpy())
    assert (df["ts"] % interval == 0).all()  # aligned to the UTC epoch


def test_time_bar_string_interval() -> None:
    assert BarBuilder.time("5min").interval == 5 * MIN
    assert BarBuilder.time("1h").interval == 3600 * S


def test_tick_volume_value_bars_match_python_loop() -> None:
    ts, px, sz = ticks(300, seed=4)
    df = replay(BarBuilder.ticks(7), ts, px, sz)
    ref = reference_groups(ts, px, sz, np.arange(ts.size) // 7)
    check_against(df, ref)
    np.testing.assert_array_equal(df["ts"], ts[::7])
    for kind, thr, meas in (("volume", 50.0, sz), ("value", 5000.0, px * sz)):
        key, k, acc = [], 0, 0.0
        for x in meas.tolist():
            key.append(k)
            acc += x
            if acc >= thr:
                k, acc = k + 1, 0.0
        df = replay(BarBuilder(kind, thr), ts, px, sz)
        check_against(df, reference_groups(ts, px, sz, np.array(key)))


def test_volume_overshoot_not_split() -> None:
    b = BarBuilder.volume(10)
    assert b.update(1, 100.0, 4) is None
    assert b.update(2, 101.0, 4) is None
    bar = b.update(3, 102.0, 5)
    assert bar == Bar(1, 3, 100.0, 102.0, 100.0, 102.0, 13.0, 1314.0, 1314.0 / 13.0, 3)
    assert b.current is None
    b.update(4, 99.0, 1)
    assert b.current is not None and b.current.volume == 1.0 and b.current.ts == 4


def test_empty_intervals_emit_nothing_and_bar_closes_on_next_tick() -> None:
    b = BarBuilder.time(MIN)
    assert b.update(10 * S, 1.0, 1) is None
    assert b.update(59 * S, 2.0, 1) is None
    bar = b.update(150 * S, 3.0, 1)  # skips the empty [60s, 120s) interval
    assert bar is not None and bar.ts == 0 and bar.close == 2.0 and bar.ts_last == 59 * S
    last = b.flush()
    assert last is not None and last.ts == 120 * S and last.n_ticks == 1


def test_flush_now_for_live_timers_and_late_ticks() -> None:
    b = BarBuilder.time(MIN)
    b.update(MIN + 5 * S, 10.0, 2)
    assert b.flush(MIN + 59 * S) is None  # interval not over yet
    bar = b.flush(2 * MIN)  # boundary reached: close
    assert bar is not None and bar.ts == MIN and bar.volume == 2.0
    assert b.flush(3 * MIN) is None  # nothing open
    assert b.update(MIN + 59 * S, 11.0, 1) is None  # belongs to a closed bar: dropped
    assert b.late_ticks == 1
    b.update(2 * MIN + S, 12.0, 1)
    assert b.update(2 * MIN, 12.0, 1) is None  # equal to the open bar's start: accepted
    assert b.current is not None and b.current.n_ticks == 2
    assert b.update(MIN, 1.0, 1) is None and b.late_ticks == 2
    assert BarBuilder.ticks(3).flush(10) is None


def test_zero_size_ticks_give_nan_vwap() -> None:
    b = BarBuilder.ticks(2)
    b.update(1, 5.0, 0.0)
    bar = b.update(2, 6.0, 0.0)
    assert bar is not None and math.isnan(bar.vwap) and bar.volume == 0.0


def test_fixed_price_integers() -> None:
    ts, px, sz = ticks(200, seed=2)
    ipx = np.round(px * 1e9).astype(np.int64)
    a = replay(BarBuilder.time(MIN, fixed_price=True), ts, ipx, sz)
    b = replay(BarBuilder.time(MIN), ts, ipx / 1e9, sz)
    c = live(BarBuilder.time(MIN, fixed_price=True), ts, ipx, sz)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        BarBuilder("renko", 1)
    with pytest.raises(ValueError):
        BarBuilder.volume(0)
    with pytest.raises(ValueError):
        BarBuilder.time(0)
    with pytest.raises(ValueError):
        BarBuilder.ticks(2).update_many(np.zeros(2), np.zeros(3), np.zeros(2))


def test_frame_columns() -> None:
    df = BarBuilder.ticks(2).update_many(*ticks(10))
    assert list(df.columns) == BAR_COLUMNS
    assert df["ts"].dtype == np.int64 and df["n_ticks"].dtype == np.int64


builders = st.sampled_from(
    [
        ("time", S),
        ("time", 3 * S),
        ("time", MIN),
        ("tick", 1),
        ("tick", 4),
        ("volume", 25.0),
        ("value", 900.0),
    ]
)


@settings(max_examples=120, deadline=None)
@given(
    spec=builders,
    steps=st.lists(st.integers(0, 20 * S), min_size=0, max_size=120),
    prices=st.lists(st.floats(1.0, 200.0), min_size=120, max_size=120),
    sizes=st.lists(st.sampled_from([0.0, 1.0, 2.5, 7.0, 13.0]), min_size=120, max_size=120),
    cuts=st.lists(st.tuples(st.integers(0, 120), st.booleans(), st.booleans()), max_size=8),
)
def test_live_equals_replay_bit_identical(spec, steps, prices, sizes, cuts) -> None:
    ts = (1_700_000_000 * S + np.cumsum(np.array(steps, dtype=np.int64))).astype(np.int64)
    m = ts.size
    px = np.array(prices[:m])
    sz = np.array(sizes[:m])
    kind, size = spec
    whole = replay(BarBuilder(kind, size), ts, px, sz)
    one_by_one = live(BarBuilder(kind, size), ts, px, sz)
    pd.testing.assert_frame_equal(whole, one_by_one, check_exact=True)
    # a mixed stream: segments alternately per tick or batched, with live timer flushes
    b = BarBuilder(kind, size)
    bounds = sorted({0, m, *(min(c[0], m) for c in cuts)})
    modes = {min(c[0], m): c for c in cuts}
    parts = []
    for lo, hi in itertools.pairwise(bounds):
        _, batched, timer = modes.get(lo, (lo, False, False))
        if timer and lo < m:
            bar = b.flush(int(ts[lo]))  # a timer firing exactly at the next tick's time
            if bar:
                parts.append(bars_frame([bar]))
        if batched:
            parts.append(b.update_many(ts[lo:hi], px[lo:hi], sz[lo:hi]))
        else:
            parts.append(live(b, ts[lo:hi], px[lo:hi], sz[lo:hi], flush=False))
    last = b.flush()
    if last:
        parts.append(bars_frame([last]))
    mixed = pd.concat([bars_frame([]), *parts], ignore_index=True)
    pd.testing.assert_frame_equal(whole, mixed, check_exact=True)
    assert b.late_ticks == 0
