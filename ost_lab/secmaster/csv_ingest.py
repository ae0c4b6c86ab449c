"""Ingest bars from CSV files (Yahoo daily, generic with a column mapping) and DataFrames.

CSV prices are parsed as decimals, so ``123.45`` is stored as exactly 123_450_000_000 (x1e9);
anything finer than 1e-9 after ``price_scale`` is rounded half-even. Plain files (no quotes or
blank lines, numbers with at most 9 decimals, ``price_scale`` 1) are parsed vectorised by
:mod:`csv_fast`; anything else row by row with ``Decimal``. Naive timestamps are read in ``tz``
and stored as UTC ns. Each input is one transaction: a bad line commits nothing.
"""

from __future__ import annotations

import csv
import hashlib
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ost_lab.secmaster import csv_fast, store, wal
from ost_lab.secmaster.dbn_ingest import IngestReport
from ost_lab.secmaster.errors import IngestError
from ost_lab.secmaster.schema import rtype_for

if TYPE_CHECKING:
    import pandas as pd

FIELDS = ("open", "high", "low", "close", "volume")
_TS_NAMES = ("ts_event", "timestamp", "datetime", "date", "time", "ts")
_NANO = Decimal(1_000_000_000)
_ONE = Decimal(1)


def _fixed(text: str, scale: Decimal) -> int:
    """A decimal string times ``scale`` as an exact int x1e9 (half-even beyond 1e-9)."""
    if scale == _ONE:  # fast exact path for plain decimals such as "-123.45"
        t = text.strip()
        body = t[1:] if t[:1] in ("-", "+") else t
        whole, _, frac = body.partition(".")
        if (
            whole.isascii()
            and whole.isdigit()
            and len(frac) <= 9
            and (not frac or (frac.isascii() and frac.isdigit()))
        ):
            v = int(whole) * 1_000_000_000 + (int(frac) * 10 ** (9 - len(frac)) if frac else 0)
            return -v if t[:1] == "-" else v
    value = Decimal(text.strip()) * scale * _NANO
    if not value.is_finite():
        raise InvalidOperation
    return int(value.quantize(_ONE, rounding=ROUND_HALF_EVEN))


def _write(
    conn: sqlite3.Connection,
    source: str,
    symbol: str,
    rtype: int,
    cols: np.ndarray[Any, np.dtype[np.int64]],
    label: store.Labeler,
    instrument: Mapping[str, Any],
    digest: str,
    kind: str,
) -> IngestReport:
    report = IngestReport(source, records=int(cols.shape[1]))
    with wal.bulk_write(conn, cols.nbytes), store.transaction(conn):
        iid = store.instrument_for_symbol(conn, symbol, create=instrument)
        report.bars = store.write_bars(conn, source, iid, rtype, cols, label)
        if report.bars:
            store.bump_data_version(conn)
        conn.execute(
            "INSERT OR REPLACE INTO ingests VALUES (?, ?, ?, ?, ?)",
            (source, digest, kind, report.bars, time.time_ns()),
        )
    return report


def _timestamps(
    source: str,
    values: Sequence[str] | np.ndarray[Any, Any],
    lines: Sequence[int] | np.ndarray[Any, Any],
    tz: str,
    fmt: str | None,
    unit: str | None,
) -> np.ndarray[Any, np.dtype[np.int64]]:
    import pandas as pd

    if unit is not None:
        try:
            nums = pd.to_numeric(pd.Series(values), errors="raise")
        except (ValueError, TypeError) as exc:
            bad = next(i for i, v in enumerate(values) if not v.strip().lstrip("-").isdigit())
            raise IngestError(
                source, f"bad epoch timestamp {values[bad]!r}", f"line {lines[bad]}"
            ) from exc
        idx = pd.DatetimeIndex(pd.to_datetime(nums, unit=unit, utc=True))
    else:
        parsed = pd.to_datetime(pd.Series(values), format=fmt, errors="coerce", utc=False)
        if parsed.isna().any():
            bad = int(np.argmax(parsed.isna().to_numpy()))
            raise IngestError(source, f"bad timestamp {values[bad]!r}", f"line {lines[bad]}")
        idx = pd.DatetimeIndex(parsed)
        if idx.tz is None:
            try:
                idx = idx.tz_localize(tz, ambiguous="raise", nonexistent="raise")
            except Exception as exc:
                raise IngestError(source, f"timestamps not valid in {tz}: {exc}") from exc
    return np.asarray(idx.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)


def ingest_csv(
    conn: sqlite3.Connection,
    path: Path | str,
    symbol: str,
    *,
    timeframe: str = "1m",
    columns: Mapping[str, str] | None = None,
    tz: str = "UTC",
    price_scale: float | str = 1,
    ts_format: str | None = None,
    ts_unit: str | None = None,
    delimiter: str = ",",
    skip_null: bool = False,
    instrument: Mapping[str, Any] | None = None,
    kind: str = "csv",
    progress: bool | None = None,
) -> IngestReport:
    """Ingest a generic OHLCV CSV with a header row.

    ``columns`` maps our fields (ts, open, high, low, close, volume) to CSV header names (default:
    the same names, case-insensitive; ts from ts_event/timestamp/datetime/date/time). Prices are
    multiplied by ``price_scale`` (e.g. 0.01 for cents). Naive timestamps are local to ``tz``;
    ``ts_unit`` ('s', 'ms', 'us', 'ns') reads epoch numbers instead. ``instrument`` gives reference
    data (asset_class, currency, exchange, multiplier, description...) for a new symbol.
    A progress bar is shown for files over 32 MB (``progress`` forces it on or off).
    """
    path = Path(path)
    source = str(path)
    rtype = rtype_for(timeframe)
    scale = Decimal(str(price_scale))
    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(source, f"cannot read: {exc}") from exc
    cut = text.find("\n")
    first = (text if cut < 0 else text[:cut]).splitlines()[:1]
    try:
        header = [h.strip() for h in next(csv.reader(first, delimiter=delimiter))]
    except StopIteration:
        raise IngestError(source, "empty file (no header)") from None
    lower = {h.lower(): i for i, h in enumerate(header)}
    mapping = {k.lower(): v for k, v in (columns or {}).items()}
    pos: dict[str, int] = {}
    for f in ("ts", *FIELDS):
        name = mapping.get(f)
        candidates = [name] if name else ([*_TS_NAMES] if f == "ts" else [f])
        found = next((lower[c.lower()] for c in candidates if c.lower() in lower), None)
        if found is None:
            raise IngestError(source, f"no column for {f!r} (header: {header})", "line 1")
        pos[f] = found
    ts_text: Any
    values: Any
    lines: Any
    fast = None
    if scale == _ONE and '"' not in first[0]:
        fast = csv_fast.parse(data, delimiter, len(header),
                              [pos[f] for f in FIELDS[:4]], pos["volume"], pos["ts"])  # fmt: skip
    if fast is not None:
        ts_text, values, lines = fast
    else:
        ts_text, values, lines = _parse_rows(source, data, text, delimiter, header, pos, scale,
                                             skip_null, progress, path.name)  # fmt: skip
    if not len(lines):
        raise IngestError(source, "no data rows")
    ts = _timestamps(source, ts_text, lines, tz, ts_format, ts_unit)
    try:
        cols = np.vstack([ts, np.asarray(values, dtype=np.int64)])
    except OverflowError:
        raise IngestError(source, "a price or volume does not fit int64 after scaling") from None
    inst = {"timezone": tz, **dict(instrument or {})}
    digest = hashlib.sha256(data).hexdigest()
    return _write(
        conn, source, symbol, rtype, cols, lambda i: f"line {lines[i]}", inst, digest, kind
    )


def _parse_rows(
    source: str,
    data: bytes,
    text: str,
    delimiter: str,
    header: list[str],
    pos: dict[str, int],
    scale: Decimal,
    skip_null: bool,
    progress: bool | None,
    name: str,
) -> tuple[list[str], list[list[int]], list[int]]:
    """Row-by-row exact parse (any CSV the csv module reads); errors name the line."""
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    next(reader)  # the header
    ts_text: list[str] = []
    lines: list[int] = []
    values: list[list[int]] = [[] for _ in FIELDS]
    rows: Iterable[list[str]] = reader
    if progress or (progress is None and len(data) >= 32 << 20):
        from tqdm.auto import tqdm

        rows = tqdm(reader, total=text.count("\n"), unit="line", desc=name)
    for row in rows:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise IngestError(
                source, f"{len(row)} fields, header has {len(header)}", f"line {line}"
            )
        if skip_null and all(row[pos[f]].strip().lower() in ("null", "") for f in FIELDS[:4]):
            continue
        for k, f in enumerate(FIELDS):
            cell = row[pos[f]]
            try:
                values[k].append(_fixed(cell, scale) if f != "volume" else _volume(cell))
            except (InvalidOperation, ValueError):
                raise IngestError(source, f"bad number {cell!r} in column {header[pos[f]]!r}",
                                  f"line {line}") from None  # fmt: skip
        ts_text.append(row[pos["ts"]])
        lines.append(line)
    return ts_text, values, lines


def _volume(cell: str) -> int:
    t = cell.strip()
    if t.isascii() and t.isdigit():
        return int(t)
    v = Decimal(t)
    if v != v.to_integral_value():
        raise ValueError("fractional volume")
    return int(v)


def ingest_yahoo_csv(
    conn: sqlite3.Connection,
    path: Path | str,
    symbol: str,
    *,
    tz: str = "America/New_York",
    instrument: Mapping[str, Any] | None = None,
) -> IngestReport:
    """Ingest a Yahoo Finance daily CSV (Date,Open,High,Low,Close,Adj Close,Volume) as 1d bars.

    Bars are stamped 00:00 UTC of the trading date (Databento's daily convention); rows that are
    all "null" (Yahoo's holiday rows) are skipped. Unadjusted Open..Close are stored.
    """
    inst = {"timezone": tz, "asset_class": "equity", **dict(instrument or {})}
    return ingest_csv(
        conn,
        path,
        symbol,
        timeframe="1d",
        columns={"ts": "Date"},
        tz="UTC",
        ts_format="%Y-%m-%d",
        skip_null=True,
        instrument=inst,
        kind="yahoo",
    )


def ingest_dataframe(
    conn: sqlite3.Connection,
    df: pd.DataFrame,
    symbol: str,
    *,
    timeframe: str = "1m",
    tz: str = "UTC",
    price_scale: float = 1.0,
    columns: Mapping[str, str] | None = None,
    instrument: Mapping[str, Any] | None = None,
) -> IngestReport:
    """Ingest a DataFrame indexed by bar start (DatetimeIndex; naive = ``tz``).

    Prices (times ``price_scale``) are rounded to the nearest 1e-9 (floats carry no exact
    decimals). Columns open, high, low, close, volume (case-insensitive) or via ``columns``.
    """
    import pandas as pd

    source = f"DataFrame[{symbol}]"
    if not isinstance(df.index, pd.DatetimeIndex):
        raise IngestError(source, f"index must be a DatetimeIndex, not {type(df.index).__name__}")
    rtype = rtype_for(timeframe)
    idx = df.index if df.index.tz is not None else df.index.tz_localize(tz)
    if idx.hasnans:
        raise IngestError(source, "NaT in the index", f"row {int(np.argmax(idx.isna()))}")
    ts = np.asarray(idx.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)
    lower = {str(c).lower(): c for c in df.columns}
    mapping = {k.lower(): v for k, v in (columns or {}).items()}
    cols = np.empty((6, len(df)), dtype=np.int64)
    cols[0] = ts
    for k, f in enumerate(FIELDS, start=1):
        name = mapping.get(f, lower.get(f))
        if name is None or name not in df.columns:
            raise IngestError(source, f"no column for {f!r} (columns: {list(df.columns)})")
        x = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(x)
        if bad.any():
            i = int(np.argmax(bad))
            raise IngestError(source, f"missing or non-numeric {f}: {df[name].iloc[i]!r}",
                              f"row {i} ({df.index[i]})")  # fmt: skip
        if f == "volume":
            if (x != np.floor(x)).any():
                i = int(np.argmax(x != np.floor(x)))
                raise IngestError(source, f"fractional volume {x[i]}", f"row {i} ({df.index[i]})")
            cols[k] = x.astype(np.int64)
        else:
            y = np.rint(x * price_scale * 1e9)
            if (np.abs(y) >= 2**63).any():
                raise IngestError(source, f"{f} does not fit int64 x1e9")
            cols[k] = y.astype(np.int64)
    digest = hashlib.sha256(cols.tobytes()).hexdigest()
    inst = {"timezone": tz, **dict(instrument or {})}
    return _write(
        conn, source, symbol, rtype, cols, lambda i: f"row {i} ({df.index[i]})", inst, digest, "df"
    )
