"""A small secmaster for widget tests: three instruments, 1-minute and daily bars."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ost_lab.secmaster import Secmaster


def _frame(start: str, n: int, freq: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.date_range(start, periods=n, freq=freq, tz="UTC")
    c = 100 + np.cumsum(rng.normal(size=n) * 0.1)
    return pd.DataFrame({"open": c, "high": c + 0.2, "low": c - 0.2, "close": c,
                         "volume": 100.0}, index=idx)  # fmt: skip


@pytest.fixture(scope="session")
def secmaster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secmaster]:
    path: Path = tmp_path_factory.mktemp("sm") / "secmaster.sqlite"
    sm = Secmaster(path)
    insts = {
        "AAPL": {"asset_class": "equity", "exchange": "XNAS", "description": "Apple Inc. stock"},
        "AMZN": {"asset_class": "equity", "exchange": "XNAS", "description": "Amazon.com Inc."},
        "EURUSD": {"asset_class": "fx", "exchange": "FXSP", "description": "Euro US dollar"},
    }
    for k, (sym, inst) in enumerate(insts.items()):
        start = "2024-01-02 14:30" if sym != "AMZN" else "2024-01-03 00:00"
        sm.ingest_dataframe(_frame(start, 3 * 390, "1min", k), sym, instrument=inst)
        sm.ingest_dataframe(_frame("2023-06-01", 200, "1D", k), sym, timeframe="1d",
                            instrument=inst)  # fmt: skip
    yield sm
    sm.close()
