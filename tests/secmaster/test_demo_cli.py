"""The demo generator (deterministic, realistic shape) and the ``ost-lab secmaster`` commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ost_lab.cli import main
from ost_lab.secmaster import Secmaster, ensure_demo_secmaster
from ost_lab.secmaster.demo import INSTRUMENTS, _bars
from tests.secmaster.conftest import DBN_DIR, DBN_FILES


def test_demo_contents(demo_path: Path) -> None:
    with Secmaster(demo_path, readonly=True) as sm:
        hits = {r["symbol"]: r for r in sm.search("")}
        assert len(hits) == 8
        assert {h["asset_class"] for h in hits.values()} == {"equity", "fx", "future"}
        assert hits["ESH6"]["multiplier"] == 50.0
        aapl = sm.bars("AAPL", "1m", "2025-01-01", "2026-01-01")
        assert 90_000 < len(aapl) < 100_000  # ~250 sessions x 390 minutes
        days = aapl.to_pandas("America/New_York")
        assert days.index.time.min().strftime("%H:%M") == "09:30"
        assert days.index.time.max().strftime("%H:%M") == "15:59"
        # U-shaped intraday volume: open and close busier than midday
        by_min = days["volume"].groupby(days.index.time).mean().to_numpy()
        assert by_min[:15].mean() > 2 * by_min[150:240].mean() < by_min[-15:].mean()
        # overnight gaps exist: day open != previous close
        d = sm.bars("AAPL", "1d")
        assert (d.open[1:] != d.close[:-1]).mean() > 0.5
        t, q = sm.trades("AAPL"), sm.quotes("ESH6")
        assert len(t["price"]) > 1000 and len(q["bid_px"]) > 1000
        day = sm.bars("AAPL", "1m", int(t["ts_event"][0]) // 60_000_000_000 * 60_000_000_000,
                      int(t["ts_event"][-1]) + 1)  # fmt: skip
        pos = np.searchsorted(day.ts, t["ts_event"], side="right") - 1
        assert (t["price"] >= day.low[pos]).all() and (t["price"] <= day.high[pos]).all()


def test_demo_is_deterministic() -> None:
    a, b = _bars(INSTRUMENTS[6]), _bars(INSTRUMENTS[6])
    np.testing.assert_array_equal(a, b)


def test_ensure_demo_does_not_overwrite(tmp_path: Path) -> None:
    p = tmp_path / "x.sqlite"
    p.write_bytes(b"")
    assert ensure_demo_secmaster(p) is False
    assert p.read_bytes() == b""


@pytest.mark.skipif(not DBN_FILES, reason="no DBN test files")
def test_cli_ingest_info_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.sqlite")
    assert main(["secmaster", "--db", db, "ingest", *map(str, DBN_FILES)]) == 0
    assert "2 new bars" in capsys.readouterr().out
    assert main(["secmaster", "--db", db, "info"]) == 0
    assert "ohlcv: 6" in capsys.readouterr().out
    assert main(["secmaster", "--db", db, "search", "ES"]) == 0
    assert "ESH1" in capsys.readouterr().out
    bad = tmp_path / "bad.dbn"
    bad.write_bytes((DBN_DIR / "test_data.ohlcv-1m.dbn").read_bytes()[:-3])
    assert main(["secmaster", "--db", db, "ingest", str(bad)]) == 1
    assert "truncated" in capsys.readouterr().err


def test_compact_keeps_data_and_shrinks(tmp_path: Path, demo_path: Path) -> None:
    with Secmaster(demo_path, readonly=True) as demo:
        df = demo.bars("EURUSD", "1m", "2025-01-01", "2025-03-01").to_pandas()
    copy = tmp_path / "c.sqlite"
    with Secmaster(copy) as sm:
        sm.ingest_dataframe(df, "EURUSD", timeframe="1m")
        before = sm.bars("EURUSD", "1m", exact=True)
        version = sm.data_version
        assert sm.compact() > 0
        after = sm.bars("EURUSD", "1m", exact=True)
        np.testing.assert_array_equal(before.close, after.close)
        assert sm.data_version == version
    assert main(["secmaster", "--db", str(copy), "compact"]) == 0
