"""Ingest Databento DBN files (v1/v2/v3, plain or zstd) and batch folders/zips.

Decoding is done by ``databento-dbn``; records are turned into numpy columns using the record
layouts the package itself publishes (``record._dtypes``), upgraded to DBN v3. Each file is one
transaction: any error leaves nothing from it in the store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import databento_dbn as dbn
import numpy as np
import numpy.typing as npt

from ost_lab.secmaster import store
from ost_lab.secmaster.errors import IngestError
from ost_lab.secmaster.schema import RTYPE_PERIOD_NS

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
U64_UNDEF = 2**64 - 1
I64_UNDEF = 2**63 - 1
I32_UNDEF = 2**31 - 1
_FEED = 1 << 24
_PROGRESS_MIN_BYTES = 32 << 20

ASSET_CLASS = {
    "K": "equity",
    "F": "future",
    "C": "option",
    "P": "option",
    "X": "fx",
    "B": "bond",
    "S": "future_spread",
    "T": "option_spread",
    "M": "mixed_spread",
}


@dataclass
class IngestReport:
    """What one ingest did (counts are rows newly written)."""

    source: str
    bars: int = 0
    trades: int = 0
    quotes: int = 0
    instruments: int = 0
    records: int = 0
    ignored: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: IngestReport) -> IngestReport:
        ignored = dict(self.ignored)
        for k, v in other.ignored.items():
            ignored[k] = ignored.get(k, 0) + v
        return IngestReport(
            self.source,
            self.bars + other.bars,
            self.trades + other.trades,
            self.quotes + other.quotes,
            self.instruments + other.instruments,
            self.records + other.records,
            ignored,
        )


def _decompress(source: str, data: bytes) -> bytes:
    if not data.startswith(ZSTD_MAGIC):
        return data
    import zstandard

    out: list[bytes] = []
    rest = data
    while rest:
        obj = zstandard.ZstdDecompressor().decompressobj()
        try:
            out.append(obj.decompress(rest))
        except zstandard.ZstdError as exc:
            raise IngestError(source, f"corrupt zstd data: {exc}") from exc
        if not obj.eof:
            raise IngestError(source, "truncated zstd stream (file cut short?)")
        rest = obj.unused_data
    return b"".join(out)


def decode_records(source: str, data: bytes, progress: bool | None = None) -> list[Any]:
    """All DBN records of ``data`` (metadata first), upgraded to v3; errors name ``source``."""
    raw = _decompress(source, data)
    if not raw.startswith(b"DBN"):
        raise IngestError(source, "not a DBN file (no DBN header)")
    policy: Any = dbn.VersionUpgradePolicy.UPGRADE_TO_V3
    decoder = dbn.DBNDecoder(upgrade_policy=policy)
    records: list[Any] = []
    bar = None
    if progress or (progress is None and len(raw) >= _PROGRESS_MIN_BYTES):
        from tqdm.auto import tqdm

        bar = tqdm(total=len(raw), unit="B", unit_scale=True, desc=Path(source).name)
    try:
        for off in range(0, len(raw), _FEED):
            piece = raw[off : off + _FEED]
            decoder.write(piece)
            try:
                records.extend(decoder.decode())
            except Exception as exc:
                raise IngestError(
                    source,
                    f"DBN decoding failed: {exc}",
                    f"after record {max(len(records) - 1, 0)}",
                ) from exc
            if bar is not None:
                bar.update(len(piece))
    finally:
        if bar is not None:
            bar.close()
    left = len(decoder.buffer())
    if not records or not isinstance(records[0], dbn.Metadata):
        raise IngestError(source, "truncated DBN: incomplete metadata header")
    if left:
        raise IngestError(
            source,
            f"truncated DBN: {left} trailing bytes do not form a whole record",
            f"after record {len(records) - 1}",
        )
    return records


def _columns(recs: list[Any]) -> npt.NDArray[Any]:
    """Records of one type as a numpy structured array, per the package's own layout."""
    dtype = np.dtype(recs[0]._dtypes)
    blob = b"".join(map(bytes, recs))
    width = len(blob) // len(recs)
    if width != dtype.itemsize:  # e.g. ts_out appended
        dtype = np.dtype({"names": dtype.names, "formats": [dtype[n] for n in dtype.names],
                          "offsets": [dtype.fields[n][1] for n in dtype.names],
                          "itemsize": width})  # fmt: skip
    return np.frombuffer(blob, dtype=dtype)


def _label(recno: npt.NDArray[np.int64]) -> store.Labeler:
    return lambda i: f"record {int(recno[i]) + 1}"


def _date(d: Any) -> str:
    return d.isoformat() if isinstance(d, dt.date) else str(d)


def ingest_records(
    conn: sqlite3.Connection,
    source: str,
    records: list[Any],
    symbology: dict[str, list[dict[str, Any]]] | None = None,
    on_progress: Callable[[int], object] | None = None,
) -> IngestReport:
    """Write decoded records (metadata first) in the caller's transaction."""
    meta = records[0]
    report = IngestReport(source, records=len(records) - 1)
    dataset = str(meta.dataset or "")
    body = records[1:]
    kinds = list(map(type, body))
    groups: dict[str, list[int]] = defaultdict(list)
    if len(set(kinds)) == 1:  # the usual single-schema file: no per-record grouping
        groups[kinds[0].__name__] = list(range(len(body)))
    else:
        for i, k in enumerate(kinds):
            groups[k.__name__].append(i)
    publishers: set[int] = set()
    for kind, idx in groups.items():
        recs = body if len(idx) == len(body) else [body[i] for i in idx]
        recno = np.asarray(idx, dtype=np.int64)
        if kind == "OHLCVMsg":
            report.bars += _write_ohlcv(conn, source, recs, recno, publishers, on_progress, dataset)
        elif kind == "InstrumentDefMsg":
            report.instruments += _write_definitions(conn, source, recs, publishers, dataset)
        elif kind == "TradeMsg":
            arr = _columns(recs)
            publishers.update(np.unique(arr["publisher_id"]).tolist())
            report.trades += _write_trades(conn, source, arr, recno)
        elif kind in ("MBP1Msg", "BBOMsg", "CMBP1Msg", "CBBOMsg"):
            arr = _columns(recs)
            publishers.update(np.unique(arr["publisher_id"]).tolist())
            report.quotes += _write_quotes(conn, source, arr, recno)
            if "action" in (arr.dtype.names or ()):
                trades = arr[arr["action"] == b"T"]
                report.trades += _write_trades(conn, source, trades, recno[arr["action"] == b"T"])
        else:
            report.ignored[kind] = len(idx)
    for pid in sorted(publishers):
        _publisher(conn, pid, dataset)
    stype_out = str(getattr(meta, "stype_out", "")).lower()
    mappings = symbology if symbology is not None else dict(getattr(meta, "mappings", {}) or {})
    if "instrument_id" in stype_out or symbology is not None:
        for sym, intervals in mappings.items():
            for iv in intervals:
                target = str(iv.get("symbol", iv.get("s", "")))
                if not target.isdigit():
                    continue
                start, end = (
                    _date(iv.get("start_date", iv.get("d0"))),
                    _date(iv.get("end_date", iv.get("d1"))),
                )
                if start >= end:
                    continue
                store.add_symbology(conn, str(sym), int(target), start, end)
                if (
                    conn.execute(
                        "SELECT 1 FROM instruments WHERE instrument_id = ?", (int(target),)
                    ).fetchone()
                    is None
                ):
                    store.upsert_instrument(
                        conn,
                        int(target),
                        symbol=str(sym),
                        exchange=_venue(dataset),
                        asset_class="unknown",
                        **_session_defaults(dataset),
                    )
    return report


def _venue(dataset: str) -> str:
    return dataset.split(".")[0] if dataset else ""


# Trading-session defaults by dataset venue, for daily bars resampled from intraday ones.
# CME Globex sessions open 17:00 Chicago the evening before; US equity venues trade a calendar day.
_SESSIONS = {"GLBX": ("America/Chicago", 1020), "IFUS": ("America/New_York", 1200)}
_US_EQUITY = {"XNAS", "XNYS", "ARCX", "XASE", "BATS", "BATY", "EDGA", "EDGX", "IEXG", "XBOS",
              "XPSX", "MEMX", "EPRL", "DBEQ", "EQUS", "XCHI", "XCIS"}  # fmt: skip


def _session_defaults(dataset: str) -> dict[str, Any]:
    """Time zone and session start for instruments first seen in ``dataset``."""
    venue = _venue(dataset)
    if venue in _SESSIONS:
        tz, start = _SESSIONS[venue]
        return {"timezone": tz, "session_start_min": start}
    if venue in _US_EQUITY:
        return {"timezone": "America/New_York", "session_start_min": 0}
    return {}


def _publisher(conn: sqlite3.Connection, pid: int, dataset: str) -> None:
    name = dataset
    try:
        pub = dbn.Publisher(pid)  # type: ignore[attr-defined]
        name = str(pub)
    except Exception:
        name = f"{dataset}.{_venue(dataset)}" if dataset else str(pid)
    parts = name.split(".")
    ds = ".".join(parts[:2]) if len(parts) >= 2 else dataset
    venue = parts[2] if len(parts) >= 3 else _venue(dataset)
    store.upsert_publisher(conn, pid, name, ds, venue)


def _write_ohlcv(
    conn: sqlite3.Connection,
    source: str,
    recs: list[Any],
    recno: npt.NDArray[np.int64],
    publishers: set[int],
    on_progress: Callable[[int], object] | None = None,
    dataset: str = "",
) -> int:
    arr = _columns(recs)
    publishers.update(np.unique(arr["publisher_id"]).tolist())
    if (arr["volume"] > np.uint64(2**63 - 1)).any():
        i = int(np.argmax(arr["volume"] > np.uint64(2**63 - 1)))
        raise IngestError(source, "volume does not fit int64", f"record {recno[i] + 1}")
    total = 0
    keys = arr["instrument_id"].astype(np.int64) * 256 + arr["rtype"]
    for key in np.unique(keys).tolist():
        sel = keys == key
        iid, rtype = key // 256, key % 256
        if rtype not in RTYPE_PERIOD_NS:
            raise IngestError(source, f"unsupported OHLCV rtype {rtype}")
        a = arr[sel]
        cols = np.stack(
            [
                a["ts_event"].astype(np.int64),
                a["open"],
                a["high"],
                a["low"],
                a["close"],
                a["volume"].astype(np.int64),
            ]
        )
        if (
            conn.execute("SELECT 1 FROM instruments WHERE instrument_id = ?", (iid,)).fetchone()
            is None
        ):
            store.upsert_instrument(
                conn, iid, symbol=str(iid), asset_class="unknown", **_session_defaults(dataset)
            )
        total += store.write_bars(conn, source, iid, rtype, cols, _label(recno[sel]), on_progress)
    return total


def _write_trades(
    conn: sqlite3.Connection, source: str, a: npt.NDArray[Any], recno: npt.NDArray[np.int64]
) -> int:
    if len(a) == 0:
        return 0
    cols = {
        "instrument_id": a["instrument_id"].astype(np.int64),
        "ts_event": a["ts_event"].astype(np.int64),
        "sequence": a["sequence"].astype(np.int64),
        "ts_recv": a["ts_recv"].astype(np.int64),
        "price": a["price"],
        "size": a["size"].astype(np.int64),
        "side": np.char.decode(a["side"], "ascii"),
    }
    return store.write_ticks(conn, source, "trades", cols, _label(recno))


def _px(x: npt.NDArray[np.int64]) -> list[int | None]:
    return [None if v == I64_UNDEF else v for v in x.tolist()]


def _write_quotes(
    conn: sqlite3.Connection, source: str, a: npt.NDArray[Any], recno: npt.NDArray[np.int64]
) -> int:
    seq = a["sequence"] if "sequence" in (a.dtype.names or ()) else np.zeros(len(a), np.int64)
    cols: dict[str, Any] = {
        "instrument_id": a["instrument_id"].astype(np.int64),
        "ts_event": a["ts_event"].astype(np.int64),
        "sequence": seq.astype(np.int64),
        "ts_recv": a["ts_recv"].astype(np.int64),
        "bid_px": _px(a["bid_px_00"]),
        "ask_px": _px(a["ask_px_00"]),
        "bid_sz": a["bid_sz_00"].astype(np.int64),
        "ask_sz": a["ask_sz_00"].astype(np.int64),
    }
    return store.write_ticks(conn, source, "quotes", cols, _label(recno))


def _write_definitions(
    conn: sqlite3.Connection,
    source: str,
    recs: list[Any],
    publishers: set[int],
    dataset: str = "",
) -> int:
    n = 0
    for rec in recs:
        publishers.add(int(rec.publisher_id))
        iclass = str(getattr(rec.instrument_class, "value", rec.instrument_class))
        iclass = iclass if len(iclass) == 1 else str(rec.instrument_class)
        mult: float = 1.0
        if rec.contract_multiplier not in (I32_UNDEF, 0):
            mult = float(rec.contract_multiplier)
        elif rec.unit_of_measure_qty not in (I64_UNDEF, 0):
            mult = rec.unit_of_measure_qty / 1e9
        tick = rec.min_price_increment
        lot = rec.min_lot_size_round_lot
        desc = " ".join(
            s
            for s in (rec.raw_symbol, rec.asset, rec.security_type, rec.cfi, rec.group)
            if s and s.strip()
        )
        store.upsert_instrument(
            conn,
            int(rec.instrument_id),
            symbol=rec.raw_symbol,
            asset_class=ASSET_CLASS.get(iclass, iclass or "other"),
            currency=rec.currency or "USD",
            exchange=rec.exchange or "",
            publisher_id=int(rec.publisher_id),
            multiplier=mult,
            tick_size=None if tick in (I64_UNDEF, 0) else int(tick),
            lot_size=None if lot in (I32_UNDEF, 0) else int(lot),
            expiry=None if rec.expiration == U64_UNDEF else int(rec.expiration),
            description=desc,
            **(
                _session_defaults(dataset)
                if conn.execute(
                    "SELECT 1 FROM instruments WHERE instrument_id = ?", (int(rec.instrument_id),)
                ).fetchone()
                is None
                else {}
            ),
        )
        n += 1
    return n


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ingest_dbn_bytes(
    conn: sqlite3.Connection,
    source: str,
    data: bytes,
    symbology: dict[str, list[dict[str, Any]]] | None = None,
    progress: bool | None = None,
) -> IngestReport:
    """Ingest one DBN file's bytes atomically."""
    records = decode_records(source, data, progress)
    bar = None
    if progress or (progress is None and len(data) >= _PROGRESS_MIN_BYTES):
        from tqdm.auto import tqdm

        bar = tqdm(total=len(records) - 1, unit="rec", desc=f"write {Path(source).name}")
    try:
        with store.transaction(conn):
            report = ingest_records(
                conn, source, records, symbology, None if bar is None else bar.update
            )
            if report.bars or report.trades or report.quotes or report.instruments:
                store.bump_data_version(conn)
            conn.execute(
                "INSERT OR REPLACE INTO ingests VALUES (?, ?, 'dbn', ?, ?)",
                (source, _sha(data), report.bars + report.trades + report.quotes, time.time_ns()),
            )
        if bar is not None:  # non-bar records do not tick the bar: finish it on success
            bar.update(bar.total - bar.n)
    finally:
        if bar is not None:
            bar.close()
    return report


def _batch_symbology(files: dict[str, bytes]) -> dict[str, list[dict[str, Any]]] | None:
    raw = files.get("symbology.json")
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise IngestError("symbology.json", f"invalid JSON: {exc}") from exc
    result = doc.get("result", doc)
    if not isinstance(result, dict):
        raise IngestError("symbology.json", "expected a 'result' object of symbol -> intervals")
    return {str(k): list(v) for k, v in result.items()}


def _is_dbn(name: str) -> bool:
    return name.endswith((".dbn", ".dbn.zst"))


def iter_batch(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every member of a batch folder or zip, JSON files first."""
    if path.is_dir():
        members = sorted(p for p in path.rglob("*") if p.is_file())
        for p in sorted(members, key=lambda p: not p.name.endswith(".json")):
            yield str(p), p.read_bytes()
    else:
        with zipfile.ZipFile(path) as zf:
            names = sorted(zf.namelist(), key=lambda n: (not n.endswith(".json"), n))
            for name in names:
                if not name.endswith("/"):
                    yield f"{path}!{name}", zf.read(name)


def ingest_batch(
    conn: sqlite3.Connection, path: Path, progress: bool | None = None
) -> IngestReport:
    """Ingest a Databento batch download (folder or zip): each DBN file atomically."""
    jsons: dict[str, bytes] = {}
    report = IngestReport(str(path))
    found = False
    for name, data in iter_batch(path):
        base = Path(name.split("!")[-1]).name
        if base.endswith(".json"):
            jsons[base] = data
        elif _is_dbn(base):
            found = True
            report = report + ingest_dbn_bytes(conn, name, data, _batch_symbology(jsons), progress)
    if not found:
        raise IngestError(str(path), "no .dbn or .dbn.zst files in this batch download")
    return report


def ingest_dbn(
    conn: sqlite3.Connection, paths: Iterable[Path | str], progress: bool | None = None
) -> IngestReport:
    """Ingest DBN files, batch folders and batch zips; each file is its own transaction."""
    total: IngestReport | None = None
    for p in map(Path, paths):
        if not p.exists():
            raise IngestError(str(p), "no such file or folder")
        if p.is_dir() or zipfile.is_zipfile(p):
            rep = ingest_batch(conn, p, progress)
        else:
            rep = ingest_dbn_bytes(conn, str(p), p.read_bytes(), None, progress)
        total = rep if total is None else total + rep
    return total if total is not None else IngestReport("")
