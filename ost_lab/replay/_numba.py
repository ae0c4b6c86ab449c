"""numba set-up for the replay: an on-disk kernel cache under the user's cache folder.

numba reads ``NUMBA_CACHE_DIR`` when it is imported, so this module sets it (if the user has
not) before importing numba, and reloads numba's config if numba was imported earlier. Every
replay kernel is compiled with ``cache=True``, so a fresh process pays no compile again.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from ost_lab.paths import cache_dir

if not os.environ.get("NUMBA_CACHE_DIR"):
    os.environ["NUMBA_CACHE_DIR"] = str(cache_dir() / "numba")
    if "numba" in sys.modules:  # imported before us: make it see the variable
        from numba.core import config as _config

        _config.reload_config()

import numba

from ost_lab.core import matching

__all__ = ["M", "jit"]

#: ``numba.njit(cache=True)``: the decorator for every replay kernel.
jit: Callable[[Callable[..., Any]], Any] = numba.njit(cache=True)

#: core's fill rules (``core.matching``), compiled once: the same code the sandbox runs.
M: dict[str, Any] = matching.njit_all(jit)
