"""``Secmaster``: reading bars and ticks as numpy columns, with a cache that cannot go stale.

Reads decode the column chunks (``ohlcv_chunks``) instead of fetching rows, and keep decoded
chunk ranges in a per-process cache keyed by file and validated against the ``data_version``
counter that every ingest bumps in its own transaction, so an ingest by any process invalidates
it. Reads run in one read transaction so the counter and the data are one consistent snapshot.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ost_lab.secmaster import codec, resample, schema, search, store, wal
from ost_lab.secmaster.errors import SecmasterError

if TYPE_CHECKING:
    import pandas as pd

    from ost_lab.secmaster.dbn_ingest import IngestReport

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
SCALE = 1_000_000_000
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CACHE_BYTES = 1 << 30
TimeLike = Any
"""ns int, ISO string, datetime/date, numpy datetime64 or pandas Timestamp (naive means UTC)."""


@dataclass(frozen=True)
class Bars:
    """One instrument's bars as columns; prices float64 (or exact int64 x1e9 if ``exact``)."""

    symbol: str
    timeframe: str
    ts: I64
    open: Any
    high: Any
    low: Any
    close: Any
    volume: I64
    exact: bool = False

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def to_pandas(self, tz: str = "UTC") -> pd.DataFrame:
        """A DataFrame indexed by tz-aware bar start (``tz``), columns open..volume."""
        import pandas as pd

        idx = pd.DatetimeIndex(self.ts.astype("datetime64[ns]"), name="ts_event")
        return pd.DataFrame(
            {
                "open": self.open,
                "high": self.high,
                "low": self.low,
                "close": self.close,
                "volume": self.volume,
            },
            index=idx.tz_localize("UTC").tz_convert(tz),
        )


@dataclass(frozen=True)
class MultiBars:
    """Several instruments aligned on the union of their bar times.

    2-D arrays are (time, instrument); ``present`` marks real bars. Missing float prices are NaN,
    missing exact prices 0, missing volume 0.
    """

    symbols: list[str]
    timeframe: str
    ts: I64
    open: Any
    high: Any
    low: Any
    close: Any
    volume: I64
    present: npt.NDArray[np.bool_]
    exact: bool = False

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def __getitem__(self, symbol: str) -> Bars:
        j = self.symbols.index(symbol)
        m = self.present[:, j]
        return Bars(
            symbol,
            self.timeframe,
            self.ts[m],
            self.open[m, j],
            self.high[m, j],
            self.low[m, j],
            self.close[m, j],
            self.volume[m, j],
            self.exact,
        )

    def to_pandas(self, tz: str = "UTC") -> pd.DataFrame:
        """Columns MultiIndex (field, symbol), tz-aware index."""
        import pandas as pd

        idx = pd.DatetimeIndex(self.ts.astype("datetime64[ns]"), name="ts_event")
        idx = idx.tz_localize("UTC").tz_convert(tz)
        parts = {
            (f, s): getattr(self, f)[:, j]
            for f in ("open", "high", "low", "close", "volume")
            for j, s in enumerate(self.symbols)
        }
        return pd.DataFrame(parts, index=idx)


def to_ns(t: TimeLike) -> int:
    """A time as int ns since the epoch UTC (naive values are UTC)."""
    if isinstance(t, (int, np.integer)):
        return int(t)
    import pandas as pd

    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.as_unit("ns").value)


def parse_timeframe(timeframe: str) -> int:
    """'1s', '5m', '15m', '1h', '1d' ... -> period in ns."""
    m = re.fullmatch(r"(\d+)\s*([smhd])", timeframe.strip().lower())
    if not m or int(m.group(1)) <= 0:
        raise SecmasterError(f"bad timeframe {timeframe!r}; use e.g. '1m', '5m', '1h', '1d'")
    return int(m.group(1)) * _UNITS[m.group(2)] * SCALE


def _date_ns(d: str) -> int:
    if d >= "9999":
        return 2**63 - 1
    return to_ns(dt.date.fromisoformat(d).isoformat())


class _ChunkCache:
    """Process-wide LRU of decoded chunk ranges, tagged with the data_version they came from."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.items: OrderedDict[tuple[Any, ...], tuple[int, I64]] = OrderedDict()
        self.bytes = 0
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...], version: int) -> I64 | None:
        with self.lock:
            hit = self.items.get(key)
            if hit is None:
                return None
            if hit[0] != version:
                self.bytes -= hit[1].nbytes
                del self.items[key]
                return None
            self.items.move_to_end(key)
            return hit[1]

    def put(self, key: tuple[Any, ...], version: int, cols: I64) -> None:
        with self.lock:
            old = self.items.pop(key, None)
            if old is not None:
                self.bytes -= old[1].nbytes
            cols.flags.writeable = False
            self.items[key] = (version, cols)
            self.bytes += cols.nbytes
            while self.bytes > self.max_bytes and len(self.items) > 1:
                _, (_, ev) = self.items.popitem(last=False)
                self.bytes -= ev.nbytes

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.bytes = 0


CACHE = _ChunkCache(_CACHE_BYTES)


class Secmaster:
    """The securities master at ``path`` (default: ``ost_lab.paths.secmaster_path()``)."""

    def __init__(self, path: Path | str | None = None, *, readonly: bool = False) -> None:
        if path is None:
            from ost_lab.paths import secmaster_path

            path = secmaster_path()
        self.path = Path(path)
        self.readonly = readonly
        self.conn: sqlite3.Connection = schema.connect(self.path, readonly=readonly)
        self._db_file = wal.db_file(self.conn)
        st = os.stat(self.path)
        self._file_key = (str(self.path.resolve()), st.st_dev, st.st_ino)

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (after any background WAL checkpoint of this file)."""
        self.wait_checkpoint()
        self.conn.close()

    def wait_checkpoint(self) -> None:
        """Wait until the WAL checkpoint that follows a bulk ingest has copied it into the file."""
        if self._db_file:
            wal.wait(self._db_file)

    def __enter__(self) -> Secmaster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Secmaster({str(self.path)!r})"

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN")
        try:
            yield self.conn
        finally:
            self.conn.execute("COMMIT")

    @property
    def data_version(self) -> int:
        """Bumped by every committed ingest (by any process)."""
        return store.data_version(self.conn)

    # -- ingestion -------------------------------------------------------------------------
    def ingest(self, *paths: Path | str, progress: bool | None = None) -> IngestReport:
        """Ingest DBN files / batch folders / zips, and Yahoo-style CSVs (symbol = file stem)."""
        from ost_lab.secmaster.csv_ingest import ingest_yahoo_csv
        from ost_lab.secmaster.dbn_ingest import IngestReport, ingest_dbn

        total = IngestReport(", ".join(map(str, paths)))
        for p in map(Path, paths):
            if p.suffix.lower() == ".csv":
                total = total + ingest_yahoo_csv(self.conn, p, p.stem.upper())
            else:
                total = total + ingest_dbn(self.conn, [p], progress)
        return total

    def ingest_dbn(self, *paths: Path | str, progress: bool | None = None) -> IngestReport:
        """Ingest DBN files, batch folders or zips (each file atomically)."""
        from ost_lab.secmaster.dbn_ingest import ingest_dbn

        return ingest_dbn(self.conn, paths, progress)

    def ingest_csv(self, path: Path | str, symbol: str, **kwargs: Any) -> IngestReport:
        """Ingest a generic OHLCV CSV; see :func:`ost_lab.secmaster.csv_ingest.ingest_csv`."""
        from ost_lab.secmaster.csv_ingest import ingest_csv

        return ingest_csv(self.conn, path, symbol, **kwargs)

    def ingest_yahoo_csv(self, path: Path | str, symbol: str, **kwargs: Any) -> IngestReport:
        """Ingest a Yahoo Finance daily CSV (Date, Open, High, Low, Close, Adj Close, Volume)."""
        from ost_lab.secmaster.csv_ingest import ingest_yahoo_csv

        return ingest_yahoo_csv(self.conn, path, symbol, **kwargs)

    def ingest_dataframe(self, df: pd.DataFrame, symbol: str, **kwargs: Any) -> IngestReport:
        """Ingest a DataFrame with a DatetimeIndex; see ``csv_ingest.ingest_dataframe``."""
        from ost_lab.secmaster.csv_ingest import ingest_dataframe

        return ingest_dataframe(self.conn, df, symbol, **kwargs)

    # -- reference data ---------------------------------------------------------------------
    def search(
        self, text: str = "", *, asset_class: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Instrument search for the picker (symbol prefix, description words, asset class)."""
        return search.search(self.conn, text, asset_class=asset_class, limit=limit)

    def instrument(self, instrument_id: int) -> dict[str, Any]:
        """One instrument's reference data."""
        cur = self.conn.execute(
            "SELECT * FROM instruments WHERE instrument_id = ?", (instrument_id,)
        )
        row = cur.fetchone()
        if row is None:
            raise SecmasterError(f"no instrument {instrument_id}")
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def compact(self) -> int:
        """Rewrite the file with full pages (SQLite VACUUM); returns bytes saved.

        Appends leave B-tree pages about 87% full; a compacted file is about 10% smaller (about
        54 instead of 60 bytes per 1m bar). Takes a write lock and rewrites the whole file.
        """
        if self.readonly:
            raise SecmasterError("compact() needs a read-write Secmaster")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = self.path.stat().st_size
        self.conn.execute("VACUUM")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return before - self.path.stat().st_size

    def info(self) -> dict[str, Any]:
        """Counts per table and the schema/data versions."""
        c = self.conn
        out: dict[str, Any] = {
            "path": str(self.path),
            "schema_version": c.execute("PRAGMA user_version").fetchone()[0],
            "data_version": self.data_version,
            "file_bytes": self.path.stat().st_size,
        }
        for t in ("instruments", "symbology", "ohlcv", "trades", "quotes", "publishers"):
            out[t] = c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        return out

    def resolve(self, symbol: str | int, start: int, end: int) -> list[tuple[int, int, int]]:
        """(instrument_id, from_ns, to_ns) segments that ``symbol`` means within [start, end)."""
        if isinstance(symbol, (int, np.integer)):
            return [(int(symbol), start, end)]
        rows = self.conn.execute(
            "SELECT instrument_id, start_date, end_date FROM symbology WHERE symbol = ? "
            "ORDER BY start_date",
            (symbol,),
        ).fetchall()
        segs = []
        for iid, d0, d1 in rows:
            lo, hi = max(start, _date_ns(d0)), min(end, _date_ns(d1))
            if lo < hi:
                segs.append((int(iid), lo, hi))
        if rows:
            return segs
        ids = self.conn.execute(
            "SELECT instrument_id FROM instruments WHERE symbol = ? ORDER BY instrument_id",
            (symbol,),
        ).fetchall()
        if len(ids) == 1:
            return [(int(ids[0][0]), start, end)]
        if symbol.isdigit():
            return [(int(symbol), start, end)]
        if not ids:
            raise SecmasterError(f"unknown symbol {symbol!r}")
        raise SecmasterError(
            f"symbol {symbol!r} is ambiguous (instruments {[i[0] for i in ids]}) and has no "
            "symbology; pass an instrument_id"
        )

    # -- bars ------------------------------------------------------------------------------
    def raw_bars(self, instrument_id: int, rtype: int, start: int, end: int) -> I64:
        """Stored bars of one instrument and rtype with ts in [start, end): (6, n) int64, exact."""
        start, end = max(start, -(2**63)), min(end, 2**63 - 1)
        span = schema.chunk_span_ns(rtype)
        c0, c1 = start // span, (end - 1) // span
        with self._snapshot() as conn:
            version = store.data_version(conn)
            key = (*self._file_key, instrument_id, rtype, c0, c1)
            cols = CACHE.get(key, version)
            if cols is None:
                rows = conn.execute(
                    "SELECT n, data FROM ohlcv_chunks WHERE instrument_id = ? AND rtype = ? "
                    "AND chunk BETWEEN ? AND ? ORDER BY chunk",
                    (instrument_id, rtype, c0, c1),
                ).fetchall()
                parts = [codec.decode(blob, n) for n, blob in rows]
                cols = np.concatenate(parts, axis=1) if parts else np.empty((6, 0), dtype=np.int64)
                CACHE.put(key, version, cols)
        i0, i1 = np.searchsorted(cols[0], [start, end])
        return cols[:, i0:i1]

    def _session(self, instrument_id: int) -> tuple[str, int]:
        row = self.conn.execute(
            "SELECT timezone, session_start_min FROM instruments WHERE instrument_id = ?",
            (instrument_id,),
        ).fetchone()
        return (str(row[0]), int(row[1])) if row else ("UTC", 0)

    def _rtypes(self, instrument_id: int) -> set[int]:
        return {
            r[0]
            for r in self.conn.execute(
                "SELECT rtype FROM coverage WHERE instrument_id = ?", (instrument_id,)
            )
        }

    def _series(self, symbol: str | int, timeframe: str, start: int, end: int) -> I64:
        parts: list[I64] = []
        if timeframe.strip().lower() == "eod":  # end-of-day bars are only ever native
            for iid, lo, hi in self.resolve(symbol, start, end):
                parts.append(self.raw_bars(iid, schema.RTYPE_EOD, lo, hi))
            return np.concatenate(parts, axis=1) if parts else np.empty((6, 0), dtype=np.int64)
        period = parse_timeframe(timeframe)
        for iid, lo, hi in self.resolve(symbol, start, end):
            have = self._rtypes(iid)
            native = {
                schema.RTYPE_PERIOD_NS[r]: r for r in (35, 34, 33, 32) if r in have
            }  # finest last
            if period in native:
                parts.append(self.raw_bars(iid, native[period], lo, hi))
                continue
            base = [p for p in sorted(native, reverse=True) if period % p == 0 and p < period]
            if period % resample.DAY_NS == 0:  # session boundaries must fall on base bars
                sess_ns = self._session(iid)[1] * resample.MIN_NS
                base = [p for p in base if sess_ns % p == 0 and p < resample.DAY_NS]
            if not base:
                if native:
                    raise SecmasterError(
                        f"{symbol}: cannot build {timeframe} bars from stored timeframes "
                        f"{sorted(schema.RTYPE_TIMEFRAME[r] for r in native.values())}"
                    )
                continue
            rtype = native[base[0]]
            if period % resample.DAY_NS == 0:
                tz, sess = self._session(iid)
                # widen by a day on each side so sessions at the edges are complete
                raw = self.raw_bars(iid, rtype, lo - resample.DAY_NS, hi + resample.DAY_NS)
                daily = resample.resample_daily(raw, tz, sess)
                if period != resample.DAY_NS:
                    daily = resample.resample_intraday(daily, period)
                i0, i1 = np.searchsorted(daily[0], [lo - lo % resample.DAY_NS, hi])
                parts.append(daily[:, i0:i1])
            else:
                a = lo - lo % period
                raw = self.raw_bars(iid, rtype, a, hi)
                parts.append(resample.resample_intraday(raw, period))
        if not parts:
            return np.empty((6, 0), dtype=np.int64)
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def bars(
        self,
        symbols: str | int | Sequence[str | int],
        timeframe: str = "1m",
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        exact: bool = False,
    ) -> Bars | MultiBars:
        """Bars with start <= ts_event < end, native or resampled from finer stored bars.

        One symbol (or instrument id) gives :class:`Bars`; a list gives :class:`MultiBars`
        aligned on time. ``exact=True`` returns prices as int64 x1e9 instead of float64.
        """
        lo = to_ns(start) if start is not None else -(2**63)
        hi = to_ns(end) if end is not None else 2**63 - 1
        if lo >= hi:
            raise SecmasterError(f"empty time range: start {start!r} >= end {end!r}")
        if isinstance(symbols, (str, int, np.integer)):
            cols = self._series(symbols, timeframe, lo, hi)
            return self._make_bars(str(symbols), timeframe, cols, exact)
        names = [str(s) for s in symbols]
        series = [self._series(s, timeframe, lo, hi) for s in symbols]
        return _align(names, timeframe, series, exact)

    @staticmethod
    def _make_bars(symbol: str, timeframe: str, cols: I64, exact: bool) -> Bars:
        if exact:
            o, h, lo, c = cols[1], cols[2], cols[3], cols[4]
        else:
            o, h, lo, c = (cols[i] / SCALE for i in (1, 2, 3, 4))
        return Bars(symbol, timeframe, cols[0], o, h, lo, c, cols[5], exact)

    # -- ticks -----------------------------------------------------------------------------
    def trades(
        self, symbol: str | int, start: TimeLike | None = None, end: TimeLike | None = None
    ) -> dict[str, npt.NDArray[Any]]:
        """Trades as columns: ts_event, ts_recv, sequence, price, price_fixed (x1e9), size, side."""
        return self._ticks("trades", symbol, start, end)

    def quotes(
        self, symbol: str | int, start: TimeLike | None = None, end: TimeLike | None = None
    ) -> dict[str, npt.NDArray[Any]]:
        """Top-of-book quotes as columns: ts_event, bid_px, ask_px (float64, NaN if none), sizes."""
        return self._ticks("quotes", symbol, start, end)

    def _ticks(
        self, table: str, symbol: str | int, start: TimeLike | None, end: TimeLike | None
    ) -> dict[str, npt.NDArray[Any]]:
        lo = to_ns(start) if start is not None else -(2**63)
        hi = to_ns(end) if end is not None else 2**63 - 1
        names = store.TICK_COLUMNS[table]
        rows: list[tuple[Any, ...]] = []
        with self._snapshot() as conn:
            for iid, a, b in self.resolve(symbol, lo, hi):
                rows += conn.execute(
                    f"SELECT {', '.join(names)} FROM {table} WHERE instrument_id = ? "
                    "AND ts_event >= ? AND ts_event < ? ORDER BY ts_event, sequence",
                    (iid, a, b),
                ).fetchall()
        cols = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        out: dict[str, npt.NDArray[Any]] = {}
        for name, col in zip(names, cols, strict=True):
            if name == "side":
                out[name] = np.asarray(col, dtype="U1")
            elif name in ("price", "bid_px", "ask_px"):
                fixed = np.asarray([np.nan if v is None else v for v in col], dtype=np.float64)
                out[name] = fixed / SCALE
                out[f"{name}_fixed"] = np.asarray(
                    [0 if v is None else v for v in col], dtype=np.int64
                )
            else:
                out[name] = np.asarray(col, dtype=np.int64)
        return out


def _align(names: list[str], timeframe: str, series: Iterable[I64], exact: bool) -> MultiBars:
    series = list(series)
    ts = np.unique(np.concatenate([s[0] for s in series])) if series else np.empty(0, np.int64)
    n, k = len(ts), len(series)
    dtype = np.int64 if exact else np.float64
    fill = 0 if exact else np.nan
    px = {f: np.full((n, k), fill, dtype=dtype) for f in ("open", "high", "low", "close")}
    vol = np.zeros((n, k), dtype=np.int64)
    present = np.zeros((n, k), dtype=bool)
    for j, s in enumerate(series):
        pos = np.searchsorted(ts, s[0])
        present[pos, j] = True
        for i, f in enumerate(("open", "high", "low", "close"), start=1):
            px[f][pos, j] = s[i] if exact else s[i] / SCALE
        vol[pos, j] = s[5]
    return MultiBars(
        names, timeframe, ts, px["open"], px["high"], px["low"], px["close"], vol, present, exact
    )
