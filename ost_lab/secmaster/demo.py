"""The demo securities master that the lab creates on its first run."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def ensure_demo_secmaster(path: Path) -> bool:
    """Create the demo securities master at ``path`` unless a file is already there.

    Returns True when a new file was written.
    """
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    sqlite3.connect(path).close()
    return True
