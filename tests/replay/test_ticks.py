"""Tick replays from secmaster-style tick columns (trades and quotes)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from replay_helpers import script, spec

from ost_lab.core import Strategy, Tick
from ost_lab.replay import Backtest
from ost_lab.replay.data import merge_quotes

T0 = 1_700_000_000 * 10**9


def _trades() -> dict[str, np.ndarray]:
    return {
        "ts_event": T0 + np.array([0, 1, 1, 5, 9]) * 1000,
        "price": np.array([100.0, 100.5, 99.8, 99.4, 101.0]),
        "size": np.array([10.0, 5.0, 7.0, 3.0, 1.0]),
    }


def test_kernel_on_trades_fills_at_later_ticks() -> None:
    # market at tick 0 -> the next trade (100.5); buy limit 99.5 at tick 0 -> first trade at or
    # below it (99.4, tick 3); both stamped with the tick's time
    orders = spec(0, 1, 2) + spec(0, 1, 1, 1, limit=99.5)
    res = Backtest(_trades(), script, symbol="ES").run(params=orders)
    assert res.fills["price"].tolist() == [100.5, 99.4]
    assert res.fills["ts"].tolist() == [T0 + 1000, T0 + 5000]
    assert len(res.equity) == 5


class _BuyOnce(Strategy):
    def on_tick(self, tick: Tick) -> None:
        if not self.open_orders() and self.position == 0:
            self.buy(1, tick.symbol, limit=99.5)


def test_strategy_on_trades_and_quotes() -> None:
    res = Backtest(_trades(), _BuyOnce, symbol="ES").run()
    assert res.fills["price"].tolist() == [99.4]
    quotes = {
        "ts_event": T0 + np.array([0, 1, 2]) * 1000,
        "bid_px": np.array([99.0, 99.2, 99.3]),
        "ask_px": np.array([99.6, 99.5, 99.4]),
    }
    res = Backtest(quotes, _BuyOnce, symbol="ES").run()
    assert res.fills["price"].tolist() == [99.5]  # buys trade at the ask once it reaches 99.5


def _both(ticks: dict[str, np.ndarray], orders: list[list[float]], **kw: Any) -> pd.DataFrame:
    """Run the script on ticks in both venues; assert identical fills and order states."""
    params = np.array([x for o in orders for x in o], dtype=np.float64)
    k = Backtest(ticks, script, symbol="ES", **kw).run(params=params)
    e = Backtest(ticks, script, symbol="ES", engine="event", **kw).run(params=params)
    cols = ["ts", "qty", "price", "commission"]
    pd.testing.assert_frame_equal(k.fills[cols], e.fills[cols], check_exact=True)
    assert k.orders["status"].tolist() == e.orders["status"].tolist()
    np.testing.assert_array_equal(k.orders["filled_qty"], e.orders["filled_qty"])
    return k.fills


def _fills(f: pd.DataFrame) -> list[tuple[int, float, float]]:
    rows = zip(f["ts"], f["qty"], f["price"], strict=True)
    return [(int(t - T0) // 1000, q, p) for t, q, p in rows]


def test_latency_ns_on_trades_worked_by_hand() -> None:
    ticks = {
        "ts_event": T0 + np.array([0, 1, 1, 5, 9, 12]) * 1000,  # microseconds
        "price": np.array([100.0, 100.5, 99.8, 99.4, 101.0, 99.0]),
        "size": np.array([10.0, 5.0, 7.0, 3.0, 1.0, 4.0]),
    }
    orders = [
        spec(0, 1, 1),  # A: market buy at t=0
        spec(0, -1, 2, 1, limit=99.7),  # B: sell limit 99.7 at t=0
        spec(2, 1, 1, 1, limit=99.5),  # C: buy limit 99.5 at t=1us (tick 2)
        spec(4, 1, 1),  # D: market buy at t=9us
        spec(5, 1, 1),  # E: market buy at the last tick: nothing after it
    ]
    # no latency: A and B work from tick 1 (100.5: B's limit is met, it fills at that price);
    # C from tick 3 (99.4); D at tick 5 (99.0)
    assert _fills(_both(ticks, orders)) == [
        (1, 1.0, 100.5), (1, -2.0, 100.5), (5, 1.0, 99.4), (12, 1.0, 99.0),
    ]  # fmt: skip
    # 2us: A and B (sent at 0) arrive at 2us -> first tick at or after it is tick 3 (5us):
    # A fills at 99.4, B's limit (sell >= 99.7) waits for tick 4 (101.0); C (sent at 1us)
    # arrives at 3us -> tick 3, after A in submission order; D (9us) -> 11us -> tick 5 (12us)
    assert _fills(_both(ticks, orders, latency_ns=2000)) == [
        (5, 1.0, 99.4), (5, 1.0, 99.4), (9, -2.0, 101.0), (12, 1.0, 99.0),
    ]  # fmt: skip
    # exactly 5us: A arrives at 5us, the time of tick 3 (>= counts); D at 14us never arrives
    got = _fills(_both(ticks, orders, latency_ns=5000))
    # C arrives at 6us: tick 4 (101.0) is above its limit, tick 5 (99.0) fills it
    assert got == [(5, 1.0, 99.4), (9, -2.0, 101.0), (12, 1.0, 99.0)]


def test_latency_ns_needs_ticks() -> None:
    df = pd.DataFrame(
        {"open": [1.0, 2.0], "high": [1.0, 2.0], "low": [1.0, 2.0], "close": [1.0, 2.0]},
        index=pd.date_range("2024-01-01", periods=2, freq="min", tz="UTC"),
    )
    with pytest.raises(ValueError, match="latency_ns applies to tick data"):
        Backtest(df, script, latency_ns=1000)
    with pytest.raises(ValueError, match="latency_ns must be >= 0"):
        Backtest(_trades(), script, latency_ns=-1)


QUOTES = {
    "ts_event": T0 + np.array([0, 1, 2, 3, 4]) * 1000,
    "bid_px": np.array([99.0, 99.2, 99.3, 99.1, 98.8]),
    "ask_px": np.array([99.6, 99.5, 99.4, 99.3, 99.0]),
}


def test_kernel_trades_quotes_at_the_touch_worked_by_hand() -> None:
    orders = [
        spec(0, 1, 1),  # market buy -> tick 1's ask, 99.5
        spec(0, -1, 1),  # market sell -> tick 1's bid, 99.2
        spec(0, 1, 1, 1, limit=99.35),  # buy limit: asks 99.5, 99.4, then 99.3 at tick 3
        spec(1, -1, 1, 2, stop=99.15),  # sell stop: bids 99.3, then 99.1 <= 99.15 at tick 3
        spec(2, -1, 1, 1, limit=99.25),  # sell limit: bids 99.1, 98.8 never reach it
    ]
    f = _both(QUOTES, orders)
    assert _fills(f) == [(1, 1.0, 99.5), (1, -1.0, 99.2), (3, 1.0, 99.3), (3, -1.0, 99.1)]


def _random_ticks(rng: np.random.Generator, n: int, quotes: bool) -> dict[str, np.ndarray]:
    ts = T0 + np.cumsum(rng.integers(0, 4, n)) * 1000  # repeated timestamps included
    mid = 100 + np.cumsum(rng.normal(0, 0.3, n)).round(2)
    if not quotes:
        return {"ts_event": ts, "price": mid, "size": rng.integers(1, 50, n).astype(float)}
    half = rng.integers(1, 4, n) * 0.01
    bid, ask = mid - half, mid + half
    gaps = rng.random(n) < 0.05  # a missing side now and then: that side trades at the mid
    bid[gaps & (rng.random(n) < 0.5)] = np.nan
    ask[gaps & ~np.isnan(bid)] = np.nan
    return {"ts_event": ts, "bid_px": bid.round(2), "ask_px": ask.round(2)}


@pytest.mark.parametrize("seed", range(6))
def test_random_tick_scripts_fill_identically(seed: int) -> None:
    from test_venue_equivalence import _random_script

    rng = np.random.default_rng(100 + seed)
    ticks = _random_ticks(rng, 400, quotes=seed % 2 == 0)
    if "price" in ticks:
        close = ticks["price"]
    else:
        close = np.where(np.isnan(ticks["bid_px"] + ticks["ask_px"]), 100.0, ticks["bid_px"])
    frame = pd.DataFrame({"close": close})
    orders = _random_script(rng, frame, 150, ts=ticks["ts_event"])
    kw: dict[str, Any] = {
        "cash": 1e6,
        "commission": 0.0005,
        "slippage": [None, 2.0, ("half_spread", 0.02)][seed % 3],
        "latency_ns": [0, 2500, 7000][seed % 3],
        "fill_timing": ["next_open", "same_close"][seed // 3],
    }
    f = _both(ticks, orders, **kw)
    assert len(f) > 20


def test_trades_with_the_prevailing_touch() -> None:
    trades = {
        "ts_event": T0 + np.array([0, 2, 3, 5]) * 1000,
        "price": np.array([100.0, 100.2, 99.9, 100.1]),
        "size": np.array([1.0, 2.0, 3.0, 4.0]),
    }
    quotes = {
        "ts_event": T0 + np.array([1, 3, 4]) * 1000,
        "bid_px": np.array([99.8, 99.7, 100.0]),
        "ask_px": np.array([100.3, 100.1, 100.4]),
    }
    m = merge_quotes(trades, quotes)
    # trade 0 precedes every quote; trade 1 (2us) sees the 1us quote; trade 2 (3us) the quote
    # at the same time; trade 3 (5us) the 4us quote
    np.testing.assert_array_equal(m["bid_px"], [np.nan, 99.8, 99.7, 100.0])
    np.testing.assert_array_equal(m["ask_px"], [np.nan, 100.3, 100.1, 100.4])
    orders = [
        spec(0, 1, 1),  # market buy -> trade 1 at its ask, 100.3
        spec(1, -1, 1),  # market sell -> trade 2 at its bid, 99.7
        spec(1, 1, 1, 1, limit=100.2),  # buy limit: asks 100.1 at trade 2 (at or below: fills)
        spec(2, -1, 1, 1, limit=100.05),  # sell limit: bid 100.0 at trade 3 is below: no fill
    ]
    f = _both(m, orders)
    assert _fills(f) == [(2, 1.0, 100.3), (3, -1.0, 99.7), (3, 1.0, 100.1)]


def test_quote_events_between_trades_worked_by_hand() -> None:
    nan = np.nan
    trades = {
        "ts_event": T0 + np.array([0, 6]) * 1000,
        "price": np.array([100.0, 100.1]),
        "size": np.array([5.0, 2.0]),
    }
    quotes = {
        "ts_event": T0 + np.array([1, 3, 4, 5, 6]) * 1000,
        "bid_px": np.array([99.8, 99.3, 99.35, nan, 99.9]),
        "ask_px": np.array([100.2, 99.4, nan, nan, 100.3]),
    }
    m = merge_quotes(trades, quotes, quote_events=True)
    # the trade at 0us, quotes at 1, 3 and 4us (the empty 5us quote is dropped), then the 6us
    # quote ahead of the 6us trade; quotes at the mid (the 4us one has only a bid), size 0
    assert ((m["ts_event"] - T0) // 1000).tolist() == [0, 1, 3, 4, 6, 6]
    assert m["size"].tolist() == [5.0, 0.0, 0.0, 0.0, 0.0, 2.0]
    mids = [(99.8 + 100.2) / 2, (99.3 + 99.4) / 2, 99.35, (99.9 + 100.3) / 2]
    np.testing.assert_array_equal(m["price"], [100.0, *mids, 100.1])
    np.testing.assert_array_equal(m["bid_px"], [nan, 99.8, 99.3, 99.35, 99.9, 99.9])
    np.testing.assert_array_equal(m["ask_px"], [nan, 100.2, 99.4, nan, 100.3, 100.3])
    orders = [
        spec(0, 1, 1, 1, limit=99.5),  # buy limit: the 3us quote's ask, 99.4 (no trade gets there)
        spec(0, -1, 1),  # market sell -> the 1us quote's bid, 99.8
        spec(2, -1, 1),  # market sell at the 3us quote -> the 4us quote's bid, 99.35
        spec(3, 1, 1),  # market buy at the 4us quote -> the 6us quote's ask, 100.3
    ]
    f = _both(m, orders)
    assert _fills(f) == [(1, -1.0, 99.8), (3, 1.0, 99.4), (4, -1.0, 99.35), (6, 1.0, 100.3)]
    # with the touch on trades only, the limit never fills: the 6us trade's ask is 100.3
    assert _fills(_both(merge_quotes(trades, quotes), orders[:1])) == []


def test_quote_events_need_ordered_inputs() -> None:
    ts = T0 + np.array([0, 2, 1])  # the last one goes back
    one = np.ones(3)
    with pytest.raises(ValueError, match="trade timestamps"):
        merge_quotes({"ts_event": ts, "price": one}, {"ts_event": np.sort(ts), "bid_px": one,
                     "ask_px": one}, quote_events=True)  # fmt: skip
    with pytest.raises(ValueError, match="quote timestamps"):
        merge_quotes({"ts_event": np.sort(ts), "price": one}, {"ts_event": ts, "bid_px": one,
                     "ask_px": one}, quote_events=True)  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_random_scripts_on_trades_and_quote_events_fill_identically(seed: int) -> None:
    from test_venue_equivalence import _random_script

    rng = np.random.default_rng(200 + seed)
    trades = _random_ticks(rng, 250, quotes=False)
    quotes = _random_ticks(rng, 250, quotes=True)
    m = merge_quotes(trades, quotes, quote_events=True)
    orders = _random_script(rng, pd.DataFrame({"close": m["price"]}), 150, ts=m["ts_event"])
    kw: dict[str, Any] = {
        "cash": 1e6,
        "commission": 0.0005,
        "slippage": [None, 2.0, ("half_spread", 0.02)][seed],
        "latency_ns": [0, 2500, 7000][seed],
    }
    f = _both(m, orders, **kw)
    assert len(f) > 20
