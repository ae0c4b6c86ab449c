"""Column-chunk codec: six int64 columns -> delta-encoded, zlib-compressed bytes, and back.

Deltas make timestamps and fixed-point prices small, so zlib (level 1, fast) squeezes them to a few
bytes per bar; decoding is one decompress plus one cumulative sum, both in C. Lossless and exact.
"""

from __future__ import annotations

import zlib

import numpy as np
import numpy.typing as npt

NCOLS = 6  # ts_event, open, high, low, close, volume


def encode(cols: npt.NDArray[np.int64]) -> bytes:
    """Encode a (6, n) int64 array."""
    if cols.ndim != 2 or cols.shape[0] != NCOLS:
        raise ValueError("expected a (6, n) array")
    deltas = np.diff(cols.astype(np.int64, copy=False), axis=1, prepend=np.int64(0))
    return zlib.compress(deltas.tobytes(), 1)


def decode(blob: bytes, n: int) -> npt.NDArray[np.int64]:
    """Decode to a (6, n) int64 array."""
    deltas = np.frombuffer(zlib.decompress(blob), dtype=np.int64)
    if deltas.size != NCOLS * n:
        raise ValueError(f"corrupt chunk: {deltas.size} values for {n} bars")
    return np.cumsum(deltas.reshape(NCOLS, n), axis=1, dtype=np.int64)
