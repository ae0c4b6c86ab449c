"""The runs database: round trips, ids, filters, commands, deletion and crash safety."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ost_lab.dashboard.runs_db import RunsDB, UnknownRun, new_run_id, to_nano, to_nano_column
from ost_lab.dashboard.runs_schema import SCHEMA_VERSION

T0 = 1_700_000_000_000_000_000
MIN = 60_000_000_000


@pytest.fixture
def db(tmp_path):
    with RunsDB(tmp_path / "runs.sqlite") as d:
        yield d


def _run(db, **kw):
    args = dict(
        name="sma cross",
        mode="backtest",
        strategies=[{"class": "SmaCross", "name": "sma", "params": {"fast": 10}, "hash": "ab"}],
        instruments=["AAPL"],
        data_start_ns=T0,
        data_end_ns=T0 + 10 * MIN,
        feed="secmaster 1m",
        broker="simulated",
    )
    args.update(kw)
    return db.create_run(**args)


def test_full_record_round_trips(db):
    run = _run(db)
    db.write_batch(
        run,
        {
            "orders": [
                dict(
                    order_id="o1",
                    ts_ns=T0,
                    strategy="sma",
                    symbol="AAPL",
                    side="BUY",
                    qty=10,
                    order_type="LIMIT",
                    limit_price=101.123456789,
                    tif="GTC",
                    tag="sma",
                    status="FILLED",
                    filled_qty=10,
                    avg_price=101.1,
                )
            ],
            "order_events": [
                dict(ts_ns=T0, order_id="o1", status="SUBMITTED"),
                dict(ts_ns=T0 + 1, order_id="o1", status="ACCEPTED"),
                dict(ts_ns=T0 + MIN, order_id="o1", status="FILLED"),
            ],
            "fills": [
                dict(
                    ts_ns=T0 + MIN,
                    order_id="o1",
                    symbol="AAPL",
                    qty=10,
                    price=101.1,
                    commission=0.35,
                    tag="sma",
                    venue_id="v1",
                )
            ],
            "positions": [
                dict(
                    ts_ns=T0 + MIN,
                    symbol="AAPL",
                    tag="sma",
                    qty=10,
                    avg_price=101.1,
                    realized=0.0,
                    unrealized=1.5,
                )
            ],
            "equity": [dict(ts_ns=T0 + i * MIN, equity=10_000 + i * 0.5) for i in range(10)],
            "risk_events": [dict(ts_ns=T0, kind="rejection", rule="max_qty", reason="too big")],
            "mode_changes": [dict(ts_ns=T0, from_mode="sandbox", to_mode="paper", note="ok")],
            "logs": [dict(ts_ns=T0, level="INFO", message="started")],
        },
    )
    # a second batch continues the sequences and replaces the order's state
    db.write_batch(
        run,
        {
            "logs": [dict(ts_ns=T0 + 1, level="INFO", message="second")],
            "orders": [
                dict(
                    order_id="o1",
                    ts_ns=T0,
                    strategy="sma",
                    symbol="AAPL",
                    side="BUY",
                    qty=10,
                    order_type="LIMIT",
                    limit_price=101.123456789,
                    status="FILLED",
                    filled_qty=10,
                    avg_price=101.1,
                )
            ],
        },
    )
    db.finish_run(
        run,
        "completed",
        metrics={"sharpe": 1.25, "pf": math.inf, "x": math.nan},
        total_return=0.0045,
    )

    got = db.get_run(run)
    assert got["status"] == "completed" and got["progress"] == 1.0
    assert got["strategies"][0]["params"] == {"fast": 10}
    assert got["metrics"] == {"sharpe": 1.25, "pf": None, "x": None}
    assert db.orders(run)["limit_price"].iloc[0] == pytest.approx(101.123456789, abs=1e-12)
    assert len(db.orders(run)) == 1
    raw = db.conn.execute("SELECT limit_price FROM orders").fetchone()[0]
    assert raw == 101_123_456_789  # exact integer nano-units at the storage boundary
    fills = db.fills(run)
    assert fills[["qty", "price", "commission"]].iloc[0].tolist() == [10, 101.1, 0.35]
    assert list(db.table(run, "order_events")["status"]) == ["SUBMITTED", "ACCEPTED", "FILLED"]
    assert list(db.table(run, "logs")["message"]) == ["started", "second"]
    eq = db.equity(run)
    assert len(eq) == 10 and eq.iloc[-1] == 10_004.5
    assert str(eq.index.tz) == "UTC"
    assert db.table(run, "risk_events")["rule"].tolist() == ["max_qty"]
    assert db.table(run, "mode_changes")["to_mode"].tolist() == ["paper"]
    assert db.table(run, "positions")["unrealized"].tolist() == [1.5]


def test_identical_runs_get_distinct_ids(db):
    ids = {_run(db) for _ in range(50)}
    assert len(ids) == 50
    assert new_run_id(T0) != new_run_id(T0)


def test_list_filters_and_pages(db):
    a = _run(db, name="alpha", mode="backtest")
    b = _run(db, name="beta", mode="sandbox")
    c = _run(db, name="gamma", mode="backtest", instruments=["MSFT"])
    db.finish_run(a, "completed")
    assert [r["id"] for r in db.list_runs()] == [c, b, a]  # newest first
    assert [r["id"] for r in db.list_runs(mode="backtest")] == [c, a]
    assert [r["id"] for r in db.list_runs(status="running")] == [c, b]
    assert [r["id"] for r in db.list_runs(text="MSFT")] == [c]
    assert [r["id"] for r in db.list_runs(limit=1, offset=1)] == [b]
    assert db.count_runs(mode="backtest") == 2
    frame = db.runs()
    assert list(frame.index) == [c, b, a] and str(frame["started"].dt.tz) == "UTC"


def test_bad_input_is_refused_clearly(db):
    with pytest.raises(ValueError, match="mode must be one of"):
        _run(db, mode="yolo")
    run = _run(db)
    with pytest.raises(ValueError, match="status"):
        db.finish_run(run, "great")
    with pytest.raises(UnknownRun, match="no run with id 'nope'"):
        db.get_run("nope")
    with pytest.raises(UnknownRun):
        db.finish_run("nope", "completed")
    with pytest.raises(ValueError, match="unknown tables"):
        db.write_batch(run, {"bars": [{"ts_ns": 1}]})
    with pytest.raises(ValueError, match="command must be one of"):
        db.post_command(run, "explode")
    with pytest.raises(ValueError, match="tuple rows must have the 2 columns"):
        db.write_batch(run, {"equity": [(1, 2.0, 3)]})


def test_tuple_rows_store_the_same_as_dict_rows(db):
    fill = dict(ts_ns=5, order_id="O-1", symbol="XYZ", qty=-3.0, price=101.123456789,
                commission=0.1, tag="t", venue_id=None)  # fmt: skip
    a, b = _run(db), _run(db)
    db.write_batch(a, {"fills": [fill], "equity": [dict(ts_ns=5, equity=1e6 + 0.5)]})
    db.write_batch(b, {"fills": [tuple(fill.values())], "equity": [(5, 1e6 + 0.5)]})
    raw = "SELECT ts_ns, order_id, symbol, qty, price, commission, tag, venue_id FROM fills"
    rows = [db.conn.execute(f"{raw} WHERE run_id = ?", (r,)).fetchall() for r in (a, b)]
    assert rows[0] == rows[1] == [(5, "O-1", "XYZ", -3.0, 101_123_456_789, 100_000_000, "t", None)]
    assert db.equity(a).equals(db.equity(b))
    assert db.equity(a).iloc[0] == 1e6 + 0.5


def test_commands_are_queued_and_acknowledged(tmp_path):
    path = tmp_path / "runs.sqlite"
    engine_side, server_side = RunsDB(path), RunsDB(path)
    run = _run(engine_side)
    cid = server_side.post_command(run, "stop", {"why": "test"})
    pending = engine_side.pending_commands(run)
    assert [(c.id, c.command, c.args) for c in pending] == [(cid, "stop", {"why": "test"})]
    engine_side.ack_command(cid, "stopping")
    assert engine_side.pending_commands(run) == []
    acked = server_side.get_command(cid)
    assert acked.acked_ns is not None and acked.ack_note == "stopping"


def test_delete_cascades_and_refuses_running_runs(db):
    run = _run(db)
    db.write_batch(run, {"equity": [dict(ts_ns=T0, equity=1.0)]})
    with pytest.raises(ValueError, match="running"):
        db.delete_run(run)
    db.finish_run(run, "cancelled")
    db.delete_run(run)
    with pytest.raises(UnknownRun):
        db.get_run(run)
    assert db.conn.execute("SELECT COUNT(*) FROM equity").fetchone()[0] == 0


def test_stale_heartbeat_marks_crashed(db):
    run = _run(db)  # our own pid: alive, so only the heartbeat can tell
    assert db.sweep_crashed() == []
    assert db.sweep_crashed(now_ns=time.time_ns() + 3600 * 10**9) == [run]
    assert db.get_run(run)["status"] == "crashed"


def test_schema_version_is_set_and_newer_is_refused(tmp_path):
    path = tmp_path / "runs.sqlite"
    RunsDB(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this ost_lab"):
        RunsDB(path)


def test_kill_9_mid_run_keeps_committed_data_and_marks_crashed(tmp_path):
    path = tmp_path / "runs.sqlite"
    script = textwrap.dedent(
        f"""
        import sys, time
        from ost_lab.dashboard.runs_db import RunsDB
        db = RunsDB({str(path)!r})
        run = db.create_run(name="doomed", mode="backtest")
        print(run, flush=True)
        i = 0
        while True:
            db.write_batch(run, {{"equity": [dict(ts_ns={T0} + (i * 100 + k), equity=1.0 + k)
                                             for k in range(100)]}})
            i += 1
            if i == 20:
                print("committed", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    run = proc.stdout.readline().strip()
    assert proc.stdout.readline().strip() == "committed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with RunsDB(path) as db:
        assert db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        got = db.get_run(run)
        assert got["status"] == "crashed"
        n = db.conn.execute("SELECT COUNT(*) FROM equity WHERE run_id = ?", (run,)).fetchone()[0]
        assert n >= 2000 and n % 100 == 0  # whole batches only: each batch is one transaction


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.floats(min_value=-9e9, max_value=9e9, allow_nan=False),
            st.integers(-(10**9), 10**9).map(lambda k: k / 2e9),  # halves of a nano-unit
            st.just(math.nan),
        ),
        max_size=50,
    )
)
def test_money_columns_round_as_each_value_would(values):
    stored = to_nano_column(values)
    assert stored == [None if v is None or math.isnan(v) else to_nano(v) for v in values]
    assert all(type(x) is int for x in stored if x is not None)


def test_money_out_of_int64_range_is_refused():
    for bad in ([math.inf], [1.0, -math.inf], [9.3e9]):
        with pytest.raises(ValueError, match="finite and below"):
            to_nano_column(bad)


def test_columns_store_the_same_as_rows(db):
    """Rows as dicts, tuples, or columns (lists, tuples, numpy arrays) give the same records,
    also for batches of odd sizes (written a power of two of rows per statement)."""
    n = 2 * 1024 + 777
    rng = np.random.default_rng(0)
    ts = (T0 + np.arange(n) * MIN).astype(np.int64)
    qty = rng.normal(0, 5, n).round(3)
    price = 100 + rng.normal(0, 1, n)
    fills = {
        "ts_ns": ts,
        "order_id": [f"O-{i // 2}" for i in range(n)],
        "symbol": ("XYZ",) * n,  # one value: bound once per statement
        "qty": qty,
        "price": price,
        "commission": np.where(np.arange(n) % 3 == 0, 0.35, 0.0),
        "tag": ["t"] * n,
    }  # venue_id left out: null
    rows = [
        dict(ts_ns=int(ts[i]), order_id=f"O-{i // 2}", symbol="XYZ", qty=float(qty[i]),
             price=float(price[i]), commission=0.35 if i % 3 == 0 else 0.0, tag="t")
        for i in range(n)
    ]  # fmt: skip
    equity = [(int(t), 1e6 + i * 0.25) for i, t in enumerate(ts)]
    a, b, c = _run(db), _run(db), _run(db)
    db.write_batch(a, {"fills": fills, "equity": {"ts_ns": ts, "equity": 1e6 + np.arange(n) / 4}})
    db.write_batch(b, {"fills": rows, "equity": equity})
    tuples = [(*r.values(), None) for r in rows]
    db.write_batch(c, {"fills": tuples[:1000]})
    db.write_batch(c, {"fills": tuples[1000:]})
    raw = "SELECT seq, ts_ns, order_id, symbol, qty, price, commission, tag, venue_id FROM fills"
    got = [
        db.conn.execute(f"{raw} WHERE run_id = ? ORDER BY seq", (r,)).fetchall() for r in (a, b, c)
    ]
    assert got[0] == got[1] == got[2]
    assert [r[0] for r in got[0]] == list(range(n))  # seq continues across batches
    assert got[0][0][1:] == (T0, "O-0", "XYZ", qty[0], to_nano(price[0]), 350_000_000, "t", None)
    assert db.equity(a).equals(db.equity(b)) and len(db.equity(a)) == n


def test_bad_columns_are_refused(db):
    run = _run(db)
    with pytest.raises(ValueError, match="unknown columns for equity"):
        db.write_batch(run, {"equity": {"ts_ns": [1], "value": [2.0]}})
    with pytest.raises(ValueError, match="differ in length"):
        db.write_batch(run, {"equity": {"ts_ns": [1, 2], "equity": [2.0]}})
    assert len(db.equity(run)) == 0
