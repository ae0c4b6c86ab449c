"""Intrabar path choices: ``"pessimistic"`` (default) vs ``"bar_direction"`` (O-L-H-C on an up
bar, O-H-L-C on a down bar). Expected prices are worked out by hand from the bars; every case
runs on both venues (numba and event loop), which must agree exactly."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from replay_helpers import bars, run_both, spec

from ost_lab.core import Bar, Side, Strategy
from ost_lab.core import matching as m
from ost_lab.replay import Backtest

BUY, SELL = 1, -1
STOP_LIMIT, LIT, TRAIL = 3, 5, 6
DAY = 86_400 * 10**9
Fill = tuple[int, str, float]


def _fills(
    df: pd.DataFrame, orders: list[list[float]], intrabar: str
) -> list[tuple[int, str, float]]:
    """(bar, "open"/"close", price) of each fill, both venues checked equal."""
    k, _ = run_both(df, orders, intrabar=intrabar)
    start = df.index.as_unit("ns").asi8
    out = []
    for ts, px in zip(k.fills["ts"], k.fills["price"], strict=True):
        bar = int((ts - start[0]) // DAY)
        out.append((bar, "open" if ts == start[bar] else "close", float(px)))
    return out


# --------------------------------------------------------------------- core.matching rules
def test_after_trigger_range_follows_the_path() -> None:
    # up bar 100 -> 98 -> 104 -> 101: a trigger at 102 is reached on the way to the high,
    # after it trade 102..104 and back to 101; the low came before
    assert m.after_trigger_range(102, 100, 104, 98, 101, m.BAR_DIRECTION) == (101, 104)
    # down bar 100 -> 104 -> 98 -> 99: reached on the way up, then the whole way down to 98
    assert m.after_trigger_range(102, 100, 104, 98, 99, m.BAR_DIRECTION) == (98, 104)
    # a trigger below the open on the down bar is reached on the way down to the low
    assert m.after_trigger_range(99, 100, 104, 98, 99, m.BAR_DIRECTION) == (98, 99)
    # pessimistic: only the trigger and the close
    assert m.after_trigger_range(102, 100, 104, 98, 99, m.PESSIMISTIC) == (99, 102)


def test_trailing_stop_walks_the_path() -> None:
    # sell trailing 1.0 at level 99; down bar 101 -> 102.5 -> 100.8 -> 100.9: ratchets to
    # 101.5 at the high, then the fall to 100.8 reaches it
    args = (SELL, 99.0, 1.0, False, 101.0, 102.5, 100.8, 100.9)
    assert m.fill_trailing_stop(*args, m.BAR_DIRECTION) == 101.5
    assert math.isnan(m.fill_trailing_stop(*args, m.PESSIMISTIC))  # low 100.8 > 99
    # up bar 100.2 -> 99.8 -> 102 -> 100.5: the low does not reach 99, the high ratchets to
    # 101, the fall to the close 100.5 reaches it
    up = (SELL, 99.0, 1.0, False, 100.2, 102.0, 99.8, 100.5)
    assert m.fill_trailing_stop(*up, m.BAR_DIRECTION) == 101.0
    # buy trailing 2 % at 103; down bar 102 -> 102.5 -> 100 -> 101.5: the low ratchets to
    # 100 * 1.02 = 102, the rise to the close 101.5 does not reach it
    buy = (BUY, 103.0, 2.0, True, 102.0, 102.5, 100.0, 101.5)
    assert math.isnan(m.fill_trailing_stop(*buy, m.BAR_DIRECTION))
    # a gap through the level fills at the open under both
    gap = (SELL, 99.0, 1.0, False, 98.5, 99.5, 98.0, 99.0)
    assert m.fill_trailing_stop(*gap, m.BAR_DIRECTION) == m.fill_trailing_stop(*gap) == 98.5


# --------------------------------------------------------------------- both venues
SETUP = (100.0, 100.5, 99.5, 100.0, 1e6)  # bar 0: orders are sent at its close (100)


def test_buy_stop_limit_down_bar() -> None:
    # buy stop 102, limit 101. Bar 1 is a down bar 101.8 -> 103 -> 100 -> 101.5: the stop
    # triggers on the way to 103, then the bar trades down to 100 <= 101.
    df = bars([SETUP, (101.8, 103.0, 100.0, 101.5, 1e6), (101.2, 101.6, 100.8, 101.0, 1e6)])
    orders = [spec(0, BUY, 10, STOP_LIMIT, limit=101.0, stop=102.0)]
    assert _fills(df, orders, "bar_direction") == [(1, "close", 101.0)]
    # pessimistic: after the trigger only 102 and the close 101.5 are known: no fill on bar 1;
    # triggered, it fills on bar 2 (low 100.8 <= 101, open above the limit)
    assert _fills(df, orders, "pessimistic") == [(2, "close", 101.0)]


def test_buy_stop_limit_up_bar_same_under_both() -> None:
    # up bar 101 -> 100 -> 103 -> 101.5: the low came before the trigger; after it only
    # 102..103 and the close 101.5 trade, all above the limit 101: no fill on bar 1 either way
    df = bars([SETUP, (101.0, 103.0, 100.0, 101.5, 1e6), (101.2, 101.6, 100.8, 101.0, 1e6)])
    orders = [spec(0, BUY, 10, STOP_LIMIT, limit=101.0, stop=102.0)]
    assert _fills(df, orders, "bar_direction") == [(2, "close", 101.0)]
    assert _fills(df, orders, "pessimistic") == [(2, "close", 101.0)]


def test_sell_limit_if_touched() -> None:
    # sell LIT: touch 103, then sell at >= 103.5. Up bar 101 -> 100 -> 104 -> 101.2: touched on
    # the way to 104, which is >= 103.5 and comes after the touch.
    df = bars([SETUP, (101.0, 104.0, 100.0, 101.2, 1e6), (102.0, 103.6, 101.8, 102.2, 1e6)])
    orders = [spec(0, SELL, 5, LIT, limit=103.5, stop=103.0)]
    assert _fills(df, orders, "bar_direction") == [(1, "close", 103.5)]
    # pessimistic: only 103 and the close 101.2 after the touch; bar 2's high 103.6 fills it
    assert _fills(df, orders, "pessimistic") == [(2, "close", 103.5)]


def test_sell_trailing_stop_down_bar() -> None:
    # sell trailing 1.0 sent at close 100: level 99. Down bar 101 -> 102.5 -> 100.8 -> 100.9:
    # the high ratchets the level to 101.5, the fall to 100.8 reaches it.
    df = bars([SETUP, (101.0, 102.5, 100.8, 100.9, 1e6), (101.2, 101.4, 100.5, 101.0, 1e6)])
    orders = [spec(0, SELL, 5, TRAIL, trail=1.0)]
    assert _fills(df, orders, "bar_direction") == [(1, "close", 101.5)]
    # pessimistic: bar 1 checks level 99 (low 100.8: no fill), then ratchets to 101.5; bar 2
    # opens at 101.2 <= 101.5: a gap, filled at the open
    assert _fills(df, orders, "pessimistic") == [(2, "open", 101.2)]


def test_buy_trailing_stop_up_bar() -> None:
    # buy trailing 1.0 sent at close 100: level 101. Up bar 99.5 -> 98.8 -> 100.3 -> 100.1:
    # the low ratchets the level to 99.8, the rise to 100.3 reaches it.
    df = bars([SETUP, (99.5, 100.3, 98.8, 100.1, 1e6), (99.0, 99.5, 98.5, 99.2, 1e6)])
    orders = [spec(0, BUY, 5, TRAIL, trail=1.0)]
    assert _fills(df, orders, "bar_direction") == [(1, "close", 99.8)]
    # pessimistic: bar 1 checks 101 (high 100.3: no fill), ratchets to 98.8 + 1 = 99.8; bar 2
    # opens at 99.0 (< 99.8: no gap) and its high 99.5 stays below: no fill at all
    assert _fills(df, orders, "pessimistic") == []


def test_unknown_intrabar_rejected() -> None:
    with pytest.raises(ValueError, match="intrabar"):
        Backtest(bars([SETUP]), "x", intrabar="optimistic")  # type: ignore[arg-type]


# --------------------------------------------------------------------- several orders, one bar
def test_fill_rank_places_orders_where_the_bar_reaches_them() -> None:
    up = (100.0, 104.0, 96.0, 101.0)  # open -> 96 -> 104 -> 101
    down = (100.0, 104.0, 96.0, 99.0)  # open -> 104 -> 96 -> 99
    stop_sell, limit_sell = (SELL, 2, math.nan, 98.0, False), (SELL, 1, 103.0, math.nan, False)
    # up bar: 98 is reached halfway down the first leg (0.5), 103 on the second, 7/8 of the
    # way from 96 to 104 (1.875); down bar: 103 at 3/4 of the first leg, 98 at 1 + 6/8
    assert m.fill_rank(*stop_sell, *up, m.BAR_DIRECTION) == 0.5
    assert m.fill_rank(*limit_sell, *up, m.BAR_DIRECTION) == 1.875
    assert m.fill_rank(*limit_sell, *down, m.BAR_DIRECTION) == 0.75
    assert m.fill_rank(*stop_sell, *down, m.BAR_DIRECTION) == 1.75
    # pessimistic: stops (adverse moves) before limits, wherever they are
    assert m.fill_rank(*stop_sell, *down) == 1.0 and m.fill_rank(*limit_sell, *down) == 2.0
    # at the open: market orders and gaps; not reached: inf
    assert m.fill_rank(BUY, 0, math.nan, math.nan, False, *up) == 0.0
    assert m.fill_rank(SELL, 1, 99.0, math.nan, False, *up, m.BAR_DIRECTION) == 0.0
    assert m.fill_rank(BUY, 2, math.nan, 105.0, False, *up, m.BAR_DIRECTION) == math.inf
    # a triggered buy stop-limit waits for its limit (a fall), an untriggered one its stop
    assert m.fill_rank(BUY, STOP_LIMIT, 99.0, 102.0, True, *up, m.BAR_DIRECTION) == 0.25
    assert m.fill_rank(BUY, STOP_LIMIT, 99.0, 102.0, False, *up, m.BAR_DIRECTION) == 1.75


@pytest.mark.parametrize(
    ("close", "intrabar", "first"),
    [
        (101.0, "bar_direction", "stop"),  # up bar: down to 97.5 first
        (99.0, "bar_direction", "limit"),  # down bar: up to 103.5 first
        (99.0, "pessimistic", "stop"),  # no path: the stop first either way
        (101.0, "pessimistic", "stop"),
    ],
)
def test_one_bar_reaching_two_orders_fills_the_first_reached(
    close: float, intrabar: str, first: str
) -> None:
    """A limit (sent first) and a stop (sent second) both reached by bar 2, whose volume
    leaves room for one of them (500 * 1 % = 5 units): the one the bar reaches first fills,
    the other keeps working. Both venues."""
    df = bars([SETUP, (100.2, 100.5, 99.8, 100.0, 1e6), (100.0, 103.5, 97.5, close, 500.0)])
    orders = [
        spec(0, BUY, 10),
        spec(1, SELL, 5, 1, limit=103.0),
        spec(1, SELL, 5, 2, stop=98.0),
    ]
    k, _ = run_both(df, orders, intrabar=intrabar, max_volume_fraction=0.01)
    assert k.fills["qty"].tolist() == [10.0, -5.0]
    assert k.fills["price"].tolist() == [100.2, 103.0 if first == "limit" else 98.0]


@pytest.mark.parametrize(
    ("close", "intrabar", "exit_price"),
    [(101.0, "bar_direction", 98.0), (99.0, "bar_direction", 103.0), (99.0, "pessimistic", 98.0)],
)
def test_bracket_reached_on_both_sides_exits_where_the_bar_went_first(
    close: float, intrabar: str, exit_price: float
) -> None:
    """A long bracket (take-profit 103 sent before stop-loss 98) on a bar that reaches both:
    the exit the bar reaches first fills and cancels the other (OCO). Pessimistic: the stop."""

    class Bracket(Strategy):
        def on_bar(self, bar: Bar) -> None:
            if len(self.data[bar.symbol]) == 1:
                self.bracket(Side.BUY, 10, take_profit=103.0, stop_loss=98.0)

    df = bars([SETUP, (100.2, 100.5, 99.8, 100.0, 1e6), (100.0, 103.5, 97.5, close, 1e6)])
    res = Backtest(df, Bracket, intrabar=intrabar).run()
    assert res.fills["price"].tolist() == [100.2, exit_price]
    status = dict(zip(res.orders["type"], res.orders["status"], strict=True))
    assert status == {
        "market": "FILLED",
        "limit": "FILLED" if exit_price == 103.0 else "CANCELED",
        "stop": "FILLED" if exit_price == 98.0 else "CANCELED",
    }
