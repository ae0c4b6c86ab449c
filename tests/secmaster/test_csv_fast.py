"""The vectorised CSV parser: same integers as exact Decimal parsing, or it declines."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ost_lab.secmaster import IngestError, Secmaster, csv_fast

HEADER = "ts,open,high,low,close,volume"


def _parse(body: str, header: str = HEADER) -> tuple[list[str], list[list[int]], list[int]] | None:
    got = csv_fast.parse(f"{header}\n{body}".encode(), ",", 6, [1, 2, 3, 4], 5, 0)
    if got is None:
        return None
    ts, values, lines = got
    return ts.tolist(), [v.tolist() for v in values], lines.tolist()


def _exact(cell: str) -> int:
    """x1e9 by Decimal, the definition the fast parser must match."""
    return int(Decimal(cell) * 10**9)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.decimals(-(10**8), 10**8, places=9, allow_nan=False), min_size=4,
                     max_size=4),
            st.integers(0, 10**15),
            st.sampled_from(["", "0", "00"]),  # leading zeros
            st.booleans(),  # "+" sign
        ),
        min_size=1,
        max_size=30,
    ),
    st.booleans(),  # CRLF line ends
    st.booleans(),  # final newline
)  # fmt: skip
def test_fast_parse_equals_decimal(rows: list, crlf: bool, final_nl: bool) -> None:
    end = "\r\n" if crlf else "\n"
    lines = []
    for i, (px, vol, zeros, plus) in enumerate(rows):
        cells = []
        for p in px:
            s = format(p, "f")
            s = s.replace("-", "-" + zeros, 1) if s.startswith("-") else zeros + s
            cells.append(("+" + s) if plus and not s.startswith("-") else s)
        lines.append(",".join([f"2024-01-02 09:{i:02d}", *cells, str(vol)]))
    body = end.join(lines) + (end if final_nl else "")
    got = _parse(body)
    assert got is not None
    ts, values, nums = got
    assert ts == [ln.split(",")[0] for ln in lines]
    for k in range(4):
        assert values[k] == [_exact(ln.split(",")[k + 1]) for ln in lines]
    assert values[4] == [int(ln.split(",")[5]) for ln in lines]
    assert nums == list(range(2, len(lines) + 2))


@pytest.mark.parametrize(
    "body",
    [
        "t,1.0,2,0.5,1,10\n\nt,1,2,0.5,1,10\n",  # blank line
        "t,1.0,2,0.5,1,10\nt,1,2,0.5,1\n",  # a short line
        't,"1.0",2,0.5,1,10\n',  # quotes
        "t,1.0000000001,2,0.5,1,10\n",  # finer than 1e-9: the exact parser rounds
        "t,1e3,2,0.5,1,10\n",  # exponent
        "t, 1.0,2,0.5,1,10\n",  # spaces
        "t,1.0,2,0.5,1,10.0\n",  # fractional volume text
        "t,null,null,null,null,null\n",  # Yahoo null row
        "t,1.2.3,2,0.5,1,10\n",  # two dots
        "t,-,2,0.5,1,10\n",  # sign only
        "t,,2,0.5,1,10\n",  # empty
        "t,1234567890123.5,2,0.5,1,10\n",  # beyond int64 x1e9
        "t,1.0,2,0.5,1,10\u00a0\n",  # non-ASCII
    ],
)
def test_declines_anything_unusual(body: str) -> None:
    assert _parse(body) is None


def test_other_delimiter_and_column_order() -> None:
    data = b"qty;c;l;h;o;time\n5;1.5;1;2;1.25;2024-01-02\n"
    got = csv_fast.parse(data, ";", 6, [4, 3, 2, 1], 0, 5)
    assert got is not None
    ts, values, _ = got
    assert ts.tolist() == ["2024-01-02"]
    assert [v.tolist() for v in values] == [[1_250_000_000], [2 * 10**9], [10**9],
                                            [1_500_000_000], [5]]  # fmt: skip


def test_fast_and_row_paths_ingest_the_same(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 3000
    close = 100 + np.cumsum(rng.integers(-5, 6, n)) / 100
    rows = [f"2024-01-02 00:00:00,{c:.2f},{c + 0.05:.2f},{c - 0.05:.2f},{c:.2f},{v}"
            for c, v in zip(close, rng.integers(0, 10**6, n), strict=True)]  # fmt: skip
    ts = np.datetime64("2024-01-02T00:00") + np.arange(n) * np.timedelta64(1, "m")
    rows = [f"{str(t).replace('T', ' ')}{r[19:]}" for t, r in zip(ts, rows, strict=True)]
    fast = tmp_path / "fast.csv"
    fast.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    slow = tmp_path / "slow.csv"  # a blank line sends the file down the row-by-row parser
    slow.write_text(HEADER + "\n\n" + "\n".join(rows) + "\n")
    assert csv_fast.parse(slow.read_bytes(), ",", 6, [1, 2, 3, 4], 5, 0) is None
    out = []
    for path in (fast, slow):
        with Secmaster(tmp_path / f"{path.stem}.sqlite") as sm:
            assert sm.ingest_csv(path, "X", tz="America/New_York").bars == n
            b = sm.bars("X", "1m", exact=True)
            out.append(np.stack([b.ts, b.open, b.high, b.low, b.close, b.volume]))
    np.testing.assert_array_equal(out[0], out[1])
    assert out[0][4, 0] == int(Decimal(rows[0].split(",")[4]) * 10**9)


def test_fast_path_errors_name_the_line(sm: Secmaster, tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(f"{HEADER}\n2024-01-02 09:30,1,2,0.5,1,10\n2024-01-02 09:31,1,0.4,0.5,1,10\n")
    assert csv_fast.parse(p.read_bytes(), ",", 6, [1, 2, 3, 4], 5, 0) is not None
    with pytest.raises(IngestError, match=r"line 3\).*high < low"):
        sm.ingest_csv(p, "X")
    p.write_text(f"{HEADER}\n2024-01-02 09:30,1,2,0.5,1,10\nnot a time,1,2,0.5,1,10\n")
    with pytest.raises(IngestError, match=r"line 3\).*bad timestamp"):
        sm.ingest_csv(p, "X")
    assert sm.conn.execute("SELECT count(*) FROM ohlcv").fetchone() == (0,)
