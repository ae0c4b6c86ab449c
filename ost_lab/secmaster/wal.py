"""Bulk writes: a big page cache, and the WAL checkpoint moved to a background thread.

In WAL mode a commit appends pages to the ``-wal`` file; a *checkpoint* later copies them into the
database file and fsyncs it. SQLite runs it inside the ``COMMIT`` that takes the WAL past 1000
pages, so a 1M-bar ingest would wait about 0.3-0.6 s (copy of ~60 MB plus fsync, mostly I/O wait)
after its data is already committed and visible. Around bulk writes this module turns that
automatic checkpoint off and runs a ``PASSIVE`` checkpoint on its own connection in a background
thread instead (the pattern SQLite documents for applications that must not stall on
checkpoints). Readers and writers are never blocked by it; :func:`wait` joins it (``Secmaster``
does on ``close()`` and before ``compact()``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

BULK_BYTES = 4 << 20
"""Writes of at least this many input bytes count as bulk (about 1000 WAL pages of 4 KiB)."""
_CACHE_PER_BYTE = 2
"""Page cache per input byte during a bulk write (a 1m bar is ~56 B of DBN, ~60 B stored)."""
_CACHE_MAX = 512 << 20
"""Cap of that cache: bigger transactions spill pages to the WAL before their commit."""

_lock = threading.Lock()
_threads: dict[str, threading.Thread] = {}
_again: set[str] = set()


def db_file(conn: sqlite3.Connection) -> str:
    """The main database file of ``conn`` ('' for an in-memory or temporary database)."""
    for _seq, name, file in conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return str(file or "")
    return ""


def _run(path: str) -> None:
    """Checkpoint ``path`` until no further request arrived meanwhile."""
    while True:
        with _lock:
            _again.discard(path)
        try:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                conn.close()
        except sqlite3.Error as exc:  # harmless: the next checkpoint copies the same pages
            log.warning("background WAL checkpoint of %s failed: %s", path, exc)
        with _lock:
            if path not in _again:
                del _threads[path]
                return


def checkpoint_in_background(path: str) -> None:
    """Start (or re-request) a background checkpoint of the database file ``path``."""
    with _lock:
        _again.add(path)
        if path in _threads:
            return
        t = threading.Thread(target=_run, args=(path,), name="secmaster-checkpoint")
        _threads[path] = t
        t.start()


def wait(path: str | None = None) -> None:
    """Wait for the background checkpoint of ``path`` (of every file if None) to finish.

    ``path`` is as :func:`db_file` names it; '' (an in-memory database) has none.
    """
    while True:
        with _lock:
            pending = [t for p, t in _threads.items() if path is None or p == path]
        if not pending:
            return
        for t in pending:
            t.join()


@contextmanager
def bulk_write(conn: sqlite3.Connection, nbytes: int) -> Iterator[None]:
    """Settings for a write transaction of about ``nbytes`` of input; wrap the transaction.

    For bulk writes: a page cache big enough to keep the transaction's pages in memory until
    commit, no checkpoint inside the commit, and a background checkpoint afterwards.
    """
    path = db_file(conn)
    if nbytes < BULK_BYTES or not path:
        yield
        return
    cache = int(conn.execute("PRAGMA cache_size").fetchone()[0])
    auto = int(conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
    want = -(min(_CACHE_PER_BYTE * nbytes, _CACHE_MAX) // 1024)  # negative: KiB
    conn.execute(f"PRAGMA cache_size = {min(want, cache)}")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_size = {cache}")
        conn.execute(f"PRAGMA wal_autocheckpoint = {auto}")
        checkpoint_in_background(path)
