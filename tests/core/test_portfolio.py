"""Positions, accounts, books and the accounting identities, checked after every fill."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ost_lab.core.events import FillEvent
from ost_lab.core.portfolio import FILLS_COLUMNS, Portfolio, Position
from ost_lab.core.types import Instrument, Side


def fill(ts: int, sym: str, sq: float, px: float, comm: float = 0.0, tag: str = "") -> FillEvent:
    side = Side.BUY if sq > 0 else Side.SELL
    return FillEvent(ts, f"O{ts}", sym, side, abs(sq), px, comm, tag)


def test_position_average_realized_and_flip() -> None:
    p = Position("A")
    assert p.apply_fill(10, 100.0) == 0.0
    assert p.apply_fill(10, 110.0) == 0.0
    assert p.avg_price == 105.0 and p.qty == 20
    assert p.apply_fill(-5, 120.0) == 75.0  # (120-105)*5
    assert p.avg_price == 105.0 and p.qty == 15
    assert p.unrealized_pnl(100.0) == -75.0
    assert p.apply_fill(-25, 90.0) == -225.0  # closes 15 at 90: (90-105)*15
    assert p.qty == -10 and p.avg_price == 90.0  # flipped short at 90
    assert p.apply_fill(10, 80.0) == 100.0  # short covered: (80-90)*10*-1
    assert p.is_flat and p.avg_price == 0.0 and p.realized_pnl == 75 - 225 + 100


def test_multiplier_and_commission_in_cash() -> None:
    pf = Portfolio(100_000.0, {"ES": Instrument("ES", multiplier=50, tick_size=0.25)})
    pf.apply_fill(fill(1, "ES", 2, 4000.0, 4.0, "a"))
    assert pf.cash == 100_000 - 2 * 4000 * 50 - 4
    pf.mark("ES", 4010.0)
    assert pf.equity() == pytest.approx(100_000 - 4 + 2 * 10 * 50)
    assert pf.unrealized_pnl() == 1000.0
    assert pf.gross_exposure() == 2 * 4010 * 50
    assert pf.leverage() == pytest.approx(401_000 / 100_996)
    assert pf.commissions() == 4.0


def test_books_sum_to_account_and_outputs() -> None:
    pf = Portfolio(10_000.0)
    pf.apply_fill(fill(1, "A", 10, 100.0, 1.0, "trend"))
    pf.apply_fill(fill(2, "A", -4, 101.0, 1.0, "mr"))
    pf.apply_fill(fill(3, "B", 5, 50.0, 0.5, "mr"))
    pf.mark("A", 102.0)
    pf.mark("B", 49.0)
    # trend: long 10 A from 100 -> +20 - 1 ; mr: short 4 A from 101 at 102 -> -4 - 1, B -5 - .5
    assert pf.book_pnl("trend") == pytest.approx(19.0)
    assert pf.book_pnl("mr") == pytest.approx(-4 - 1 - 5 - 0.5)
    assert pf.position("A") == 6 and pf.position("A", "mr") == -4
    assert pf.equity() - 10_000 == pytest.approx(pf.book_pnl("trend") + pf.book_pnl("mr"))
    pf.record(3)
    pf.record(3)  # same ts overwrites, no duplicate point
    pf.record(4)
    eq = pf.equity_curve()
    assert list(eq.index.asi8) == [3, 4] and eq.name == "equity"
    assert isinstance(eq.index, pd.DatetimeIndex) and str(eq.index.tz) == "UTC"
    df = pf.fills_frame()
    assert tuple(df.columns) == FILLS_COLUMNS
    assert df["ts"].dtype == "int64" and df["qty"].tolist() == [10.0, -4.0, 5.0]
    assert df["tag"].tolist() == ["trend", "mr", "mr"]
    assert df["commission"].dtype == "float64"


def test_empty_outputs() -> None:
    pf = Portfolio()
    assert len(pf.fills_frame()) == 0 and tuple(pf.fills_frame().columns) == FILLS_COLUMNS
    assert len(pf.equity_curve()) == 0


fills_st = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "ES"]),
        st.integers(min_value=-20, max_value=20).filter(bool),
        st.integers(min_value=50, max_value=150),
        st.sampled_from(["", "x", "y"]),
        st.sampled_from([0.0, 0.5, 1.25]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(fills_st)
def test_accounting_identities_after_every_event(
    fls: list[tuple[str, int, int, str, float]],
) -> None:
    insts = {"ES": Instrument("ES", multiplier=50)}
    pf = Portfolio(1_000_000.0, insts)
    cash = 1_000_000.0
    qty: dict[str, float] = {}
    book_qty: dict[tuple[str, str], float] = {}
    for i, (sym, q, px, tag, comm) in enumerate(fls):
        mult = 50.0 if sym == "ES" else 1.0
        pf.apply_fill(fill(i, sym, float(q), float(px), comm, tag))
        pf.mark(sym, float(px) + 1.0)
        cash -= q * px * mult + comm
        qty[sym] = qty.get(sym, 0.0) + q
        book_qty[(tag, sym)] = book_qty.get((tag, sym), 0.0) + q
        mv = sum(qty[s] * pf.marks[s] * (50.0 if s == "ES" else 1.0) for s in qty)
        assert pf.cash == pytest.approx(cash)
        assert pf.equity() == pytest.approx(cash + mv)
        # pnl decomposition
        assert pf.equity() - 1_000_000.0 == pytest.approx(
            pf.realized_pnl() + pf.unrealized_pnl() - pf.commissions(), abs=1e-6
        )
        # books sum to the account
        assert sum(pf.book_pnl(t) for t in pf.books) == pytest.approx(
            pf.equity() - 1_000_000.0, abs=1e-6
        )
        for (t, s), bq in book_qty.items():
            assert pf.position(s, t) == pytest.approx(bq)
        for s in qty:
            assert pf.position(s) == pytest.approx(
                sum(v for (_, s2), v in book_qty.items() if s2 == s)
            )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.integers(0, 3), st.floats(-1e6, 1e6, allow_nan=False)),
            min_size=0,
            max_size=6,
        ),
        max_size=6,
    )
)
def test_bulk_equity_points_follow_the_one_point_per_ts_rule(
    batches: list[list[tuple[int, float]]],
) -> None:
    """``record_many`` keeps what point by point recording would: one point per ts, the last
    value of a ts wins, also across batches; the curve is a copy that later points leave alone."""
    import numpy as np

    bulk, ref = Portfolio(0.0), {}
    ts0 = 0
    for batch in batches:
        # steps of 0 repeat a ts, within a batch and with the previous batch's last point
        ts = ts0 + np.array([d for d, _ in batch], dtype=np.int64).cumsum()
        eq = np.array([v for _, v in batch], dtype=np.float64)
        bulk.record_many(ts, eq)
        for t, v in zip(ts.tolist(), eq.tolist(), strict=True):
            ref[t] = v
        ts0 = int(ts[-1]) if ts.size else ts0
    curve = bulk.equity_curve()
    assert curve.index.asi8.tolist() == sorted(ref)
    assert curve.tolist() == [ref[t] for t in sorted(ref)]
    bulk.record_many(np.array([ts0 + 10], dtype=np.int64), np.array([1.5]))
    assert len(curve) == len(ref)  # the earlier curve did not change
    ts_hist, values = bulk.equity_history()
    assert list(ts_hist)[-1] == ts0 + 10 and values[-1] == 1.5
