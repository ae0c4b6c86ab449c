"""Metrics and round trips against independent plain-Python re-derivations and hand cases."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ost_lab.core import metrics as m

DAY = 86_400 * 10**9
T0 = 1_704_067_200 * 10**9  # 2024-01-01 UTC in ns


def daily_equity(values: list[float]) -> pd.Series:
    idx = pd.DatetimeIndex(np.array([T0 + i * DAY for i in range(len(values))]), tz="UTC")
    return pd.Series(values, index=idx, dtype=float)


def fills(rows: list[tuple[int, str, float, float, float, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["ts", "symbol", "qty", "price", "commission", "tag"])


def path(n: int = 300, seed: int = 1) -> list[float]:
    rng = np.random.default_rng(seed)
    return (1e5 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, n)))).tolist()


# ----------------------------------------------------------- equity metrics


def ref_metrics(e: list[float], ppy: float) -> dict[str, float]:
    r = [e[i] / e[i - 1] - 1.0 for i in range(1, len(e))]
    years = (len(e) - 1) / 365.25  # daily calendar spacing in these tests
    tr = e[-1] / e[0] - 1.0
    mdd = 0.0
    for i in range(len(e)):
        for j in range(i, len(e)):
            mdd = min(mdd, e[j] / e[i] - 1.0)
    mean = sum(r) / len(r)
    sd = statistics.stdev(r)
    down = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / len(r))
    c = (1 + tr) ** (1 / years) - 1
    return {
        "total_return": tr,
        "cagr": c,
        "volatility": sd * math.sqrt(ppy),
        "sharpe": mean / sd * math.sqrt(ppy),
        "sortino": mean / down * math.sqrt(ppy),
        "max_drawdown": mdd,
        "calmar": c / abs(mdd),
    }


def ref_dd_duration(e: list[float], ts: list[int]) -> int:
    best = 0
    for i in range(len(e)):
        if any(e[k] > e[i] for k in range(i)):
            continue  # not a running peak
        j = next((j for j in range(i + 1, len(e)) if e[j] >= e[i]), None)
        if j is None:
            if i < len(e) - 1:
                best = max(best, ts[-1] - ts[i])
        elif j > i + 1:
            best = max(best, ts[j] - ts[i])
    return best


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_equity_metrics_match_plain_python(seed: int) -> None:
    e = path(250, seed)
    eq = daily_equity(e)
    got = m.performance(eq, periods_per_year=252)
    ref = ref_metrics(e, 252)
    for k, v in ref.items():
        assert got[k] == pytest.approx(v, rel=1e-10), k
    ts = [T0 + i * DAY for i in range(len(e))]
    assert got["max_drawdown_duration"] == pd.Timedelta(ref_dd_duration(e, ts), unit="ns")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(50.0, 150.0), min_size=2, max_size=40))
def test_drawdown_random(e: list[float]) -> None:
    eq = daily_equity(e)
    ts = [T0 + i * DAY for i in range(len(e))]
    assert m.max_drawdown_duration(eq) == ref_dd_duration(e, ts)
    brute = min(min(e[j] / e[i] - 1.0 for j in range(i, len(e))) for i in range(len(e)))
    assert m.max_drawdown(eq) == pytest.approx(brute, rel=1e-12, abs=1e-15)


def test_hand_computed_drawdown_and_returns() -> None:
    eq = daily_equity([100.0, 120.0, 90.0, 110.0, 125.0, 100.0])
    assert m.total_return(eq) == pytest.approx(0.0)
    assert m.max_drawdown(eq) == pytest.approx(-0.25)  # 120 -> 90
    # under water 120 (day 1) -> recovered 125 (day 4): 3 days; 125 -> end: 1 day
    assert m.max_drawdown_duration(eq) == 3 * DAY
    np.testing.assert_allclose(m.drawdown(eq).to_numpy(), [0, 0, -0.25, -1 / 12, 0, -0.2])


def test_int_ns_index_same_as_datetime_index() -> None:
    e = path(60)
    a = m.performance(daily_equity(e), periods_per_year=252)
    b_eq = pd.Series(e, index=pd.Index([T0 + i * DAY for i in range(60)], dtype=np.int64))
    b = m.performance(b_eq, periods_per_year=252)
    pd.testing.assert_series_equal(a, b)


def test_periods_per_year_inference() -> None:
    def idx(step_ns: int, n: int, start: int = T0) -> pd.Index:
        return pd.Index(np.arange(n, dtype=np.int64) * step_ns + start)

    bdays = pd.bdate_range("2024-01-01", periods=60, tz="UTC")
    assert m.periods_per_year(bdays) == 252
    assert m.periods_per_year(idx(7 * DAY, 20)) == 52
    assert m.periods_per_year(idx(30 * DAY, 20)) == 12
    # minute bars, 390 per day on 3 days (US equity session)
    mins = np.concatenate(
        [T0 + d * DAY + 14 * 3600 * 10**9 + np.arange(390) * 60 * 10**9 for d in range(3)]
    )
    assert m.periods_per_year(pd.Index(mins)) == 252 * 390
    assert m.periods_per_year(idx(3600 * 10**9, 24 * 5)) == 252 * 24
    with pytest.raises(ValueError):
        m.periods_per_year(idx(DAY, 1))


def test_flat_equity_gives_nan_not_crash() -> None:
    eq = daily_equity([100.0] * 10)
    p = m.performance(eq, periods_per_year=252)
    assert math.isnan(p["sharpe"]) and math.isnan(p["sortino"]) and math.isnan(p["calmar"])
    assert p["volatility"] == 0.0 and p["max_drawdown"] == 0.0 and p["total_return"] == 0.0
    assert p["max_drawdown_duration"] == pd.Timedelta(0)


def test_single_bar() -> None:
    p = m.performance(daily_equity([100.0]))
    assert p["total_return"] == 0.0
    for k in ("cagr", "volatility", "sharpe", "periods_per_year", "exposure"):
        assert math.isnan(p[k]), k
    assert p["n_trades"] == 0


def test_sortino_without_downside_is_inf() -> None:
    assert m.performance(daily_equity([1.0, 2.0, 3.0]), periods_per_year=252)["sortino"] == (
        math.inf
    )


# --------------------------------------------------------------- round trips


def test_round_trip_long_short_and_flip() -> None:
    f = fills(
        [
            (10, "A", 10.0, 100.0, 1.0, "s"),
            (20, "A", -5.0, 110.0, 1.0, "s"),
            (30, "A", -10.0, 105.0, 1.0, "s"),  # closes 5, flips short 5 (split)
            (40, "A", 5.0, 95.0, 1.0, "s"),
        ]
    )
    rt = m.round_trips(f)
    assert list(rt["side"]) == ["long", "short"]
    a, b = rt.iloc[0], rt.iloc[1]
    assert (a["entry_ts"], a["exit_ts"], a["duration_ns"]) == (10, 30, 20)
    assert a["qty"] == 10 and a["entry_price"] == 100 and a["exit_price"] == 107.5
    assert a["pnl_gross"] == 75.0 and a["commission"] == 2.5 and a["pnl_net"] == 72.5
    assert a["return"] == pytest.approx(72.5 / 1000.0)
    assert (b["entry_ts"], b["exit_ts"], b["qty"], b["entry_price"]) == (30, 40, 5, 105)
    assert b["pnl_gross"] == 50.0 and b["commission"] == 1.5 and b["pnl_net"] == 48.5
    # MFE/MAE without bars: fill prices only
    assert a["mfe"] == 100.0 and a["mae"] == 0.0
    assert b["mfe"] == 50.0 and b["mae"] == 0.0


def test_round_trips_split_by_symbol_and_tag_and_open_positions() -> None:
    f = fills(
        [
            (1, "A", 1.0, 10.0, 0.0, "x"),
            (2, "A", 2.0, 11.0, 0.0, "y"),
            (3, "B", -3.0, 50.0, 0.0, "x"),
            (4, "A", -1.0, 12.0, 0.0, "x"),
            (5, "B", 3.0, 40.0, 0.0, "x"),
            (6, "A", -1.0, 13.0, 0.0, "y"),
        ]
    )
    rt = m.round_trips(f)
    assert list(zip(rt["symbol"], rt["tag"], rt["pnl_gross"], strict=True)) == [
        ("A", "x", 2.0),
        ("B", "x", 30.0),
    ]
    op = m.open_positions(f)
    assert op.to_dict() == {("A", "y"): 1.0}


def test_fractional_quantities_close_despite_float_residue() -> None:
    f = fills(
        [
            (1, "BTC", 0.1, 100.0, 0.0, ""),
            (2, "BTC", 0.2, 100.0, 0.0, ""),
            (3, "BTC", -0.3, 110.0, 0.0, ""),
            (4, "BTC", 0.00001, 100.0, 0.0, ""),
            (5, "BTC", -0.00001, 120.0, 0.0, ""),
        ]
    )
    rt = m.round_trips(f)
    assert len(rt) == 2
    assert rt["pnl_gross"].tolist() == pytest.approx([3.0, 0.0002])
    assert len(m.open_positions(f)) == 0


def test_mfe_mae_from_bars() -> None:
    bars = pd.DataFrame(
        {
            "symbol": ["A", "A", "A", "B", "A"],
            "high": [101, 108, 104, 999, 200],
            "low": [99, 96, 100, 1, 1],
        },
        index=pd.Index([10, 20, 30, 20, 50], dtype=np.int64),
    )
    f = fills([(10, "A", 2.0, 100.0, 0.0, ""), (30, "A", -2.0, 103.0, 0.0, "")])
    rt = m.round_trips(f, bars)
    assert rt["mfe"].iloc[0] == 16.0  # (108 - 100) * 2, the bar at 50 is after exit
    assert rt["mae"].iloc[0] == -8.0  # (96 - 100) * 2
    fs = fills([(10, "A", -2.0, 100.0, 0.0, ""), (30, "A", 2.0, 103.0, 0.0, "")])
    rs = m.round_trips(fs, bars)
    assert rs["mfe"].iloc[0] == 8.0 and rs["mae"].iloc[0] == -16.0
    assert rs["pnl_gross"].iloc[0] == -6.0


def test_fill_ts_as_datetimes_and_minute_equity() -> None:
    f = fills(
        [(T0 + 60 * 10**9, "A", 1.0, 10.0, 0.0, ""), (T0 + 120 * 10**9, "A", -1.0, 11.0, 0.0, "")]
    )
    f_dt = f.assign(ts=pd.to_datetime(f["ts"], utc=True))
    pd.testing.assert_frame_equal(m.round_trips(f), m.round_trips(f_dt))
    idx = pd.date_range("2024-01-02 14:30", periods=390, freq="min", tz="UTC").append(
        pd.date_range("2024-01-03 14:30", periods=390, freq="min", tz="UTC")
    )  # two US equity sessions of minute bars
    eq = pd.Series(np.linspace(100.0, 101.0, idx.size), index=idx)
    p = m.performance(eq, f)
    assert p["periods_per_year"] == 252 * 390
    assert p["exposure"] == pytest.approx(0.0)  # fills before the curve starts
    eq2 = eq.copy()
    eq2.index = pd.DatetimeIndex(T0 + np.arange(eq.size) * 60 * 10**9, tz="UTC")
    assert m.exposure(eq2, f) == pytest.approx(60 / ((eq2.index[-1] - eq2.index[0]).value / 1e9))


def test_no_fills() -> None:
    rt = m.round_trips(fills([]))
    assert len(rt) == 0 and list(rt.columns) == m.ROUND_TRIP_COLUMNS
    s = m.trade_stats(rt)
    assert s["n_trades"] == 0 and math.isnan(s["hit_rate"]) and math.isnan(s["profit_factor"])


fill_rows = st.lists(
    st.tuples(st.sampled_from(["A", "B"]), st.integers(-5, 5), st.integers(90, 110)),
    min_size=0,
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(fill_rows)
def test_round_trips_cash_identity(rows: list[tuple[str, int, int]]) -> None:
    rows = [r for r in rows if r[1] != 0]
    f = fills([(i, s, float(q), float(p), 0.5, "t") for i, (s, q, p) in enumerate(rows)])
    rt = m.round_trips(f)
    for sym in ("A", "B"):
        seq = [(q, p) for s, q, p in rows if s == sym]
        pos, flats, start, cash_closed = 0, 0, 0, 0.0
        for i, (q, _p) in enumerate(seq):
            before = pos
            pos += q
            if pos == 0 or (before != 0 and (pos > 0) != (before > 0)):
                flats += 1
            if pos == 0:
                cash_closed += -sum(qq * pp for qq, pp in seq[start : i + 1])
                start = i + 1
        trips = rt[rt["symbol"] == sym]
        assert len(trips) == flats
        if pos == 0:
            # all cash realised: trip gross PnL sums to minus the signed cash flow
            assert trips["pnl_gross"].sum() == pytest.approx(cash_closed)
            n_fills_sym = len(seq)
            assert trips["commission"].sum() == pytest.approx(0.5 * n_fills_sym)
        assert (trips["mfe"] >= 0).all() and (trips["mae"] <= 0).all()
        assert (trips["pnl_gross"] <= trips["mfe"] + 1e-9).all()
        assert (trips["pnl_gross"] >= trips["mae"] - 1e-9).all()
        long_ = trips["side"] == "long"
        np.testing.assert_allclose(
            trips["pnl_gross"],
            np.where(long_, 1.0, -1.0)
            * (trips["exit_price"] - trips["entry_price"])
            * trips["qty"],
            atol=1e-9,
        )


# --------------------------------------------------------------- trade stats


def test_trade_stats_hand_computed() -> None:
    rt = pd.DataFrame({"pnl_net": [10.0, -5.0, 20.0, -15.0, 0.0]})
    s = m.trade_stats(rt)
    assert s["n_trades"] == 5
    assert s["hit_rate"] == 0.4
    assert s["avg_win"] == 15.0 and s["avg_loss"] == -10.0
    assert s["payoff"] == 1.5 and s["profit_factor"] == 1.5


def test_all_winners_profit_factor_inf() -> None:
    s = m.trade_stats(pd.DataFrame({"pnl_net": [1.0, 2.0]}))
    assert s["profit_factor"] == math.inf and s["hit_rate"] == 1.0 and math.isnan(s["avg_loss"])


def test_exposure_fees_turnover() -> None:
    eq = daily_equity([1000.0, 1010.0, 1000.0, 1030.0, 1020.0])  # span 4 days
    f = fills(
        [
            (T0 + DAY, "A", 1.0, 100.0, 2.0, ""),  # long from day 1
            (T0 + 2 * DAY, "A", -1.0, 110.0, 2.0, ""),  # flat at day 2
            (T0 + 3 * DAY, "B", -2.0, 50.0, 1.0, ""),  # short from day 3 to end
        ]
    )
    p = m.performance(eq, f, periods_per_year=252)
    assert p["exposure"] == pytest.approx(2 / 4)
    assert p["fees"] == 5.0
    assert p["pnl"] == 20.0
    assert p["fees_pct_pnl"] == pytest.approx(5.0 / 25.0)
    assert p["turnover"] == pytest.approx((100 + 110 + 100) / np.mean(eq.to_numpy()))
    assert p["n_trades"] == 1 and p["n_fills"] == 3
    assert p["hit_rate"] == 1.0 and p["profit_factor"] == math.inf
