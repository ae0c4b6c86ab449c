"""Vectorised parsing of plain CSV bodies: exact fixed-point decimals with no Python per cell.

Only the common shape is handled: ASCII lines of exactly N fields separated by a one-byte
delimiter, no quotes, no blank lines, numbers written ``[+-]digits[.digits]`` with at most 9
decimals and 18 significant digits. :func:`parse` returns None for anything else, and the
caller parses the file row by row with :class:`decimal.Decimal` (which names the bad line). So
the fast path never decides what a number means differently from the exact parser: it either
reads the same integer or declines.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
_NL, _CR, _DOT, _MINUS, _PLUS, _QUOTE = 10, 13, 46, 45, 43, 34
_BLOCK = 1 << 16
_MAX_DIGITS = 18  # any 18-digit integer fits int64
_POW10 = np.array([10**k for k in range(10)], dtype=np.int64)
_LIMIT = np.array([(2**63 - 1) // 10**k for k in range(10)], dtype=np.int64)


def fields(body: U8, delimiter: int, nfields: int) -> tuple[I64, I64] | None:
    """Start and end offsets, shape (rows, nfields), of every field of ``body``, or None.

    ``body`` is the file after its header line. A trailing ``\\r`` of a line is not part of its
    last field.
    """
    if body.size == 0 or (body >= 128).any() or (body == _QUOTE).any():
        return None
    is_nl = body == _NL
    sep = np.flatnonzero(is_nl | (body == delimiter))
    if not is_nl[-1]:  # last line without a newline
        sep = np.append(sep, body.size)
    if sep.size % nfields:
        return None
    ends = sep.reshape(-1, nfields)
    line_ends = ends[:, -1]
    if not is_nl[line_ends[:-1]].all() or (body[ends[:, :-1]] != delimiter).any():
        return None  # a line with another number of fields, or a blank line
    starts = np.empty_like(ends)
    starts[:, 1:] = ends[:, :-1] + 1
    starts[0, 0] = 0
    starts[1:, 0] = line_ends[:-1] + 1
    last = ends[:, -1].copy()
    cr = (last > starts[:, -1]) & (body[np.maximum(last - 1, 0)] == _CR)
    last -= cr
    ends = ends.copy()
    ends[:, -1] = last
    return starts, ends


def fixed(body: U8, start: I64, end: I64, decimals: int) -> I64 | None:
    """The numbers in ``body[start:end]`` times 10**decimals as exact int64, or None.

    With ``decimals`` 9 a price ``185.639999`` is 185_639_999_000; with 0 only integers pass.
    """
    first = body[np.minimum(start, body.size - 1)]
    neg = first == _MINUS
    begin = start + (neg | (first == _PLUS))
    length = end - begin
    if length.size == 0 or length.min() < 1:
        return None
    top = body.size - 1
    acc = np.zeros(start.size, dtype=np.int64)
    digits = np.zeros(start.size, dtype=np.int64)
    frac = np.zeros(start.size, dtype=np.int64)
    dots = np.zeros(start.size, dtype=np.int64)
    significant = np.zeros(start.size, dtype=np.int64)  # digits from the first non-zero one
    for k in range(int(length.max())):
        live = k < length
        c = body[np.minimum(begin + k, top)].astype(np.int64)
        is_digit = live & (c >= 48) & (c <= 57)
        is_dot = live & (c == _DOT)
        if (live & ~is_digit & ~is_dot).any():
            return None
        dots += is_dot
        np.copyto(acc, acc * 10 + (c - 48), where=is_digit)  # wraps only past 18 digits
        digits += is_digit
        significant += is_digit & (acc != 0)
        frac += is_digit & (dots > 0)
    if dots.max() > (1 if decimals else 0) or digits.min() < 1:
        return None
    if significant.max() > _MAX_DIGITS:
        return None
    if frac.max() > decimals:
        return None
    shift = decimals - frac
    if (acc > _LIMIT[shift]).any():
        return None
    value = acc * _POW10[shift]
    return np.where(neg, -value, value)


def text(body: U8, start: I64, end: I64) -> npt.NDArray[Any]:
    """The fields ``body[start:end]`` as a numpy array of str (for timestamp parsing)."""
    width = max(int((end - start).max()), 1)
    cells = np.zeros((start.size, width), dtype=np.uint8)
    offsets = np.arange(width)
    for a in range(0, start.size, _BLOCK):  # blocks bound the index array's memory
        idx = start[a : a + _BLOCK, None] + offsets
        inside = idx < end[a : a + _BLOCK, None]
        cells[a : a + _BLOCK][inside] = body[idx[inside]]
    return cells.view(f"S{width}").ravel().astype(str)


def parse(
    data: bytes, delimiter: str, nfields: int, price_cols: list[int], volume_col: int, ts_col: int
) -> tuple[npt.NDArray[Any], list[I64], I64] | None:
    """(timestamp strings, [prices x1e9 ..., volume], line numbers) of a plain CSV, or None.

    ``data`` is the whole file (an UTF-8 BOM is skipped); the header is its first line.
    """
    if len(delimiter) != 1 or not delimiter.isascii():
        return None
    skip = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    head_end = data.find(b"\n", skip)
    if head_end < 0:
        return None
    body = np.frombuffer(data, dtype=np.uint8, offset=head_end + 1)
    spans = fields(body, ord(delimiter), nfields)
    if spans is None:
        return None
    starts, ends = spans
    values: list[I64] = []
    for col in price_cols:
        v = fixed(body, starts[:, col], ends[:, col], 9)
        if v is None:
            return None
        values.append(v)
    vol = fixed(body, starts[:, volume_col], ends[:, volume_col], 0)
    if vol is None:
        return None
    values.append(vol)
    lines = np.arange(2, starts.shape[0] + 2, dtype=np.int64)  # line 1 is the header
    return text(body, starts[:, ts_col], ends[:, ts_col]), values, lines
