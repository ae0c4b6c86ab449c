"""The securities master: an SQLite file holding instruments, symbology, bars and ticks.

Public API (imports are lazy so ``import ost_lab.secmaster`` stays light)::

    Secmaster(path=None, readonly=False)     .bars() .trades() .quotes() .search() .ingest*()
    ingest_dbn(secmaster, *paths)            DBN files, batch folders, zips
    ingest_csv(secmaster, path, symbol, ...) generic OHLCV CSV
    ingest_yahoo_csv(secmaster, path, symbol)
    ingest_dataframe(secmaster, df, symbol, ...)
    ensure_demo_secmaster(path) -> bool
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ost_lab.secmaster.dbn_ingest import IngestReport
    from ost_lab.secmaster.reader import Bars, MultiBars, Secmaster

__all__ = [
    "Bars",
    "IngestError",
    "IngestReport",
    "MultiBars",
    "Secmaster",
    "SecmasterError",
    "ensure_demo_secmaster",
    "ingest_csv",
    "ingest_dataframe",
    "ingest_dbn",
    "ingest_yahoo_csv",
]

_LAZY = {
    "Bars": "ost_lab.secmaster.reader",
    "MultiBars": "ost_lab.secmaster.reader",
    "Secmaster": "ost_lab.secmaster.reader",
    "IngestReport": "ost_lab.secmaster.dbn_ingest",
    "IngestError": "ost_lab.secmaster.errors",
    "SecmasterError": "ost_lab.secmaster.errors",
    "ensure_demo_secmaster": "ost_lab.secmaster.demo",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ost_lab.secmaster' has no attribute {name!r}")


def _run(secmaster: Secmaster | Path | str, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``method`` on an open Secmaster, or on one opened (and closed) for ``path``."""
    from ost_lab.secmaster.reader import Secmaster

    if isinstance(secmaster, Secmaster):
        return getattr(secmaster, method)(*args, **kwargs)
    with Secmaster(secmaster) as sm:
        return getattr(sm, method)(*args, **kwargs)


def ingest_dbn(
    secmaster: Secmaster | Path | str, *paths: Path | str, progress: bool | None = None
) -> IngestReport:
    """Ingest DBN files / Databento batch folders or zips into ``secmaster`` (object or path)."""
    return _run(secmaster, "ingest_dbn", *paths, progress=progress)


def ingest_csv(
    secmaster: Secmaster | Path | str, path: Path | str, symbol: str, **kwargs: Any
) -> IngestReport:
    """Ingest a generic OHLCV CSV (see ``ost_lab.secmaster.csv_ingest.ingest_csv``)."""
    return _run(secmaster, "ingest_csv", path, symbol, **kwargs)


def ingest_yahoo_csv(
    secmaster: Secmaster | Path | str, path: Path | str, symbol: str, **kwargs: Any
) -> IngestReport:
    """Ingest a Yahoo Finance daily CSV as 1d bars."""
    return _run(secmaster, "ingest_yahoo_csv", path, symbol, **kwargs)


def ingest_dataframe(
    secmaster: Secmaster | Path | str, df: pd.DataFrame, symbol: str, **kwargs: Any
) -> IngestReport:
    """Ingest a pandas DataFrame with a DatetimeIndex."""
    return _run(secmaster, "ingest_dataframe", df, symbol, **kwargs)
