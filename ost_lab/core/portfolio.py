"""Account, positions and virtual books in one base currency.

Accounting identity (checked by the tests after every event)::

    equity = cash + sum(qty * mark * multiplier)            (account)
    equity - initial_cash = sum(book.pnl for book in books)  (books sum to the account)

Cash moves by ``-signed_qty * price * multiplier - commission`` on every fill, for cash and
margin accounts alike; a margin account may go negative (borrowing), a cash account may not (the
risk engine enforces that). Futures are treated the same way (full notional through cash, no
daily variation-margin settlement); see docs/core.md. Multi-currency is a later step.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ost_lab.core.events import FillEvent
from ost_lab.core.types import AccountType, Instrument

__all__ = ["FILLS_COLUMNS", "Account", "Book", "Portfolio", "Position"]

#: Column order of :meth:`Portfolio.fills_frame` (the contract with ``core.metrics``).
FILLS_COLUMNS = ("ts", "symbol", "qty", "price", "commission", "tag")

_EPS = 1e-9


@dataclass(slots=True)
class Position:
    """Net position in one symbol with average entry price and realized PnL (gross of fees)."""

    symbol: str
    multiplier: float = 1.0
    qty: float = 0.0
    avg_price: float = 0.0
    realized_pnl: float = 0.0
    commission: float = 0.0

    def apply_fill(self, signed_qty: float, price: float, commission: float = 0.0) -> float:
        """Update with a fill; return the PnL realized by it (before commission)."""
        self.commission += commission
        q = self.qty
        realized = 0.0
        if q == 0.0 or (q > 0) == (signed_qty > 0):
            new_q = q + signed_qty
            self.avg_price = (self.avg_price * abs(q) + price * abs(signed_qty)) / abs(new_q)
            self.qty = new_q
            return 0.0
        closed = min(abs(signed_qty), abs(q))
        realized = (price - self.avg_price) * closed * (1.0 if q > 0 else -1.0) * self.multiplier
        new_q = q + signed_qty
        if abs(new_q) < _EPS:
            new_q = 0.0
            self.avg_price = 0.0
        elif (new_q > 0) != (q > 0):
            self.avg_price = price  # flipped: the remainder opened at this price
        self.qty = new_q
        self.realized_pnl += realized
        return realized

    def market_value(self, mark: float) -> float:
        """Signed base-currency value at ``mark``."""
        return self.qty * mark * self.multiplier

    def unrealized_pnl(self, mark: float) -> float:
        """Open PnL at ``mark``."""
        if self.qty == 0.0:
            return 0.0
        return (mark - self.avg_price) * self.qty * self.multiplier

    @property
    def is_flat(self) -> bool:
        """True with no open quantity."""
        return self.qty == 0.0


@dataclass(slots=True)
class Account:
    """Cash balance in the base currency."""

    initial_cash: float
    type: AccountType = AccountType.CASH
    currency: str = "USD"
    cash: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.cash = float(self.initial_cash)


@dataclass(slots=True)
class Book:
    """A virtual sub-account keyed by an order tag: its own positions and cash flows."""

    tag: str
    positions: dict[str, Position] = field(default_factory=dict)
    cash_flow: float = 0.0  # sum of -qty*price*mult - commission over the book's fills

    def pnl(self, marks: Mapping[str, float]) -> float:
        """Total PnL of the book (realized + unrealized - commission) at ``marks``."""
        return self.cash_flow + sum(
            p.market_value(marks[s]) for s, p in self.positions.items() if p.qty != 0.0
        )


class Portfolio:
    """The account, net positions per symbol, books per tag, marks, fills and equity history."""

    def __init__(
        self,
        initial_cash: float = 100_000.0,
        instruments: Mapping[str, Instrument] | None = None,
        account_type: AccountType = AccountType.CASH,
        base_currency: str = "USD",
    ) -> None:
        self.account = Account(initial_cash, AccountType(account_type), base_currency)
        self.instruments: dict[str, Instrument] = dict(instruments or {})
        self.positions: dict[str, Position] = {}
        self.books: dict[str, Book] = {}
        self.marks: dict[str, float] = {}
        self._fills: list[FillEvent] = []
        # typed arrays, not lists: bulk appends copy memory, no Python object per point
        self._eq_ts = array("q")
        self._eq_val = array("d")
        #: Increases whenever a position query may answer differently (fills; the engine also
        #: bumps it when a strategy starts trading in a new book), so answers can be cached.
        self.version = 0

    # ------------------------------------------------------------------ inputs
    def instrument(self, symbol: str) -> Instrument:
        """The instrument spec (a default unit-multiplier one if unknown)."""
        inst = self.instruments.get(symbol)
        if inst is None:
            inst = Instrument(symbol)
            self.instruments[symbol] = inst
        return inst

    def mark(self, symbol: str, price: float) -> None:
        """Set the mark price of ``symbol`` (from market data)."""
        self.marks[symbol] = float(price)

    def apply_fill(self, fill: FillEvent) -> None:
        """Book a fill into the account, the net position and the fill's tag book."""
        _, _, sym, side, qty, price, commission, tag, _ = fill
        inst = self.instruments.get(sym) or self.instrument(sym)
        mult = inst.multiplier
        sq = float(side) * qty  # as FillEvent.signed_qty
        flow = -sq * price * mult - commission
        self.account.cash += flow
        pos = self.positions.get(sym)
        if pos is None:
            pos = self.positions[sym] = Position(sym, mult)
        pos.apply_fill(sq, price, commission)
        book = self.books.get(tag)
        if book is None:
            book = self.books[tag] = Book(tag)
        bpos = book.positions.get(sym)
        if bpos is None:
            bpos = book.positions[sym] = Position(sym, mult)
        bpos.apply_fill(sq, price, commission)
        book.cash_flow += flow
        if sym not in self.marks:
            self.marks[sym] = price
        self._fills.append(fill)
        self.version += 1

    def record(self, ts: int) -> float:
        """Append the current equity at ``ts`` to the equity curve (one point per ts)."""
        eq = self.equity()
        if self._eq_ts and self._eq_ts[-1] == ts:
            self._eq_val[-1] = eq
        else:
            self._eq_ts.append(int(ts))
            self._eq_val.append(eq)
        return eq

    def record_many(self, ts: npt.NDArray[np.int64], equity: npt.NDArray[np.float64]) -> None:
        """Append equity points computed in bulk (see :meth:`equity_at`), with the rule of
        :meth:`record`: one point per ts, the last value of a ts wins."""
        if not ts.shape[0]:
            return
        keep = np.ones(ts.shape[0], dtype=bool)
        keep[:-1] = ts[1:] != ts[:-1]
        t = np.ascontiguousarray(ts[keep], dtype=np.int64)
        v = np.ascontiguousarray(equity[keep], dtype=np.float64)
        if self._eq_ts and self._eq_ts[-1] == t[0]:
            self._eq_val[-1] = float(v[0])
            t, v = t[1:], v[1:]
        self._eq_ts.frombytes(t.data.cast("B"))
        self._eq_val.frombytes(v.data.cast("B"))

    # ----------------------------------------------------------------- queries
    @property
    def cash(self) -> float:
        """Account cash balance."""
        return self.account.cash

    def position(self, symbol: str, tag: str | None = None) -> float:
        """Net quantity in ``symbol`` (of one book when ``tag`` is given)."""
        if tag is None:
            pos = self.positions.get(symbol)
        else:
            book = self.books.get(tag)
            pos = book.positions.get(symbol) if book else None
        return pos.qty if pos else 0.0

    def market_value(self) -> float:
        """Signed value of all positions at their marks."""
        return self.market_value_at(self.marks)

    def market_value_at(self, marks: Mapping[str, Any]) -> Any:
        """Signed value of all positions at ``marks``: floats, or arrays of marks (one per
        point in time) for the value at each point with the same float operations in the same
        order (added one position at a time, in position order), so bulk and per-event
        equity agree bit for bit."""
        total: Any = 0.0
        for s, p in self.positions.items():
            if p.qty:
                total = total + p.qty * marks[s] * p.multiplier
        return total

    def equity(self) -> float:
        """Cash plus positions at mark."""
        return self.account.cash + self.market_value()

    def equity_at(self, marks: Mapping[str, Any]) -> Any:
        """Cash plus positions at ``marks`` (floats or arrays, see :meth:`market_value_at`)."""
        return self.account.cash + self.market_value_at(marks)

    def gross_exposure(self) -> float:
        """Sum of absolute position values at mark."""
        return sum(abs(p.market_value(self.marks[s])) for s, p in self.positions.items() if p.qty)

    def leverage(self) -> float:
        """Gross exposure / equity (inf when equity <= 0 with exposure)."""
        eq = self.equity()
        gross = self.gross_exposure()
        if eq <= 0:
            return float("inf") if gross > 0 else 0.0
        return gross / eq

    def margin_used(self) -> float:
        """Initial margin of open positions (``margin_rate`` x gross value)."""
        return sum(
            abs(p.market_value(self.marks[s])) * self.instrument(s).margin_rate
            for s, p in self.positions.items()
            if p.qty
        )

    def realized_pnl(self) -> float:
        """Realized PnL (gross of commissions) across symbols."""
        return sum(p.realized_pnl for p in self.positions.values())

    def unrealized_pnl(self) -> float:
        """Open PnL at marks across symbols."""
        return sum(p.unrealized_pnl(self.marks[s]) for s, p in self.positions.items() if p.qty)

    def commissions(self) -> float:
        """Total commissions paid."""
        return sum(p.commission for p in self.positions.values())

    def book_pnl(self, tag: str) -> float:
        """PnL of one book at current marks."""
        book = self.books.get(tag)
        return book.pnl(self.marks) if book else 0.0

    # ----------------------------------------------------------------- outputs
    @property
    def fills(self) -> list[FillEvent]:
        """All fills so far, in booking order."""
        return list(self._fills)

    def fills_frame(self) -> pd.DataFrame:
        """Fills as the DataFrame ``core.metrics`` expects: ts (int64 ns), symbol, qty (signed
        float), price, commission (float), tag."""
        f = self._fills
        return pd.DataFrame(
            {
                "ts": np.array([x.ts for x in f], dtype=np.int64),
                "symbol": pd.Series([x.symbol for x in f], dtype=object),
                "qty": np.array([x.signed_qty for x in f], dtype=np.float64),
                "price": np.array([x.price for x in f], dtype=np.float64),
                "commission": np.array([x.commission for x in f], dtype=np.float64),
                "tag": pd.Series([x.tag for x in f], dtype=object),
            },
            columns=list(FILLS_COLUMNS),
        )

    def equity_history(self) -> tuple[array[int], array[float]]:
        """The equity curve as it grows: timestamps and values, the live append-only arrays
        (``array.array``: index, slice and ``len`` as lists).

        For readers that follow a run while it runs (the recorder); treat them as read-only.
        """
        return self._eq_ts, self._eq_val

    def equity_curve(self) -> pd.Series:
        """Equity after each recorded ts, indexed by a UTC DatetimeIndex named ``ts``."""
        ts = np.frombuffer(self._eq_ts, dtype=np.int64).copy()  # copies: the arrays still grow
        values = np.frombuffer(self._eq_val, dtype=np.float64).copy()
        idx = pd.DatetimeIndex(ts.view("M8[ns]"), name="ts").tz_localize("UTC")
        return pd.Series(values, index=idx, name="equity")
