"""The demo securities master that the lab creates on its first run.

Deterministic synthetic data (fixed seeds, integer ticks): eight instruments (six US equities, the
EUR/USD spot pair, an E-mini S&P 500 future with multiplier 50) with one year (2025) of 1-minute
bars in their real trading sessions, a U-shaped intraday volume profile, overnight gaps and
trend / mean-reversion regimes; plus one day of trades and top-of-book quotes for AAPL and ESH6
whose prices stay inside that day's minute bars. The file is built beside ``path`` and renamed
into place, so a half-built demo is never seen.
"""

from __future__ import annotations

import datetime as dt
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from ost_lab.secmaster import schema, store

YEAR = 2025
HOLIDAYS = {
    "2025-01-01", "2025-01-20", "2025-02-17", "2025-04-18", "2025-05-26",
    "2025-06-19", "2025-07-04", "2025-09-01", "2025-11-27", "2025-12-25",
}  # fmt: skip
TICK_DAY = "2025-12-30"
NS = 1_000_000_000
MIN = 60 * NS
PUBLISHER_ID = 0
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class DemoInstrument:
    """Reference data and price-process parameters of one demo instrument."""

    instrument_id: int
    symbol: str
    asset_class: str
    exchange: str
    description: str
    price: float  # starting price
    tick: float
    daily_vol: float
    daily_volume: float
    session: str  # "us_equity", "fx", "cme"
    multiplier: float = 1.0
    lot: int = 1
    currency: str = "USD"
    expiry: str | None = None


INSTRUMENTS = (
    DemoInstrument(
        1001,
        "AAPL",
        "equity",
        "XNAS",
        "Apple Inc. common stock",
        185.0,
        0.01,
        0.016,
        55e6,
        "us_equity",
    ),
    DemoInstrument(
        1002,
        "MSFT",
        "equity",
        "XNAS",
        "Microsoft Corp. common stock",
        375.0,
        0.01,
        0.015,
        22e6,
        "us_equity",
    ),
    DemoInstrument(
        1003,
        "NVDA",
        "equity",
        "XNAS",
        "NVIDIA Corp. common stock",
        135.0,
        0.01,
        0.030,
        250e6,
        "us_equity",
    ),
    DemoInstrument(
        1004,
        "SPY",
        "equity",
        "ARCX",
        "SPDR S&P 500 ETF Trust",
        585.0,
        0.01,
        0.010,
        60e6,
        "us_equity",
    ),
    DemoInstrument(
        1005,
        "JPM",
        "equity",
        "XNYS",
        "JPMorgan Chase & Co. common stock",
        240.0,
        0.01,
        0.014,
        9e6,
        "us_equity",
    ),
    DemoInstrument(
        1006,
        "XOM",
        "equity",
        "XNYS",
        "Exxon Mobil Corp. common stock",
        107.0,
        0.01,
        0.013,
        15e6,
        "us_equity",
    ),
    DemoInstrument(
        1007,
        "EURUSD",
        "fx",
        "FXSP",
        "Euro / US dollar spot",
        1.035,
        0.00001,
        0.005,
        2e5,
        "fx",
        lot=1000,
    ),
    DemoInstrument(
        1008,
        "ESH6",
        "future",
        "XCME",
        "E-mini S&P 500 future March 2026",
        5950.0,
        0.25,
        0.010,
        1.6e6,
        "cme",
        multiplier=50.0,
        expiry="2026-03-20T13:30:00Z",
    ),
)
_SESSION_TZ = {"us_equity": "America/New_York", "fx": "America/New_York", "cme": "America/Chicago"}
_SESSION_START = {"us_equity": 0, "fx": 1020, "cme": 1020}  # local minutes; 0 = calendar day


def _days(session: str) -> list[dt.date]:
    days = pd.bdate_range(f"{YEAR}-01-01", f"{YEAR}-12-31")
    return [d.date() for d in days if session == "fx" or d.strftime("%Y-%m-%d") not in HOLIDAYS]


def _session_minutes(session: str, day: dt.date) -> I64:
    """UTC ns of each minute bar of ``day``'s session."""
    tz = _SESSION_TZ[session]
    if session == "us_equity":
        start = pd.Timestamp(f"{day} 09:30", tz=tz)
        n = 390
    else:
        start = pd.Timestamp(f"{day - dt.timedelta(days=1)} 17:00", tz=tz)
        end = pd.Timestamp(f"{day} {'17:00' if session == 'fx' else '16:00'}", tz=tz)
        n = int((end - start).total_seconds() // 60)
    return np.asarray(start.value + np.arange(n, dtype=np.int64) * MIN, dtype=np.int64)


def _volume_profile(session: str, ts: I64) -> F64:
    """Relative volume by time of day: U-shaped for equities, NY-hours-heavy for FX and ES."""
    hours = ((ts // MIN) % 1440) / 60.0  # UTC hours
    if session == "us_equity":
        x = np.linspace(0.0, 1.0, len(ts))
        return 0.45 + 2.2 * np.exp(-x / 0.06) + 1.6 * np.exp(-(1 - x) / 0.05)
    ny = np.exp(-(((hours - 15.5) / 2.5) ** 2))
    london = np.exp(-(((hours - 9.0) / 2.5) ** 2))
    base = 0.15 if session == "cme" else 0.3
    return (
        base + (2.5 if session == "cme" else 1.2) * ny + (0.4 if session == "cme" else 1.0) * london
    )


def _bars(inst: DemoInstrument) -> I64:
    """One year of 1-minute bars as (6, n) fixed-point columns."""
    rng = np.random.default_rng(zlib.crc32(inst.symbol.encode()))
    days = _days(inst.session)
    tick_fixed = round(inst.tick * NS)
    log_anchor = np.log(inst.price)
    logp = log_anchor
    regime_left, mu, kappa = 0, 0.0, 0.0
    out: list[I64] = []
    for day in days:
        if regime_left == 0:
            regime_left = int(rng.integers(15, 45))
            kind = rng.integers(0, 3)
            mu = (0.0, 1.0, -1.0)[kind] * inst.daily_vol * rng.uniform(0.15, 0.4)
            kappa = 0.25 if kind == 0 else 0.0
            log_anchor = logp
        regime_left -= 1
        ts = _session_minutes(inst.session, day)
        n = len(ts)
        prof = _volume_profile(inst.session, ts)
        gap = rng.normal(0.0, inst.daily_vol * (0.3 if inst.session == "us_equity" else 0.05))
        day_drift = mu - kappa * (logp - log_anchor)
        sig = inst.daily_vol * np.sqrt(prof / prof.sum())
        steps = rng.normal(0.0, 1.0, n) * sig + day_drift / n
        path = logp + gap + np.cumsum(steps)
        logp = float(path[-1])
        close = np.maximum(np.rint(np.exp(path) / inst.tick).astype(np.int64), 1)
        opens = np.empty(n, dtype=np.int64)
        opens[0] = max(round(np.exp(logp - steps.sum()) / inst.tick), 1)
        opens[1:] = close[:-1]
        wick = np.abs(rng.normal(0.0, 1.0, (2, n))) * sig * np.exp(path) / inst.tick * 0.6
        high = np.maximum(opens, close) + np.floor(wick[0]).astype(np.int64)
        low = np.maximum(np.minimum(opens, close) - np.floor(wick[1]).astype(np.int64), 1)
        vol = inst.daily_volume * prof / prof.sum() * rng.lognormal(0.0, 0.35, n)
        vol *= 1.0 + 3.0 * abs(mu) / inst.daily_vol
        volume = np.maximum(np.rint(vol / inst.lot), 1).astype(np.int64) * inst.lot
        out.append(np.stack([ts, opens * tick_fixed, high * tick_fixed, low * tick_fixed,
                             close * tick_fixed, volume]))  # fmt: skip
    return np.concatenate(out, axis=1)


def _ticks(inst: DemoInstrument, bars: I64) -> tuple[dict[str, I64], dict[str, I64]]:
    """One day of trades and quotes inside the minute bars of ``TICK_DAY``'s session."""
    rng = np.random.default_rng(zlib.crc32(b"ticks-" + inst.symbol.encode()))
    ts_day = _session_minutes(inst.session, dt.date.fromisoformat(TICK_DAY))
    sel = np.isin(bars[0], ts_day)
    b = bars[:, sel]
    tick = round(inst.tick * NS)
    per_min = np.maximum(rng.poisson(b[5] / b[5].mean() * 40.0), 1)
    idx = np.repeat(np.arange(b.shape[1]), per_min)
    n = len(idx)
    within = rng.integers(0, MIN, n)
    ts = b[0, idx] + within[np.lexsort((within, idx))]
    span = (b[2, idx] - b[3, idx]) // tick
    price = b[3, idx] + (rng.integers(0, np.iinfo(np.int64).max, n) % (span + 1)) * tick
    side = np.where(rng.random(n) < 0.5, "A", "B")
    size = (rng.geometric(0.3, n) * (inst.lot if inst.asset_class != "future" else 1)).astype(
        np.int64
    )
    seq = np.arange(1, n + 1, dtype=np.int64) * 2
    iid = np.full(n, inst.instrument_id, dtype=np.int64)
    trades = {"instrument_id": iid, "ts_event": ts, "sequence": seq, "ts_recv": ts + 20_000,
              "price": price, "size": size, "side": side}  # fmt: skip
    bid = np.where(side == "A", price, price - tick)
    quotes = {
        "instrument_id": iid,
        "ts_event": ts - 1000,
        "sequence": seq - 1,
        "ts_recv": ts - 1000 + 20_000,
        "bid_px": bid,
        "ask_px": bid + tick,
        "bid_sz": rng.integers(1, 50, n) * (inst.lot if inst.asset_class != "future" else 1),
        "ask_sz": rng.integers(1, 50, n) * (inst.lot if inst.asset_class != "future" else 1),
    }
    return trades, quotes


def build_demo(path: Path) -> None:
    """Write the demo securities master to ``path`` (which must not exist)."""
    conn = schema.connect(path)
    try:
        with store.transaction(conn):
            store.upsert_publisher(conn, PUBLISHER_ID, "DEMO.SYNTH.DEMO", "DEMO.SYNTH", "DEMO")
            for inst in INSTRUMENTS:
                store.upsert_instrument(
                    conn,
                    inst.instrument_id,
                    symbol=inst.symbol,
                    asset_class=inst.asset_class,
                    currency=inst.currency,
                    exchange=inst.exchange,
                    publisher_id=PUBLISHER_ID,
                    multiplier=inst.multiplier,
                    tick_size=round(inst.tick * NS),
                    lot_size=inst.lot,
                    expiry=None if inst.expiry is None else pd.Timestamp(inst.expiry).value,
                    description=f"{inst.description} (synthetic demo data)",
                    timezone=_SESSION_TZ[inst.session],
                    session_start_min=_SESSION_START[inst.session],
                )
                store.add_symbology(
                    conn, inst.symbol, inst.instrument_id, "1970-01-01", "9999-12-31"
                )
                bars = _bars(inst)
                src = f"demo:{inst.symbol}"
                store.write_bars(conn, src, inst.instrument_id, schema.RTYPE_1M, bars,
                                 lambda i: f"bar {i}")  # fmt: skip
                if inst.symbol in ("AAPL", "ESH6"):
                    trades, quotes = _ticks(inst, bars)
                    store.write_ticks(conn, src, "trades", trades, lambda i: f"trade {i}")
                    store.write_ticks(conn, src, "quotes", quotes, lambda i: f"quote {i}")
            store.bump_data_version(conn)
        conn.execute("VACUUM")  # full pages: about 10% smaller than the appended file
    finally:
        conn.close()


def ensure_demo_secmaster(path: Path) -> bool:
    """Create the demo securities master at ``path`` unless a file is already there.

    Returns True when a new file was written.
    """
    path = Path(path)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.building")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    try:
        build_demo(tmp)
        try:
            os.link(tmp, path)  # atomic and never overwrites: a concurrent builder may have won
        except FileExistsError:
            return False
        except OSError:  # no hard links on this file system
            if path.exists():
                return False
            os.replace(tmp, path)
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
    return True
