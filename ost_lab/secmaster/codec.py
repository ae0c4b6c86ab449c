"""Column-chunk codec: six int64 columns -> small, compressed bytes, and back, exactly.

Format 3 (written now) predicts each value from what the decoder already has and stores the
residuals:

- ``ts``: deltas divided by their common divisor (60e9 for 1-minute bars), first ts in the header;
- prices divided by their common divisor (the tick grid, e.g. 1e7 for 0.01); ``close`` as deltas
  from the previous close (first close in the header); ``open`` relative to the previous close
  (0 when a bar opens where the last one closed); ``high`` above ``max(open, close)`` and ``low``
  below ``min(open, close)`` (the wicks, small and non-negative for valid bars);
- ``volume`` divided by its common divisor (round lots).

Each residual column is stored in the narrowest int type that holds it, multi-byte columns
byte-shuffled (all low bytes, then the next bytes ...), then zstd level 3: about 3 bytes per
1-minute bar of a liquid instrument, 20-45% smaller than format 2, and decoded with a few numpy
passes. All arithmetic wraps modulo 2**64 in both directions, so any int64 input round-trips bit
for bit.

Older blobs still decode: format 2 (prices relative to the same bar's close, no shuffle), format
1 (zstd of int64 deltas), format 0 (zlib of int64 deltas).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt
import zstandard

NCOLS = 6  # ts_event, open, high, low, close, volume
I64 = npt.NDArray[np.int64]
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_V2 = 2
_V3 = 3
_HEADER_V2 = struct.Struct("<Bq6B")  # version, price divisor, itemsize of each column
# version, price divisor, ts divisor, volume divisor, first ts, first close / price divisor,
# itemsize of each column
_HEADER_V3 = struct.Struct("<Bqqqqq6B")
_LEVEL = 3  # measured: levels 6-19 save < 4% more on 1m bars and encode 2-30x slower
_COMPRESS = zstandard.ZstdCompressor(level=_LEVEL)
_DECOMPRESS = zstandard.ZstdDecompressor()
_TYPES: dict[int, type[np.signedinteger]] = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}
_INT64_MIN = -(2**63)
_SAMPLE = 64


def _divisor(values: I64) -> int:
    """The largest integer dividing every value (1 if none, all zero, or int64 min present).

    The gcd of a small sample is a multiple of the true gcd; when it divides every value it is
    the gcd, which one modulo pass checks (much cheaper than a full ``gcd.reduce``).
    """
    if values.size == 0 or int(values.min()) == _INT64_MIN:
        return 1
    g = int(np.gcd.reduce(values[..., :_SAMPLE], axis=None))
    if g == 1 or (g > 1 and not (values % g).any()):
        return g
    g = int(np.gcd.reduce(values, axis=None))
    return g if g > 0 else 1


def _narrow(col: I64) -> npt.NDArray[np.signedinteger]:
    """The column in the narrowest signed int type holding all its values."""
    lo, hi = int(col.min()), int(col.max())
    for size, t in _TYPES.items():
        bound = 1 << (8 * size - 1)
        if -bound <= lo and hi < bound:
            return col.astype(t)
    return col


def _shuffled(col: npt.NDArray[np.signedinteger]) -> bytes:
    """The column's bytes grouped by significance (byte planes): zstd finds more repeats."""
    if col.itemsize == 1:
        return col.tobytes()
    return col.view(np.uint8).reshape(-1, col.itemsize).T.tobytes()


def encode(cols: I64) -> bytes:
    """Encode a (6, n) int64 array (n >= 1) in format 3."""
    if cols.ndim != 2 or cols.shape[0] != NCOLS or cols.shape[1] == 0:
        raise ValueError("expected a (6, n) array with n >= 1")
    c = cols.astype(np.int64, copy=False)
    n = c.shape[1]
    g = _divisor(c[1:5])
    px = c[1:5] // g if g != 1 else c[1:5]
    o, h, lo, close = px
    with np.errstate(over="ignore"):
        dts = np.empty(n, dtype=np.int64)
        dts[0] = 0
        np.subtract(c[0, 1:], c[0, :-1], out=dts[1:])
        tg = _divisor(dts[1:])
        if tg != 1:
            dts //= tg
        dclose = np.empty(n, dtype=np.int64)
        dclose[0] = 0
        np.subtract(close[1:], close[:-1], out=dclose[1:])
        dopen = np.empty(n, dtype=np.int64)
        dopen[0] = o[0] - close[0]
        np.subtract(o[1:], close[:-1], out=dopen[1:])
        wick_hi = h - np.maximum(o, close)
        wick_lo = np.minimum(o, close) - lo
    vg = _divisor(c[5])
    vol = c[5] // vg if vg != 1 else c[5]
    parts = [_narrow(x) for x in (dts, dopen, wick_hi, wick_lo, dclose, vol)]
    header = _HEADER_V3.pack(
        _V3, g, tg, vg, int(c[0, 0]), int(close[0]), *(p.itemsize for p in parts)
    )
    return header + _COMPRESS.compress(b"".join(map(_shuffled, parts)))


def _columns(payload: bytes, sizes: list[int], n: int, shuffled: bool) -> I64:
    """The six stored residual columns widened to int64."""
    raw = _DECOMPRESS.decompress(payload, max_output_size=sum(sizes) * n)
    if len(raw) != sum(sizes) * n:
        raise ValueError(f"corrupt chunk: {len(raw)} bytes for {n} bars")
    out = np.empty((NCOLS, n), dtype=np.int64)
    off = 0
    for i, size in enumerate(sizes):
        if shuffled and size > 1:
            planes = np.frombuffer(raw, dtype=np.uint8, count=size * n, offset=off)
            out[i] = planes.reshape(size, n).T.copy().view(_TYPES[size]).ravel()
        else:
            out[i] = np.frombuffer(raw, dtype=_TYPES[size], count=n, offset=off)
        off += size * n
    return out


def _decode_v3(blob: bytes, n: int) -> I64:
    _, g, tg, vg, t0, c0, *sizes = _HEADER_V3.unpack_from(blob)
    out = _columns(blob[_HEADER_V3.size :], sizes, n, shuffled=True)
    ts, o, h, lo, close, vol = out
    with np.errstate(over="ignore"):
        np.cumsum(ts, out=ts)
        if tg != 1:
            ts *= tg
        ts += t0
        np.cumsum(close, out=close)
        close += c0
        o[0] += close[0]
        o[1:] += close[:-1]
        h += np.maximum(o, close)
        np.subtract(np.minimum(o, close), lo, out=lo)
        if g != 1:
            out[1:5] *= g
        if vg != 1:
            vol *= vg
    return out


def _decode_v2(blob: bytes, n: int) -> I64:
    _, g, *sizes = _HEADER_V2.unpack_from(blob)
    out = _columns(blob[_HEADER_V2.size :], sizes, n, shuffled=False)
    with np.errstate(over="ignore"):
        np.cumsum(out[0], out=out[0])
        close = np.cumsum(out[4])
        out[1] += close
        out[2] += close
        out[3] += close
        out[4] = close
        if g != 1:
            out[1:5] *= g
    return out


def decode(blob: bytes, n: int) -> I64:
    """Decode a chunk of ``n`` bars (any format) to a (6, n) int64 array."""
    if blob[:1] == bytes([_V3]):
        return _decode_v3(blob, n)
    if blob[:1] == bytes([_V2]):
        return _decode_v2(blob, n)
    if blob[:4] == _ZSTD_MAGIC:
        raw = _DECOMPRESS.decompress(blob, max_output_size=NCOLS * 8 * n)
    else:
        raw = zlib.decompress(blob)
    deltas = np.frombuffer(raw, dtype=np.int64)
    if deltas.size != NCOLS * n:
        raise ValueError(f"corrupt chunk: {deltas.size} values for {n} bars")
    return np.cumsum(deltas.reshape(NCOLS, n), axis=1, dtype=np.int64)
