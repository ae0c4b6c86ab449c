"""The bulk paths: in-place OHLCV decoding, multi-slice writes, the background WAL checkpoint."""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import databento_dbn as dbn
import numpy as np
import pytest
import zstandard

from ost_lab.secmaster import IngestError, Secmaster, codec, dbn_ingest, store, wal
from tests.secmaster.conftest import DBN_FILES, decode

MIN = 60_000_000_000
OHLCV_FILES = [p for p in DBN_FILES if ".ohlcv-" in p.name]
FIELDS = ("instrument_id", "rtype", "publisher_id", "ts_event", "open", "high", "low", "close",
          "volume")  # fmt: skip


def _walk(n: int, seed: int = 3, t0: int = 1_700_000_000 * 10**9) -> np.ndarray:
    """n valid 1m bars (6, n) with gaps, on a 0.25 tick grid, volumes in round lots."""
    rng = np.random.default_rng(seed)
    ts = t0 + np.cumsum(rng.integers(1, 4, n)) * MIN
    close = 20_000 + np.cumsum(rng.integers(-4, 5, n))
    opens = close - rng.integers(-2, 3, n)
    high = np.maximum(opens, close) + rng.integers(0, 4, n)
    low = np.minimum(opens, close) - rng.integers(0, 4, n)
    vol = rng.integers(0, 500, n) * 100
    tick = 250_000_000
    return np.stack([ts, opens * tick, high * tick, low * tick, close * tick, vol]).astype(np.int64)


def _dbn_file(path: Path, cols: np.ndarray, iid: int = 9, ts_out: bool = False) -> Path:
    """A DBN v3 OHLCV-1m file of ``cols`` written with databento-dbn's own types."""
    meta = dbn.Metadata(dataset="GLBX.MDP3", start=int(cols[0, 0]), stype_in=dbn.SType.RAW_SYMBOL,
                        stype_out=dbn.SType.INSTRUMENT_ID, schema=dbn.Schema.OHLCV_1M,
                        symbols=["X"], partial=[], not_found=[], mappings=[],
                        ts_out=ts_out)  # fmt: skip
    recs = []
    for t, o, h, lo, c, v in cols.T.tolist():
        extra = {"ts_out": t + 5} if ts_out else {}
        recs.append(bytes(dbn.OHLCVMsg(dbn.RType.OHLCV_1M, 1, iid, t, o, h, lo, c, v, **extra)))
    path.write_bytes(bytes(meta.encode()) + b"".join(recs))
    return path


@pytest.mark.parametrize("path", OHLCV_FILES, ids=lambda p: p.name)
def test_in_place_view_equals_databento_decoding(path: Path) -> None:
    raw = dbn_ingest._decompress(str(path), path.read_bytes())
    got = dbn_ingest._ohlcv_body(raw)
    records = decode(path)
    if len(records) == 1:  # no records (the 1d files): nothing to view, the decoder handles it
        assert got is None
        return
    assert got is not None
    meta, arr = got
    assert meta.dataset == records[0].dataset
    assert len(arr) == len(records) - 1
    for row, rec in zip(arr, records[1:], strict=True):
        assert tuple(int(row[f]) for f in FIELDS) == tuple(int(getattr(rec, f)) for f in FIELDS)


def test_other_schemas_use_the_record_decoder() -> None:
    for path in DBN_FILES:
        if ".ohlcv-" not in path.name:
            raw = dbn_ingest._decompress(str(path), path.read_bytes())
            assert dbn_ingest._ohlcv_body(raw) is None, path.name


def test_ts_out_records_are_viewed_with_their_longer_length(sm: Secmaster, tmp_path: Path) -> None:
    cols = _walk(300)
    path = _dbn_file(tmp_path / "tsout.dbn", cols, ts_out=True)
    raw = path.read_bytes()
    got = dbn_ingest._ohlcv_body(raw)
    assert got is not None and got[1].dtype.itemsize == dbn.OHLCVMsg.size_hint + 8
    assert sm.ingest_dbn(path).bars == 300
    b = sm.bars(9, "1m", exact=True)
    np.testing.assert_array_equal(np.stack([b.ts, b.open, b.high, b.low, b.close, b.volume]), cols)


def test_a_foreign_record_in_an_ohlcv_file_falls_back(sm: Secmaster, tmp_path: Path) -> None:
    cols = _walk(5)
    path = _dbn_file(tmp_path / "mixed.dbn", cols)
    t = int(cols[0, 0])
    trade = dbn.TradeMsg(1, 9, t, 10**9, 1, dbn.Action.TRADE, dbn.Side.ASK, 0, t, sequence=1)
    path.write_bytes(path.read_bytes() + bytes(trade))
    assert dbn_ingest._ohlcv_body(path.read_bytes()) is None
    rep = sm.ingest_dbn(path)
    assert (rep.bars, rep.trades) == (5, 1)


def test_truncated_ohlcv_file_is_still_rejected(sm: Secmaster, tmp_path: Path) -> None:
    path = _dbn_file(tmp_path / "cut.dbn", _walk(50))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(IngestError, match="truncated DBN"):
        sm.ingest_dbn(path)
    assert sm.conn.execute("SELECT count(*) FROM ohlcv").fetchone() == (0,)


def test_many_slices_overlapping_pieces_exact(sm: Secmaster) -> None:
    """Writes larger than one parameter slice, with a remainder, merged into stored chunks."""
    n = 3 * store._SLICE + 77
    cols = _walk(n)
    for part in (slice(0, n // 2), slice(n // 3, n), slice(0, n)):
        with store.transaction(sm.conn):
            store.write_bars(sm.conn, "t", 5, 33, cols[:, part], str)
            store.bump_data_version(sm.conn)
    rows = sm.conn.execute(
        "SELECT ts_event, open, high, low, close, volume FROM ohlcv ORDER BY ts_event"
    ).fetchall()
    np.testing.assert_array_equal(np.asarray(rows, dtype=np.int64).T, cols)
    b = sm.bars(5, "1m", exact=True)
    np.testing.assert_array_equal(np.stack([b.ts, b.open, b.high, b.low, b.close, b.volume]), cols)
    assert sm.conn.execute("SELECT row_count FROM coverage").fetchone() == (n,)


def test_progress_sums_to_the_input(sm: Secmaster) -> None:
    cols = _walk(2 * store._SLICE + 5)
    seen: list[int] = []
    for _ in range(2):  # new rows, then all duplicates
        seen.clear()
        with store.transaction(sm.conn):
            store.write_bars(sm.conn, "t", 5, 33, cols, str, seen.append)
        assert sum(seen) == cols.shape[1]


def test_conflict_with_rows_written_outside_the_api(sm: Secmaster) -> None:
    cols = _walk(1000)
    sm.conn.execute("INSERT INTO ohlcv VALUES (5, 33, ?, 1, 1, 1, 1, 1)", (int(cols[0, 500]),))
    with pytest.raises(IngestError, match="stored data conflicts"), store.transaction(sm.conn):
        store.write_bars(sm.conn, "t", 5, 33, cols, str)
    assert sm.conn.execute("SELECT count(*) FROM ohlcv").fetchone() == (1,)
    assert sm.conn.execute("SELECT count(*) FROM ohlcv_chunks").fetchone() == (0,)


def test_bulk_ingest_checkpoints_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wal, "BULK_BYTES", 1000)
    cols = _walk(20_000)
    path = _dbn_file(tmp_path / "big.dbn", cols)
    db = tmp_path / "sm.sqlite"
    with Secmaster(db) as sm:
        auto = sm.conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        cache = sm.conn.execute("PRAGMA cache_size").fetchone()
        assert sm.ingest_dbn(path).bars == 20_000
        assert sm.conn.execute("PRAGMA wal_autocheckpoint").fetchone() == auto
        assert sm.conn.execute("PRAGMA cache_size").fetchone() == cache
        sm.wait_checkpoint()
        # the database file itself (WAL ignored) now holds every row
        ro = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
        assert ro.execute("SELECT count(*) FROM ohlcv").fetchone() == (20_000,)
        ro.close()
        assert sm.bars(9, "1m").close.size == 20_000
    assert not wal._threads


def test_codec_format_3_is_smaller_than_format_2() -> None:
    cols = _walk(8192)
    blob = codec.encode(cols)
    assert blob[0] == 3
    assert len(blob) < 0.8 * len(_format2(cols))
    np.testing.assert_array_equal(codec.decode(blob, cols.shape[1]), cols)


def _format2(cols: np.ndarray) -> bytes:
    """A format-2 blob built here from its definition: prices / divisor relative to the bar's
    close, ts and close as deltas from 0, int64 columns, zstd."""
    g = int(np.gcd.reduce(cols[1:5].ravel()))
    px = cols[1:5] // g
    rel = [np.diff(cols[0], prepend=0), px[0] - px[3], px[1] - px[3], px[2] - px[3],
           np.diff(px[3], prepend=0), cols[5]]  # fmt: skip
    header = struct.pack("<Bq6B", 2, g, *([8] * 6))
    body = b"".join(np.asarray(r, dtype=np.int64).tobytes() for r in rel)
    return header + zstandard.ZstdCompressor().compress(body)


def test_codec_reads_chunks_of_format_2() -> None:
    cols = _walk(500)
    np.testing.assert_array_equal(codec.decode(_format2(cols), 500), cols)


def test_two_instruments_in_one_file_and_record_numbers(sm: Secmaster, tmp_path: Path) -> None:
    a, b = _walk(40, seed=1), _walk(40, seed=2)
    both = np.empty((6, 80), dtype=np.int64)
    both[:, 0::2], both[:, 1::2] = a, b
    iids = [11, 12] * 40
    path = tmp_path / "two.dbn"
    _dbn_file(path, both)
    raw = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(raw[4:8], "little")
    size = dbn.OHLCVMsg.size_hint
    for k, iid in enumerate(iids):  # set each record's instrument id (bytes 4-8 of a record)
        raw[start + k * size + 4 : start + k * size + 8] = iid.to_bytes(4, "little")
    bad = bytearray(raw)
    hi_at = start + 57 * size + 24  # record 58 (instrument 12): high below its low
    bad[hi_at : hi_at + 8] = (1).to_bytes(8, "little", signed=True)
    (tmp_path / "bad.dbn").write_bytes(bad)
    assert dbn_ingest._ohlcv_body(bytes(bad)) is not None
    with pytest.raises(IngestError, match=r"record 58\).*high < low"):
        sm.ingest_dbn(tmp_path / "bad.dbn")
    path.write_bytes(raw)
    assert sm.ingest_dbn(path).bars == 80
    for iid, cols in ((11, a), (12, b)):
        got = sm.bars(iid, "1m", exact=True)
        np.testing.assert_array_equal(
            np.stack([got.ts, got.open, got.high, got.low, got.close, got.volume]), cols
        )


def test_back_to_back_bulk_ingests_are_all_checkpointed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wal, "BULK_BYTES", 1000)
    db = tmp_path / "sm.sqlite"
    with Secmaster(db) as sm:
        for k in range(3):  # later requests arrive while a checkpoint may still be running
            cols = _walk(5000, seed=k, t0=(1_700_000_000 + k * 10**8) * 10**9)
            assert sm.ingest_dbn(_dbn_file(tmp_path / f"{k}.dbn", cols, iid=20 + k)).bars == 5000
        sm.wait_checkpoint()
        ro = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
        assert ro.execute("SELECT count(*) FROM ohlcv").fetchone() == (15_000,)
        ro.close()


def test_a_failed_background_checkpoint_is_only_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wal.checkpoint_in_background(str(tmp_path / "missing-dir" / "x.sqlite"))
    wal.wait()
    assert "background WAL checkpoint" in caplog.text
    assert not wal._threads
