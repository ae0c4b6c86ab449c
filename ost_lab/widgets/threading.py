"""Marshal work from background threads onto the kernel's event loop.

ipywidgets and Bokeh documents are not thread-safe and ipykernel 7 routes output from other
threads differently, so a replay thread never touches a widget: it hands a callable to
:class:`Marshal`, which runs it on the thread that created it (via
``loop.call_soon_threadsafe``). While a cell is busy the loop does not run, so updates queue
up and catch up when the cell returns; :class:`Latest` coalesces them so only the newest
value of a fast-changing quantity (progress) is applied.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Latest", "Marshal"]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio loop (a cell runs on the kernel's), else the IPython kernel's."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        io_loop = getattr(kernel, "io_loop", None)
        loop = getattr(io_loop, "asyncio_loop", None)
        return loop if isinstance(loop, asyncio.AbstractEventLoop) else None
    except ImportError:
        return None


class Marshal:
    """Run callables on the owner thread: directly when called there, else through ``loop``.

    Without an event loop (plain scripts, unit tests) calls from other threads are queued
    and run by :meth:`drain` on the owner thread.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop if loop is not None else _running_loop()
        self.owner = threading.get_ident()
        self._pending: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self._lock = threading.Lock()

    def on_owner(self) -> bool:
        """True on the thread that owns the widgets."""
        return threading.get_ident() == self.owner

    def __call__(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.on_owner():
            fn(*args)
        elif self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)
        else:
            with self._lock:
                self._pending.append((fn, args))

    def drain(self) -> int:
        """Run queued calls (owner thread only); returns how many ran."""
        if not self.on_owner():
            raise RuntimeError("drain() must run on the owner thread")
        with self._lock:
            todo, self._pending = self._pending, []
        for fn, args in todo:
            fn(*args)
        return len(todo)


class Latest:
    """Coalesce values produced off-thread: ``put(v)`` schedules at most one ``apply(latest)``
    on the owner thread however many values arrive before it runs."""

    def __init__(self, marshal: Marshal, apply: Callable[[Any], None]) -> None:
        self.marshal = marshal
        self.apply = apply
        self._lock = threading.Lock()
        self._value: Any = None
        self._scheduled = False

    def put(self, value: Any) -> None:
        """Record ``value``; schedule a flush unless one is pending."""
        with self._lock:
            self._value = value
            if self._scheduled:
                return
            self._scheduled = True
        self.marshal(self._flush)

    def _flush(self) -> None:
        with self._lock:
            value, self._scheduled = self._value, False
        self.apply(value)
