"""A replay feed over bar columns: validated once, vectorised, then bars built at C speed.

Iterating an :class:`ArrayFeed` yields the same :class:`~ost_lab.core.events.Bar` events a list
feed would, in (close ts, symbol order, bar order) order, so it works wherever a feed does. The
engine also recognises it and drives the run over its columns (see ``Engine.run``): each
strategy's history is a zero-copy view of the columns, and equity is computed in bulk from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, repeat
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ost_lab.core.events import Bar, trusted_bars

__all__ = ["ArrayFeed", "BarColumns"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class BarColumns(Protocol):
    """One symbol's bars as arrays (``ts_close`` = ``Bar.ts``, when the bar is known)."""

    @property
    def symbol(self) -> str: ...
    @property
    def ts_open(self) -> I64: ...
    @property
    def ts_close(self) -> I64: ...
    @property
    def open(self) -> F64: ...
    @property
    def high(self) -> F64: ...
    @property
    def low(self) -> F64: ...
    @property
    def close(self) -> F64: ...
    @property
    def volume(self) -> F64: ...


class ArrayFeed:
    """Bars of one or more symbols from columns, checked once with the rules of ``Bar``.

    ``order`` is ``None`` for one symbol; for several it is the merged event order as
    ``(symbol index, bar index)`` arrays (stable by close ts, then symbol order, then bar).
    """

    def __init__(self, columns: Sequence[BarColumns]) -> None:
        self.columns = list(columns)
        self.symbols = [c.symbol for c in self.columns]
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"duplicate symbols in feed: {self.symbols}")
        self._ts_open = [_checked(c) for c in self.columns]  # also makes columns contiguous
        self.order: tuple[I64, I64] | None = None
        self._at: dict[int, I64] = {}
        if len(self.columns) > 1:
            ts = np.concatenate([c.ts_close for c in self.columns])
            j = np.concatenate([np.full(len(c.close), k) for k, c in enumerate(self.columns)])
            k = np.concatenate([np.arange(len(c.close)) for c in self.columns])
            idx = np.lexsort((k, j, ts))
            self.order = (j[idx], k[idx])
        elif self.columns and np.any(np.diff(self.columns[0].ts_close) < 0):
            raise ValueError(f"{self.symbols[0]}: bar close times must not go backwards")

    def __len__(self) -> int:
        return sum(int(c.close.shape[0]) for c in self.columns)

    def __iter__(self) -> Iterator[Bar]:
        return chain.from_iterable(self.chunks(65_536))

    def chunks(self, size: int) -> Iterator[Iterator[Bar]]:
        """The bars in order, ``size`` at a time, each chunk an iterator that builds a bar only
        when it is asked for (a bar is dropped after its event, so memory stays flat)."""
        n = len(self)
        for a in range(0, n, size):
            yield self._bars(a, min(n, a + size))

    def _bars(self, a: int, b: int) -> Iterator[Bar]:
        if self.order is None:
            c = self.columns[0]
            cols = [c.ts_close, c.open, c.high, c.low, c.close, c.volume, self._ts_open[0]]
            return trusted_bars(zip(repeat(c.symbol), *(_items(x[a:b]) for x in cols)))
        js, ks = self.order[0][a:b], self.order[1][a:b]
        names = np.array(self.symbols, dtype=object)[js].tolist()
        fields: list[Iterable[Any]] = []
        for f in ("ts_close", "open", "high", "low", "close", "volume", "ts_open"):
            out = np.empty(b - a, dtype=np.int64 if f.startswith("ts") else np.float64)
            for j, c in enumerate(self.columns):
                at = js == j
                out[at] = (self._ts_open[j] if f == "ts_open" else getattr(c, f))[ks[at]]
            fields.append(_items(out))
        return trusted_bars(zip(names, *fields, strict=False))

    def first_seen(self) -> list[int]:
        """Indices of the symbols that have bars, in the order their first bar arrives."""
        if self.order is None:
            return [0] if self.columns and self.columns[0].close.shape[0] else []
        js, first = np.unique(self.order[0], return_index=True)
        return [int(j) for j in js[np.argsort(first, kind="stable")]]

    def marks(self, j: int, a: int, b: int, before: float) -> F64:
        """Close of symbol ``j`` as of each event in ``[a, b)`` (its last bar at or before the
        event; ``before`` until its first bar): the mark the engine holds after the event."""
        close = self.columns[j].close
        if self.order is None:
            return close[a:b]
        pos = self._at.get(j)
        if pos is None:  # event index of each of j's bars
            pos = self._at[j] = np.flatnonzero(self.order[0] == j)
        last = np.searchsorted(pos, np.arange(a, b), side="right") - 1
        out = close[np.maximum(last, 0)]
        return np.where(last >= 0, out, before)


def _items(a: npt.NDArray[Any]) -> Iterable[Any]:
    """Python scalars of a contiguous 1-d array, made one at a time as iterated (no list)."""
    return memoryview(a)  # type: ignore[arg-type]


def _checked(c: BarColumns) -> I64:
    """Validate one symbol's columns as ``Bar`` would each bar; return the effective ts_open
    (a negative ts_open means 'at the close', as ``Bar`` defaults it)."""
    n = c.close.shape[0]
    for name in ("ts_open", "ts_close", "open", "high", "low", "close", "volume"):
        a = getattr(c, name)
        if a.shape != (n,):
            raise ValueError(f"{c.symbol}: column {name} is not 1-d of length {n}")
        want = np.int64 if name.startswith("ts") else np.float64
        if a.dtype != want or not a.flags.c_contiguous:
            raise ValueError(f"{c.symbol}: column {name} must be contiguous {want.__name__}")
    ts_open = np.where(c.ts_open < 0, c.ts_close, c.ts_open) if np.any(c.ts_open < 0) else c.ts_open
    if np.any(ts_open > c.ts_close):
        raise ValueError("bar ts_open must not be after ts (the close time)")
    o, h, lo, cl = c.open, c.high, c.low, c.close
    with np.errstate(invalid="ignore"):
        bad = ~((lo <= np.minimum(o, cl)) & (h >= np.maximum(o, cl)))
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"inconsistent OHLC for {c.symbol} at {int(c.ts_close[k])}")
    return ts_open
