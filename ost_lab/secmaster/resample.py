"""Resampling on read: OHLCV aggregation of fine bars into coarser ones, exact in integers.

Intraday buckets are aligned to the UTC epoch (for periods dividing a day this equals pandas'
``resample(origin="start_day")``). Daily bars follow the instrument's trading session: a bar covers
one session in the instrument's time zone starting at ``session_start_min`` local minutes (e.g.
1020 = 17:00 for CME futures: the session that opens Sunday 17:00 is Monday's bar). Daily bars are
labelled, like Databento's, at 00:00 UTC of the session date.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

I64 = npt.NDArray[np.int64]
DAY_NS = 86_400_000_000_000
MIN_NS = 60_000_000_000


def aggregate(cols: I64, keys: I64, labels: I64) -> I64:
    """Aggregate sorted bars ``cols`` (6, n) by non-decreasing ``keys``; bar ts = ``labels``."""
    n = cols.shape[1]
    if n == 0:
        return np.empty((6, 0), dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    ends = np.append(starts[1:], n) - 1
    out = np.empty((6, len(starts)), dtype=np.int64)
    out[0] = labels[starts]
    out[1] = cols[1, starts]
    out[2] = np.maximum.reduceat(cols[2], starts)
    out[3] = np.minimum.reduceat(cols[3], starts)
    out[4] = cols[4, ends]
    out[5] = np.add.reduceat(cols[5], starts)
    return out


def resample_intraday(cols: I64, period_ns: int) -> I64:
    """Bars into ``period_ns`` buckets aligned on the UTC epoch (label = bucket start)."""
    labels = cols[0] // period_ns * period_ns
    return aggregate(cols, labels, labels)


def session_dates(ts: I64, tz: str, session_start_min: int) -> I64:
    """Session date (as ns of 00:00 UTC of that date) of each timestamp."""
    local = pd.DatetimeIndex(ts.astype("datetime64[ns]")).tz_localize("UTC").tz_convert(tz)
    wall = np.asarray(local.tz_localize(None).asi8, dtype=np.int64)
    shifted = wall - session_start_min * MIN_NS + (DAY_NS if session_start_min >= 720 else 0)
    return np.asarray(shifted // DAY_NS * DAY_NS, dtype=np.int64)


def resample_daily(cols: I64, tz: str, session_start_min: int) -> I64:
    """Intraday bars into one bar per trading session."""
    if cols.shape[1] == 0:
        return np.empty((6, 0), dtype=np.int64)
    labels = session_dates(cols[0], tz, session_start_min)
    return aggregate(cols, labels, labels)
