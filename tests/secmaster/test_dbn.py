"""DBN ingestion against Databento's own test files, cross-checked with databento-dbn decoding."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ost_lab.secmaster import IngestError, Secmaster
from tests.secmaster.conftest import DBN_DIR, DBN_FILES, decode, dump

pytestmark = pytest.mark.skipif(not DBN_FILES, reason=f"no DBN test files in {DBN_DIR}")
TF = {32: "1s", 33: "1m", 34: "1h", 35: "1d"}


def test_shared_files_present() -> None:
    assert len(DBN_FILES) == 13


@pytest.mark.parametrize("path", DBN_FILES, ids=lambda p: p.name)
def test_each_file_matches_decoded_records(sm: Secmaster, path: Path) -> None:
    records = decode(path)
    meta, recs = records[0], records[1:]
    report = sm.ingest_dbn(path)
    assert report.records == len(recs)
    for r in recs:
        kind = type(r).__name__
        if kind == "OHLCVMsg":
            b = sm.bars(int(r.instrument_id), TF[int(r.rtype)], r.ts_event, r.ts_event + 1,
                        exact=True)  # fmt: skip
            assert len(b) == 1
            assert (int(b.ts[0]), int(b.open[0]), int(b.high[0]), int(b.low[0]),
                    int(b.close[0]), int(b.volume[0])) == (
                r.ts_event, r.open, r.high, r.low, r.close, r.volume)  # fmt: skip
            f = sm.bars(int(r.instrument_id), TF[int(r.rtype)], r.ts_event, r.ts_event + 1)
            assert abs(f.close[0] - r.close / 1e9) <= 1e-9 * max(1.0, abs(r.close / 1e9))
        elif kind == "TradeMsg" or (kind == "MBP1Msg" and str(r.action) in ("T", "Action.TRADE")):
            t = sm.trades(int(r.instrument_id), r.ts_event, r.ts_event + 1)
            i = list(t["sequence"]).index(r.sequence)
            assert int(t["price_fixed"][i]) == r.price
            assert int(t["size"][i]) == r.size
            assert int(t["ts_recv"][i]) == r.ts_recv
        if kind == "MBP1Msg":
            q = sm.quotes(int(r.instrument_id), r.ts_event, r.ts_event + 1)
            i = list(q["sequence"]).index(r.sequence)
            lvl = r.levels[0]
            assert int(q["bid_px_fixed"][i]) == lvl.bid_px
            assert int(q["ask_px_fixed"][i]) == lvl.ask_px
            assert (int(q["bid_sz"][i]), int(q["ask_sz"][i])) == (lvl.bid_sz, lvl.ask_sz)
        if kind == "InstrumentDefMsg":
            inst = sm.instrument(int(r.instrument_id))
            assert inst["symbol"] == r.raw_symbol
            assert inst["exchange"] == r.exchange
            assert inst["lot_size"] == r.min_lot_size_round_lot
    # symbology from the metadata's mappings
    for sym, intervals in meta.mappings.items():
        for iv in intervals:
            row = sm.conn.execute(
                "SELECT instrument_id FROM symbology WHERE symbol = ? AND start_date = ?",
                (sym, iv["start_date"].isoformat()),
            ).fetchone()
            assert row == (int(iv["symbol"]),)


def test_all_files_together_and_idempotent(sm: Secmaster) -> None:
    sm.ingest_dbn(*DBN_FILES)
    before = dump(sm)
    n_ohlcv = len(before["ohlcv"])
    unique = {
        (r.instrument_id, int(r.rtype), r.ts_event)
        for p in DBN_FILES
        for r in decode(p)[1:]
        if type(r).__name__ == "OHLCVMsg"
    }  # the 1m bars come in four files (plain, v1, v2, v3 zst)
    assert n_ohlcv == len(unique) == 6
    sm.ingest_dbn(*DBN_FILES)
    assert dump(sm) == before
    cov = sm.conn.execute("SELECT rtype, row_count FROM coverage ORDER BY rtype").fetchall()
    assert cov == [(32, 2), (33, 2), (34, 2)]


def test_versions_1_2_3_give_identical_bars(tmp_path: Path) -> None:
    results = []
    for name in ("test_data.ohlcv-1m.v1.dbn.zst", "test_data.ohlcv-1m.v2.dbn.zst",
                 "test_data.ohlcv-1m.v3.dbn.zst", "test_data.ohlcv-1m.dbn"):  # fmt: skip
        with Secmaster(tmp_path / f"{name}.sqlite") as s:
            s.ingest_dbn(DBN_DIR / name)
            b = s.bars("ESH1", "1m", exact=True)
            results.append(np.stack([b.ts, b.open, b.high, b.low, b.close, b.volume]))
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_symbol_resolution_uses_symbology(sm: Secmaster) -> None:
    sm.ingest_dbn(DBN_DIR / "test_data.ohlcv-1m.dbn")
    by_symbol = sm.bars("ESH1", "1m", exact=True)
    by_id = sm.bars(5482, "1m", exact=True)
    np.testing.assert_array_equal(by_symbol.close, by_id.close)
    # outside the mapping's dates the symbol means nothing
    assert len(sm.bars("ESH1", "1m", "2021-01-01", "2021-02-01")) == 0


def _cut(src: Path, dst: Path, drop: int) -> Path:
    dst.write_bytes(src.read_bytes()[:-drop])
    return dst


@pytest.mark.parametrize(
    "name,drop",
    [("test_data.ohlcv-1m.dbn", 10), ("test_data.trades.dbn", 5),
     ("test_data.ohlcv-1m.v3.dbn.zst", 20), ("test_data.definition.dbn", 100)],
)  # fmt: skip
def test_truncated_dbn_is_rejected_atomically(
    sm: Secmaster, tmp_path: Path, name: str, drop: int
) -> None:
    sm.ingest_dbn(DBN_DIR / "test_data.ohlcv-1h.dbn")
    before = dump(sm)
    bad = _cut(DBN_DIR / name, tmp_path / name, drop)
    with pytest.raises(IngestError, match=r"truncated") as info:
        sm.ingest_dbn(bad)
    assert str(bad) in str(info.value)
    assert "nothing from this input was committed" in str(info.value)
    assert dump(sm) == before
    sm.ingest_dbn(DBN_DIR / "test_data.ohlcv-1m.dbn")  # still usable
    assert len(sm.bars("ESH1", "1m")) == 2


def test_garbage_and_missing_files(sm: Secmaster, tmp_path: Path) -> None:
    junk = tmp_path / "junk.dbn"
    junk.write_bytes(b"this is not DBN at all" * 10)
    with pytest.raises(IngestError, match="not a DBN file"):
        sm.ingest_dbn(junk)
    with pytest.raises(IngestError, match="no such file"):
        sm.ingest_dbn(tmp_path / "missing.dbn")


def test_later_bad_file_keeps_earlier_files(sm: Secmaster, tmp_path: Path) -> None:
    bad = _cut(DBN_DIR / "test_data.ohlcv-1s.dbn", tmp_path / "bad.dbn", 7)
    with pytest.raises(IngestError):
        sm.ingest_dbn(DBN_DIR / "test_data.ohlcv-1m.dbn", bad)
    assert len(sm.bars("ESH1", "1m")) == 2
    assert sm.conn.execute("SELECT count(*) FROM ohlcv WHERE rtype = 32").fetchone() == (0,)


def _batch(folder: Path) -> Path:
    folder.mkdir()
    shutil.copy(
        DBN_DIR / "test_data.ohlcv-1m.v3.dbn.zst", folder / "glbx-mdp3-20201228.ohlcv-1m.dbn.zst"
    )
    shutil.copy(DBN_DIR / "test_data.trades.dbn", folder / "glbx-mdp3-20201228.trades.dbn")
    (folder / "metadata.json").write_text(json.dumps({"query": {"dataset": "GLBX.MDP3"}}))
    (folder / "symbology.json").write_text(json.dumps({
        "result": {"ESH1": [{"d0": "2020-12-27", "d1": "2020-12-30", "s": "5482"}]},
        "stype_in": "raw_symbol", "stype_out": "instrument_id",
    }))  # fmt: skip
    return folder


def test_batch_folder_and_zip(tmp_path: Path) -> None:
    folder = _batch(tmp_path / "batch")
    zpath = tmp_path / "batch.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in folder.iterdir():
            zf.write(p, f"GLBX-123/{p.name}")
    for i, src in enumerate((folder, zpath)):
        with Secmaster(tmp_path / f"b{i}.sqlite") as s:
            rep = s.ingest_dbn(src)
            assert (rep.bars, rep.trades) == (2, 2)
            assert s.conn.execute(
                "SELECT start_date, end_date FROM symbology WHERE symbol = 'ESH1'"
            ).fetchall() == [("2020-12-27", "2020-12-30")]
            assert len(s.bars("ESH1", "1m")) == 2
            assert len(s.trades("ESH1")["price"]) == 2


def test_progress_bar_runs(sm: Secmaster, capsys: pytest.CaptureFixture[str]) -> None:
    sm.ingest_dbn(DBN_DIR / "test_data.ohlcv-1m.dbn", progress=True)
    assert "100%" in capsys.readouterr().err


def _encode(path: Path, bars: list[tuple[int, int, int, int, int, int]]) -> Path:
    """A DBN file written with databento-dbn's own encoder types."""
    import databento_dbn as dbn

    meta = dbn.Metadata(
        dataset="GLBX.MDP3",
        start=0,
        stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=dbn.Schema.OHLCV_1M,
        symbols=["X"],
        partial=[],
        not_found=[],
        mappings=[],
    )
    body = b"".join(bytes(dbn.OHLCVMsg(dbn.RType.OHLCV_1M, 1, 77, *b)) for b in bars)
    path.write_bytes(bytes(meta.encode()) + body)
    return path


@pytest.mark.parametrize(
    "bad,pattern",
    [
        ((120_000_000_000, 10, 12, 13, 11, 5), r"record 3\).*high < low"),
        ((60_000_000_000, 10, 12, 9, 11, 6), r"record 3\).*two bars .* different values"),
    ],
)
def test_bad_dbn_records_rejected_atomically(
    sm: Secmaster, tmp_path: Path, bad: tuple[int, int, int, int, int, int], pattern: str
) -> None:
    good = [(0, 10, 12, 9, 11, 5), (60_000_000_000, 10, 12, 9, 11, 5)]
    with pytest.raises(IngestError, match=pattern):
        sm.ingest_dbn(_encode(tmp_path / "bad.dbn", [*good, bad]))
    assert sm.conn.execute("SELECT count(*) FROM ohlcv").fetchone() == (0,)
    assert sm.conn.execute("SELECT count(*) FROM instruments").fetchone() == (0,)
    assert sm.ingest_dbn(_encode(tmp_path / "good.dbn", good)).bars == 2
    changed = [(0, 10, 12, 9, 11, 5), (60_000_000_000, 10, 12, 9, 10, 5)]
    with pytest.raises(IngestError, match=r"record 2\).*differs from the stored bar"):
        sm.ingest_dbn(_encode(tmp_path / "changed.dbn", changed))
    assert sm.bars(77, "1m", exact=True).close.tolist() == [11, 11]


def test_session_defaults_by_venue(sm: Secmaster) -> None:
    sm.ingest_dbn(DBN_DIR / "test_data.ohlcv-1h.dbn", DBN_DIR / "test_data.definition.dbn")
    es, msft = sm.instrument(5482), sm.instrument(6819)
    assert (es["timezone"], es["session_start_min"]) == ("America/Chicago", 1020)
    assert (msft["timezone"], msft["session_start_min"]) == ("America/New_York", 0)
    # the two 1h bars (13:00 and 14:00 UTC) fall in the CME session of 2020-12-28
    d = sm.bars("ESH1", "1d", exact=True)
    h = sm.bars("ESH1", "1h", exact=True)
    assert d.ts.tolist() == [1609113600000000000]
    assert (d.open[0], d.high[0], d.low[0], d.close[0], d.volume[0]) == (
        h.open[0], h.high.max(), h.low.min(), h.close[-1], h.volume.sum())  # fmt: skip
