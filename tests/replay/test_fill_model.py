"""Fill rules on hand-made bars, expected prices worked out by hand; every case runs on both
venues (numba kernel loop and core's event loop) and they must agree exactly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from replay_helpers import NAN, bars, run_both, script, spec

from ost_lab.core import daily_close
from ost_lab.replay import Backtest
from ost_lab.replay import venue as V
from ost_lab.replay.backtest import session_ends
from ost_lab.replay.venue import CANCEL_ALL, FOK, IOC, QTY_FRACTION

MARKET, LIMIT, STOP, STOP_LIMIT, MIT, LIT, TRAIL = range(7)
DAY = 86_400 * 10**9


def prices(res) -> list[float]:  # type: ignore[no-untyped-def]
    return [round(p, 10) for p in res.fills["price"]]


def test_market_next_open_vs_same_close() -> None:
    df = bars([(100, 101, 99, 100.5, 1e6), (102, 103, 101, 102.5, 1e6)])
    k, _ = run_both(df, [spec(0, 1, 10)])
    assert prices(k) == [102.0]
    assert k.fills["ts"].iloc[0] == df.index[1].value  # stamped with bar 1's open
    k, _ = run_both(df, [spec(0, 1, 10)], fill_timing="same_close")
    assert prices(k) == [100.5]


@pytest.mark.parametrize(
    ("bar1", "side", "limit", "expected"),
    [
        ((100, 101, 98, 100, 1e6), 1, 99.0, 99.0),  # touched intrabar: the limit
        ((97, 99, 96, 98, 1e6), 1, 99.0, 97.0),  # gaps below: the open (better)
        ((100, 101, 99.5, 100, 1e6), 1, 99.0, NAN),  # never reached
        ((100, 101.5, 99, 100, 1e6), -1, 101.0, 101.0),
        ((103, 104, 102, 103, 1e6), -1, 101.0, 103.0),
    ],
)
def test_limit(bar1: tuple[float, ...], side: int, limit: float, expected: float) -> None:
    df = bars([(100, 100, 100, 100, 1e6), bar1])
    k, _ = run_both(df, [spec(0, side, 5, LIMIT, limit=limit)])
    assert prices(k) == ([] if math.isnan(expected) else [expected])


@pytest.mark.parametrize(
    ("bar1", "side", "stop", "expected"),
    [
        ((100, 106, 99, 104, 1e6), 1, 105.0, 105.0),  # triggered intrabar: the stop
        ((107, 108, 106, 107, 1e6), 1, 105.0, 107.0),  # gaps through: the open, worse
        ((100, 104, 99, 104, 1e6), 1, 105.0, NAN),
        ((100, 101, 94, 96, 1e6), -1, 95.0, 95.0),
        ((92, 93, 91, 92, 1e6), -1, 95.0, 92.0),
    ],
)
def test_stop_and_gaps(bar1: tuple[float, ...], side: int, stop: float, expected: float) -> None:
    df = bars([(100, 100, 100, 100, 1e6), bar1])
    k, _ = run_both(df, [spec(0, side, 5, STOP, stop=stop)])
    got = prices(k)
    assert got == ([] if math.isnan(expected) else [expected])
    if got:  # a stop never fills better than its trigger
        assert (got[0] - stop) * side >= 0


def test_stop_limit_opening_below_trigger_never_fills_below_the_stop() -> None:
    # buy stop 105 limit 110; the bar opens at 100 (below the trigger), trades up to 108.
    # Prices below 105 traded before the trigger: the fill is at the trigger, not the open.
    df = bars([(100, 100, 100, 100, 1e6), (100, 108, 95, 107, 1e6)])
    k, _ = run_both(df, [spec(0, 1, 5, STOP_LIMIT, limit=110.0, stop=105.0)])
    assert prices(k) == [105.0]


def test_stop_limit_only_prices_after_the_trigger() -> None:
    # buy stop 105 limit 104: triggered at 105 intrabar, then only [105 .. close] is known to
    # trade: close 103.5 <= 104 so the limit fills at 104.
    df = bars([(100, 100, 100, 100, 1e6), (100, 106, 99, 103.5, 1e6)])
    k, _ = run_both(df, [spec(0, 1, 5, STOP_LIMIT, limit=104.0, stop=105.0)])
    assert prices(k) == [104.0]
    # close 104.5 > 104: no fill on the trigger bar; it keeps working triggered and fills on
    # the next bar at the limit (open 104.2 > limit, low 103 <= limit).
    df = bars([(100, 100, 100, 100, 1e6), (100, 106, 99, 104.5, 1e6), (104.2, 105, 103, 104, 1e6)])
    k, _ = run_both(df, [spec(0, 1, 5, STOP_LIMIT, limit=104.0, stop=105.0)])
    assert prices(k) == [104.0]
    assert k.fills["ts"].iloc[0] > df.index[2].value  # on bar 2, intrabar (close stamp)


def test_sell_stop_limit_gap() -> None:
    # sell stop 95 limit 94, the bar gaps to 90 (triggered at the open), trades up to 96:
    # the limit rule applies to the whole bar -> 94
    df = bars([(100, 100, 100, 100, 1e6), (90, 96, 89, 92, 1e6)])
    k, _ = run_both(df, [spec(0, -1, 5, STOP_LIMIT, limit=94.0, stop=95.0)])
    assert prices(k) == [94.0]


def test_market_if_touched_and_limit_if_touched() -> None:
    df = bars([(100, 100, 100, 100, 1e6), (100, 101, 94, 97, 1e6)])
    k, _ = run_both(df, [spec(0, 1, 5, MIT, stop=95.0)])
    assert prices(k) == [95.0]
    k, _ = run_both(df, [spec(0, 1, 5, LIT, limit=96.0, stop=95.0)])
    assert prices(k) == [95.0]  # triggered at 95 <= limit 96
    k, _ = run_both(df, [spec(0, 1, 5, LIT, limit=94.5, stop=95.0)])
    assert prices(k) == []  # after the trigger only [95, close 97]: never <= 94.5


def test_trailing_stop_ratchets_after_the_bar() -> None:
    # sell trailing 2 below: level 98 from bar 0's close; bar 1 (low 100) does not touch it,
    # then ratchets to 104 - 2 = 102; bar 2 trades down to 101 -> fills at 102.
    df = bars([(100, 100, 100, 100, 1e6), (101, 104, 100, 103, 1e6), (103, 103, 101, 101.5, 1e6)])
    k, _ = run_both(df, [spec(0, 1, 5), spec(0, -1, 5, TRAIL, trail=2.0)])
    assert prices(k) == [101.0, 102.0]


def test_partial_fills_share_one_pool_and_rest() -> None:
    # 10 % of 1000 shares = a pool of 100 per bar shared by both orders, in submission order
    df = bars([(100, 100, 100, 100, 1000), (100, 101, 99, 100, 1000), (101, 102, 100, 101, 1000)])
    k, _ = run_both(df, [spec(0, 1, 80), spec(0, 1, 60)], max_volume_fraction=0.1)
    assert list(k.fills["qty"]) == [80.0, 20.0, 40.0]
    assert prices(k) == [100.0, 100.0, 101.0]
    assert list(k.orders["status"]) == ["FILLED", "FILLED"]


def test_ioc_and_fok() -> None:
    df = bars([(100, 100, 100, 100, 1000), (100, 101, 99, 100, 1000), (95, 96, 94, 95, 1000)])
    k, _ = run_both(df, [spec(0, 1, 5, LIMIT, limit=98.0, tif=IOC)])
    assert prices(k) == []  # one bar only; bar 2 would have filled it
    k, _ = run_both(df, [spec(0, 1, 150, tif=FOK)], max_volume_fraction=0.1)
    assert prices(k) == []  # pool of 100 < 150: all or nothing
    k, _ = run_both(df, [spec(0, 1, 150, tif=IOC)], max_volume_fraction=0.1)
    assert list(k.fills["qty"]) == [100.0]


def test_cancel_all() -> None:
    df = bars([(100, 100, 100, 100, 1e6), (100, 101, 99, 100, 1e6), (90, 91, 89, 90, 1e6)])
    k, _ = run_both(df, [spec(0, 1, 5, LIMIT, limit=95.0), spec(1, 0, 0, CANCEL_ALL)])
    assert prices(k) == []
    assert list(k.orders["status"]) == ["CANCELED"]


@pytest.mark.parametrize(
    ("slippage", "buy", "sell"),
    [
        (10.0, 100.0 * (1 + 10e-4), 100.0 * (1 - 10e-4)),  # fixed bps
        (("half_spread", 0.02), 100.01, 99.99),
        (("sqrt_impact", 50.0), 100.0 * (1 + 50e-4 * 0.1), 100.0 * (1 - 50e-4 * 0.1)),
    ],
)
def test_slippage_models(slippage: object, buy: float, sell: float) -> None:
    # 100 shares against 10_000 volume: sqrt(0.01) = 0.1
    df = bars([(100, 100, 100, 100, 1e4), (100, 101, 99, 100, 1e4), (100, 101, 99, 100, 1e4)])
    k, _ = run_both(df, [spec(0, 1, 100), spec(1, -1, 100)], slippage=slippage)
    assert k.fills["price"].tolist() == pytest.approx([buy, sell], rel=1e-12)
    # limit orders are not slipped
    k, _ = run_both(df, [spec(0, 1, 100, LIMIT, limit=99.5)], slippage=slippage)
    assert prices(k) == [99.5]


def test_unknown_slippage_model_is_refused_when_made() -> None:
    from ost_lab.replay.slippage import SlippageModel

    with pytest.raises(ValueError, match="unknown slippage model"):
        SlippageModel("bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown slippage model"):
        SlippageModel.coerce(("bogus", 1.0))  # the (kind, param) form, as Backtest takes it
    assert [SlippageModel(k).code for k in ("none", "bps", "half_spread", "sqrt_impact")] == [
        0,
        1,
        2,
        3,
    ]


def test_commission_models() -> None:
    from ost_lab.core import Commission

    df = bars([(100, 100, 100, 100, 1e6), (100, 101, 99, 100, 1e6), (50, 51, 49, 50, 1e6)])
    per_share = Commission(per_unit=0.005, minimum=1.0)
    k, _ = run_both(df, [spec(0, 1, 100), spec(1, 1, 1000)], commission=per_share)
    assert k.fills["commission"].tolist() == [1.0, 5.0]  # minimum, then 1000 x 0.005
    k, _ = run_both(df, [spec(0, 1, 100)], commission=0.001)  # 10 bps of 10_000
    assert k.fills["commission"].tolist() == pytest.approx([10.0])
    assert k.final_equity == pytest.approx(100_000 - 10 + 100 * (50 - 100))


def test_fraction_orders_sized_at_fill() -> None:
    df = bars([(100, 100, 100, 100, 1e6), (80, 81, 79, 80, 1e6)])
    # half of 10_000 at the next open 80 with 10 bps: floor(5000 / (80 * 1.001)) = 62
    k, _ = run_both(df, [spec(0, 1, 0.5, mode=QTY_FRACTION)], cash=10_000, commission=0.001)
    assert k.fills["qty"].tolist() == [62.0]


def test_latency_in_bars() -> None:
    rows = [(100 + i, 101 + i, 99 + i, 100 + i, 1e6) for i in range(5)]
    k = Backtest(bars(rows), __import__("replay_helpers").script, latency_bars=2).run(
        params=spec(0, 1, 1)
    )
    assert prices(k) == [103.0]  # bar 0 decides, bars 1-2 are latency, fills at bar 3's open


def test_day_and_gtd_orders_expire() -> None:
    """Minute bars over midnight (23:57 .. 00:02). A DAY buy limit at 98 sent at 23:57's close
    expires at midnight: bar 00:00 reaches 98 but the order is gone; the same limit GTC fills
    there. A GTD limit expiring at 00:01:30 fills on 00:01 (reached, still valid); one
    expiring at 00:01:00 does not (expired when 00:01 opens). Both venues."""
    idx = pd.date_range("2024-01-01 23:57", periods=6, freq="min", tz="UTC")
    rows = [(100, 100.5, 99.5, 100, 1e6)] * 3 + [(99, 99.5, 97.5, 98, 1e6)] * 3
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"], index=idx)
    k, _ = run_both(df, [spec(0, 1, 5, LIMIT, limit=98.0, tif=V.DAY)])
    assert prices(k) == [] and k.orders["status"].tolist() == ["EXPIRED"]
    k, _ = run_both(df, [spec(0, 1, 5, LIMIT, limit=98.0)])
    assert prices(k) == [98.0]
    midnight = idx[3].value
    gtd = [spec(0, 1, 5, LIMIT, limit=97.6, tif=V.GTD, expire_ts=float(midnight + 90 * 10**9))]
    k, _ = run_both(df.iloc[[0, 1, 2, 3, 4]].assign(low=[99.5, 99.5, 99.5, 97.7, 97.5]), gtd)
    assert prices(k) == [97.6]  # bar 00:01 reaches 97.6; it opened before the expiry
    gtd[0][10] = float(midnight + 60 * 10**9)
    k, _ = run_both(df.iloc[[0, 1, 2, 3, 4]].assign(low=[99.5, 99.5, 99.5, 97.7, 97.5]), gtd)
    assert prices(k) == [] and k.orders["status"].tolist() == ["EXPIRED"]


def test_day_orders_end_with_the_session() -> None:
    """Half-hour bars (index = open time) 14:30-17:30 New York on Friday 2024-03-08 (EST) and
    Monday 2024-03-11 (EDT: clocks went forward on the Sunday). A DAY buy limit at 98 sent at
    the 14:30 bar's close (15:00) would fill on the 16:30 bar, which reaches 98: with the
    session ending at 16:00 New York the order expires when the 16:00 bar opens; ending at UTC
    midnight it fills. Sent on Monday at the same local time it also expires at 16:00 local
    (20:00 UTC, not 21:00). Both venues."""
    days = ["2024-03-08", "2024-03-11"]
    hours = ("14:30", "15:00", "15:30", "16:00", "16:30", "17:00")
    local = [pd.Timestamp(f"{d} {h}", tz="America/New_York") for d in days for h in hours]
    idx = pd.DatetimeIndex(local).tz_convert("UTC")
    rows = [(100, 100.5, 99.5, 100, 1e6)] * 4 + [(99, 99.5, 97.5, 98, 1e6)] * 2
    df = pd.DataFrame(rows * 2, columns=["open", "high", "low", "close", "volume"], index=idx)
    orders = [spec(b, 1, 5, LIMIT, limit=98.0, tif=V.DAY) for b in (0, 6)]
    ny = daily_close("16:00", "America/New_York")
    for k in run_both(df, orders, session_end=ny):
        assert prices(k) == [] and k.orders["status"].tolist() == ["EXPIRED", "EXPIRED"]
    k, _ = run_both(df, orders)  # UTC midnight: both fill on the 16:30 bar
    assert prices(k) == [98.0, 98.0]
    # the session ends the venues used, worked out: 21:00 UTC on Friday, 20:00 UTC on Monday
    assert ny(int(idx[1].value)) == pd.Timestamp("2024-03-08 21:00", tz="UTC").value
    assert ny(int(idx[7].value)) == pd.Timestamp("2024-03-11 20:00", tz="UTC").value


def test_session_ends_are_computed_once_per_session() -> None:
    calls: list[int] = []

    def hourly(ts: int) -> int:
        calls.append(ts)
        return (ts // 3_600_000_000_000 + 1) * 3_600_000_000_000

    ts = np.arange(0, 3 * 3_600_000_000_000, 600_000_000_000, dtype=np.int64)  # 10 min, 3 h
    ends = session_ends(ts, hourly)
    assert ends.tolist() == [hourly(int(t)) for t in ts] and len(calls) == 3 + len(ts)
    with pytest.raises(ValueError, match="not after"):
        session_ends(ts, lambda t: t)


def test_gtd_without_expiry_is_refused() -> None:
    df = bars([(100, 101, 99, 100, 1e6), (100, 101, 99, 100, 1e6)])
    with pytest.raises(ValueError, match="GTD"):
        Backtest(df, script).run(params=np.array(spec(0, 1, 5, LIMIT, limit=99.0, tif=V.GTD)))
