"""Marshal runs work on its owner thread; Latest coalesces off-thread values."""

from __future__ import annotations

import asyncio
import threading

from ost_lab.widgets.threading import Latest, Marshal


def test_owner_thread_calls_directly() -> None:
    m = Marshal()
    seen: list[int] = []
    m(seen.append, 1)
    assert seen == [1]


def test_without_loop_queues_until_drain() -> None:
    m = Marshal()
    assert m.loop is None  # no running loop in a plain test
    seen: list[int] = []
    threads = [threading.Thread(target=m, args=(seen.append, i)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == []
    assert m.drain() == 5 and sorted(seen) == [0, 1, 2, 3, 4]
    errors: list[BaseException] = []

    def drain_elsewhere() -> None:
        try:
            m.drain()
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=drain_elsewhere)
    t.start()
    t.join()
    assert len(errors) == 1  # only the owner thread may drain


def test_loop_and_latest_coalesce() -> None:
    loop = asyncio.new_event_loop()
    try:
        m = Marshal(loop)
        applied: list[int] = []
        latest = Latest(m, applied.append)
        t = threading.Thread(target=lambda: [latest.put(i) for i in range(1000)])
        t.start()
        t.join()
        loop.run_until_complete(asyncio.sleep(0))
        assert applied == [999]  # one update with the newest value
        latest.put(5)  # on the owner thread: applied at once
        assert applied == [999, 5]
    finally:
        loop.close()
