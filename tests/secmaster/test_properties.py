"""Property tests: random bars round-trip exactly through the store, the codec and resampling."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ost_lab.secmaster import Secmaster, codec, store
from ost_lab.secmaster.resample import resample_intraday

MIN = 60_000_000_000


@st.composite
def bars(draw: st.DrawFn, max_size: int = 300) -> np.ndarray:
    """Valid bars: strictly increasing ts, low <= open, close <= high, volume >= 0.

    Hypothesis picks size, time origin, gap scale, price magnitude and the seed of the values.
    """
    n = draw(st.integers(1, max_size))
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    t0 = draw(st.integers(-(2**26), 2**26)) * MIN
    max_gap = draw(st.sampled_from([1, 2, 1000]))
    ts = t0 + np.cumsum(rng.integers(1, max_gap + 1, n)) * MIN
    top = draw(st.sampled_from([10**3, 10**12, 10**17]))
    q = np.sort(rng.integers(-top if draw(st.booleans()) else 1, top, (n, 4)), axis=1)
    swap = rng.random(n) < 0.5
    o = np.where(swap, q[:, 1], q[:, 2])
    c = np.where(swap, q[:, 2], q[:, 1])
    vol = rng.integers(0, draw(st.sampled_from([2, 10**6, 2**62])), n)
    return np.stack([ts, o, q[:, 3], q[:, 0], c, vol]).astype(np.int64)


@settings(max_examples=60, deadline=None)
@given(bars(max_size=2000))
def test_codec_roundtrip(cols: np.ndarray) -> None:
    np.testing.assert_array_equal(codec.decode(codec.encode(cols), cols.shape[1]), cols)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars(), st.integers(0, 3))
def test_store_roundtrip_exact_and_idempotent(cols: np.ndarray, split: int) -> None:
    with tempfile.TemporaryDirectory() as d, Secmaster(Path(d) / "p.sqlite") as sm:
        parts = np.array_split(np.arange(cols.shape[1]), split + 1)
        for part in [*parts, np.arange(cols.shape[1])]:  # pieces, then everything again
            with store.transaction(sm.conn):
                store.write_bars(sm.conn, "t", 7, 33, cols[:, part], str)
                store.bump_data_version(sm.conn)
        b = sm.bars(7, "1m", exact=True)
        got = np.stack([b.ts, b.open, b.high, b.low, b.close, b.volume])
        np.testing.assert_array_equal(got, cols)
        rows = sm.conn.execute(
            "SELECT ts_event, open, high, low, close, volume FROM ohlcv ORDER BY ts_event"
        ).fetchall()
        np.testing.assert_array_equal(np.asarray(rows, dtype=np.int64).T, cols)
        assert sm.conn.execute("SELECT row_count FROM coverage").fetchone() == (cols.shape[1],)


@settings(max_examples=40, deadline=None)
@given(bars(max_size=500), st.sampled_from([5, 15, 60, 1440]))
def test_resample_matches_pandas(cols: np.ndarray, minutes: int) -> None:
    cols = cols.copy()
    cols[5] //= 1 << 20  # keep sums far from overflow
    got = resample_intraday(cols, minutes * MIN)
    df = pd.DataFrame(cols[1:].T, columns=["open", "high", "low", "close", "volume"],
                      index=pd.to_datetime(cols[0], unit="ns"))  # fmt: skip
    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    exp = df.groupby(cols[0] // (minutes * MIN)).agg(agg)
    np.testing.assert_array_equal(got[1:].T, exp.to_numpy())


def test_codec_reads_zlib_chunks_of_the_first_format() -> None:
    import zlib

    cols = np.arange(60, dtype=np.int64).reshape(6, 10) * 7
    old = zlib.compress(np.diff(cols, axis=1, prepend=0).tobytes(), 1)
    np.testing.assert_array_equal(codec.decode(old, 10), cols)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.lists(st.decimals(0, 10**6, places=9, allow_nan=False), min_size=4, max_size=4),
            st.integers(0, 10**12),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_csv_decimal_prices_roundtrip_exactly(rows: list) -> None:
    from decimal import Decimal

    lines = ["ts,open,high,low,close,volume"]
    expect = []
    for i, (px, vol) in enumerate(rows):
        lo, a, b, hi = sorted(px)
        lines.append(f"{i * 60},{a},{hi},{lo},{b},{vol}")
        expect.append([int(Decimal(x) * 10**9) for x in (a, hi, lo, b)] + [vol])
    with tempfile.TemporaryDirectory() as d, Secmaster(Path(d) / "c.sqlite") as sm:
        p = Path(d) / "x.csv"
        p.write_text("\n".join(lines) + "\n")
        sm.ingest_csv(p, "X", ts_unit="s")
        b = sm.bars("X", "1m", exact=True)
        got = np.stack([b.open, b.high, b.low, b.close, b.volume]).T.tolist()
        assert got == expect
        assert b.ts.tolist() == [i * MIN for i in range(len(rows))]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(-(2**63), 2**63 - 1), min_size=6, max_size=6),
        min_size=1,
        max_size=50,
    )
)
def test_codec_roundtrips_any_int64(rows: list[list[int]]) -> None:
    cols = np.asarray(rows, dtype=np.int64).T.copy()
    np.testing.assert_array_equal(codec.decode(codec.encode(cols), cols.shape[1]), cols)


def test_codec_reads_zstd_chunks_of_the_second_format() -> None:
    import zstandard

    cols = np.arange(60, dtype=np.int64).reshape(6, 10) * 7
    old = zstandard.ZstdCompressor().compress(np.diff(cols, axis=1, prepend=0).tobytes())
    np.testing.assert_array_equal(codec.decode(old, 10), cols)
