"""Reading: resampling against pandas, sessions, alignment, cache freshness across processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ost_lab.secmaster import Secmaster, SecmasterError
from ost_lab.secmaster.demo import INSTRUMENTS

AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


@pytest.fixture(scope="module")
def demo(demo_path: Path) -> Secmaster:
    return Secmaster(demo_path, readonly=True)


@pytest.mark.parametrize("tf,rule", [("5m", "5min"), ("15m", "15min"), ("1h", "1h")])
@pytest.mark.parametrize("symbol", ["AAPL", "EURUSD"])
def test_intraday_resample_matches_pandas(demo: Secmaster, symbol: str, tf: str, rule: str) -> None:
    start, end = "2025-03-03", "2025-03-15"  # spans the US DST change
    one = demo.bars(symbol, "1m", start, end, exact=True).to_pandas()
    expect = one.resample(rule).agg(AGG).dropna(subset=["open"]).astype("int64")
    got = demo.bars(symbol, tf, start, end, exact=True).to_pandas()
    pd.testing.assert_frame_equal(got, expect, check_freq=False, check_index_type=False,
                                  check_names=False)  # fmt: skip


@pytest.mark.parametrize("symbol", ["AAPL", "ESH6", "EURUSD"])
def test_daily_resample_follows_the_trading_session(demo: Secmaster, symbol: str) -> None:
    inst = next(i for i in INSTRUMENTS if i.symbol == symbol)
    one = demo.bars(symbol, "1m", "2025-02-01", "2025-04-01", exact=True).to_pandas()
    local = one.index.tz_convert("America/Chicago" if inst.session == "cme" else "America/New_York")
    # independent session rule: sessions opening at 17:00 local belong to the next day
    wall = local.tz_localize(None)
    session = (wall + pd.Timedelta(hours=7)).normalize() if inst.session != "us_equity" else (
        wall.normalize())  # fmt: skip
    expect = one.groupby(session.to_numpy()).agg(AGG)
    got = demo.bars(symbol, "1d", "2025-02-03", "2025-04-01", exact=True).to_pandas()
    expect = expect.loc[got.index.tz_localize(None)[0] : got.index.tz_localize(None)[-1]]
    np.testing.assert_array_equal(got.to_numpy(), expect.to_numpy())
    assert (got.index.tz_localize(None) == expect.index).all()
    if inst.session == "cme":  # Sunday-evening trading is part of Monday's bar, no Sunday bar
        assert not (got.index.day_of_week >= 5).any()


def test_multi_instrument_alignment(demo: Secmaster) -> None:
    mb = demo.bars(["AAPL", "EURUSD"], "1m", "2025-06-02", "2025-06-03")
    a = demo.bars("AAPL", "1m", "2025-06-02", "2025-06-03")
    e = demo.bars("EURUSD", "1m", "2025-06-02", "2025-06-03")
    assert np.array_equal(mb.ts, np.union1d(a.ts, e.ts))
    assert mb.present[:, 0].sum() == len(a) and mb.present[:, 1].sum() == len(e)
    np.testing.assert_array_equal(mb["AAPL"].close, a.close)
    assert np.isnan(mb.close[~mb.present[:, 0], 0]).all()
    df = mb.to_pandas("America/New_York")
    assert df[("close", "EURUSD")].notna().sum() == len(e)


def test_range_and_errors(demo: Secmaster) -> None:
    b = demo.bars("SPY", "1m", "2025-07-01 13:30", "2025-07-01 14:00")
    assert len(b) == 30 and b.ts[0] == pd.Timestamp("2025-07-01 13:30", tz="UTC").value
    assert b.to_pandas().index.tz is not None
    with pytest.raises(SecmasterError, match="unknown symbol"):
        demo.bars("NOPE", "1m")
    with pytest.raises(SecmasterError, match="bad timeframe"):
        demo.bars("SPY", "7x")
    with pytest.raises(SecmasterError, match="cannot build 90s"):
        demo.bars("SPY", "90s")


def test_cache_never_serves_stale_data_after_another_process_ingests(tmp_path: Path) -> None:
    path = tmp_path / "sm.sqlite"
    idx = pd.date_range("2024-01-02 14:30", periods=3, freq="1min", tz="UTC")
    df = pd.DataFrame({"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 1}, index=idx)
    with Secmaster(path) as sm:
        sm.ingest_dataframe(df, "C")
        assert len(sm.bars("C", "1m")) == 3
        assert len(sm.bars("C", "1m")) == 3  # served from the cache
        code = (
            "import pandas as pd; from ost_lab.secmaster import Secmaster;"
            f"s = Secmaster({str(path)!r});"
            "i = pd.date_range('2024-01-02 14:33', periods=2, freq='1min', tz='UTC');"
            "s.ingest_dataframe(pd.DataFrame({'open': 1.0, 'high': 2.0, 'low': 0.5,"
            " 'close': 1.25, 'volume': 2}, index=i), 'C')"
        )
        subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
        b = sm.bars("C", "1m")
        assert len(b) == 5 and b.close[-1] == 1.25


def test_search_for_the_picker(demo: Secmaster) -> None:
    assert [r["symbol"] for r in demo.search("MS")] == ["MSFT"]
    assert [r["symbol"] for r in demo.search("exxon")] == ["XOM"]
    assert [r["symbol"] for r in demo.search("", asset_class="future")] == ["ESH6"]
    es = demo.search("ESH6")[0]
    assert es["multiplier"] == 50.0 and es["tick_size"] == 0.25
    assert set(es["coverage"]) == {"1m", "trades", "quotes"}
    assert demo.search("100%_'; DROP TABLE ohlcv; --") == []
    assert len(demo.search("")) == 8


def test_eod_bars_and_path_level_ingest(tmp_path: Path) -> None:
    from ost_lab.secmaster import ingest_dataframe, store

    path = tmp_path / "e.sqlite"
    idx = pd.date_range("2024-01-02", periods=3, freq="1D", tz="UTC")
    df = pd.DataFrame({"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 9}, index=idx)
    assert ingest_dataframe(path, df, "E", timeframe="eod").bars == 3
    with Secmaster(path) as sm:
        b = sm.bars("E", "eod", exact=True)
        assert b.ts.tolist() == idx.as_unit("ns").asi8.tolist()
        assert sm.conn.execute("SELECT DISTINCT rtype FROM ohlcv").fetchall() == [(36,)]
        assert store.data_version(sm.conn) == 1


def test_daily_from_native_hours_equals_daily_from_minutes(demo: Secmaster, tmp_path: Path) -> None:
    inst = {"timezone": "America/Chicago", "session_start_min": 1020, "asset_class": "future"}
    m = demo.bars("ESH6", "1m", "2025-02-02", "2025-03-01").to_pandas()
    h = demo.bars("ESH6", "1h", "2025-02-02", "2025-03-01").to_pandas()
    with Secmaster(tmp_path / "h.sqlite") as sm:
        sm.ingest_dataframe(m, "FROM_MIN", timeframe="1m", instrument=inst)
        sm.ingest_dataframe(h, "FROM_HOUR", timeframe="1h", instrument=inst)
        a = sm.bars("FROM_MIN", "1d", exact=True)
        b = sm.bars("FROM_HOUR", "1d", exact=True)
        assert len(a) >= 19
        for f in ("ts", "open", "high", "low", "close", "volume"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
