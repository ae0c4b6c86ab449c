"""Where ost_lab keeps its files: the securities master and the runs database.

Both paths can be overridden by environment variables so that a lab, a test or CI can point at
throwaway files without touching the user's own data.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir

SECMASTER_ENV = "OST_LAB_SECMASTER"
RUNS_ENV = "OST_LAB_RUNS"


def data_dir() -> Path:
    """The user's ost_lab data folder (created on demand)."""
    path = Path(user_data_dir("ost_lab", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """The user's ost_lab cache folder, e.g. for compiled numba kernels (created on demand)."""
    path = Path(user_cache_dir("ost_lab", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def secmaster_path() -> Path:
    """The securities master file: ``$OST_LAB_SECMASTER`` or ``<data dir>/secmaster.sqlite``."""
    env = os.environ.get(SECMASTER_ENV)
    return Path(env).expanduser() if env else data_dir() / "secmaster.sqlite"


def runs_path() -> Path:
    """The runs database SQLite file: ``$OST_LAB_RUNS`` or ``<data dir>/runs.sqlite``."""
    env = os.environ.get(RUNS_ENV)
    return Path(env).expanduser() if env else data_dir() / "runs.sqlite"
