"""The kernel replay loop's machinery: kernels that allocate (numba's runtime), growing tables."""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
import pytest
from replay_helpers import bars

from ost_lab.replay import Backtest, backtest, order
from ost_lab.replay._numba import here, jit, nonneg
from ost_lab.replay.kernel import runner_for


@jit
def _alloc_kernel(i, o, h, lo, c, v, acct, state, params, out):  # type: ignore[no-untyped-def]
    """Buys one unit on even bars, sells it on odd ones, via a freshly allocated array."""
    side = np.zeros(1)
    side[0] = 1.0 if i % 2 == 0 else -1.0
    return order(out, 0, side[0], 1.0)


@jit
def _ones(n):  # type: ignore[no-untyped-def]
    return np.ones(n)


@jit
def _helper_kernel(i, o, h, lo, c, v, acct, state, params, out):  # type: ignore[no-untyped-def]
    """As ``_alloc_kernel``, through another jitted function that allocates."""
    return order(out, 0, _ones(1)[0] if i % 2 == 0 else -1.0, 1.0)


@jit
def _busy_kernel(i, o, h, lo, c, v, acct, state, params, out):  # type: ignore[no-untyped-def]
    """Three market orders every bar (two buys, one sell of two): many orders and fills."""
    n = order(out, 0, 1.0, 1.0)
    n = order(out, n, 1.0, 1.0)
    return order(out, n, -1.0, 2.0)


def _walk(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    c = 100 + np.cumsum(rng.normal(0, 0.3, n))
    o = np.concatenate([[100.0], c[:-1]])
    rows = [(a, max(a, b) + 0.1, min(a, b) - 0.1, b, 1e3) for a, b in zip(o, c, strict=True)]
    return bars(rows)


def _same(k: pd.DataFrame, e: pd.DataFrame) -> None:
    cols = ["ts", "qty", "price", "commission"]
    pd.testing.assert_frame_equal(k[cols], e[cols], check_exact=True)


def test_allocating_kernel_runs_with_numbas_runtime() -> None:
    df = _walk(50)
    k = Backtest(df, _alloc_kernel, commission=0.001).run()
    e = Backtest(df, _alloc_kernel, commission=0.001, engine="event").run()
    assert len(k.fills) == 49  # every bar's order fills at the next open
    assert runner_for(_alloc_kernel).fn.py_func.__name__ == "run_chunk_nrt"  # type: ignore[attr-defined]
    assert runner_for(_busy_kernel).fn.py_func.__name__ == "run_chunk"  # type: ignore[attr-defined]
    _same(k.fills, e.fills)
    pd.testing.assert_series_equal(k.equity, e.equity, check_exact=True)


def test_tables_grow_past_their_first_capacity() -> None:
    df = _walk(3000)  # 9,000 orders and fills: more than the first capacity (4,096 + n / 8)
    k = Backtest(df, _busy_kernel, slippage=2.0).run(chunk_bars=700)
    assert len(k.orders) == 3 * 3000 and (k.orders["status"].iloc[:-3] == "FILLED").all()
    assert len(k.fills) == 3 * 2999
    e = Backtest(df, _busy_kernel, slippage=2.0, engine="event").run()
    _same(k.fills, e.fills)
    pd.testing.assert_series_equal(k.equity, e.equity, check_exact=True)


def test_kernel_calling_other_jitted_functions() -> None:
    df = _walk(50)
    k = Backtest(df, _helper_kernel).run()
    e = Backtest(df, _helper_kernel, engine="event").run()
    assert len(k.fills) == 49
    _same(k.fills, e.fills)
    assert runner_for(_helper_kernel).fn.py_func.__name__ == "run_chunk_nrt"  # type: ignore[attr-defined]
    assert _ones(2).tolist() == [1.0, 1.0]  # the helper still works on its own


@jit
def _counting_kernel(i, o, h, lo, c, v, acct, state, params, out):  # type: ignore[no-untyped-def]
    """Counts bars in ``state[0]`` and buys ``params[0]`` units every tenth bar."""
    state[0] += 1.0
    if i % 10 == 0:
        return order(out, 0, 1.0, params[0])
    return 0


def test_state_never_shares_memory_with_params() -> None:
    """The loop is compiled on the promise that the arrays it writes overlap no other
    argument (LLVM ``noalias``): a state callable that returns ``params`` itself gets a copy."""
    params = np.array([3.0])
    res = Backtest(_walk(100), _counting_kernel, state=lambda p: p).run(params=params)
    assert params.tolist() == [3.0]
    assert res.orders["qty"].tolist() == [3.0] * 10
    assert runner_for(_counting_kernel).fn.targetoptions.get("_ost_noalias") is True  # type: ignore[attr-defined]


def test_chunk_starting_before_bar_zero_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop reads its arrays on the promise that bar indices are >= 0 (no negative-index
    wraparound): a chunk starting before bar 0 is refused, not read out of bounds."""
    real = backtest.runner_for(_counting_kernel)
    monkeypatch.setattr(backtest, "runner_for", lambda k: lambda i0, *a: real(i0 - 1, *a))
    with pytest.raises(ValueError, match="before bar 0"):
        Backtest(_walk(20), _counting_kernel).run(params=[1.0])


@jit
def _read_at(a, i):  # type: ignore[no-untyped-def]
    return a[nonneg(i)]


def test_nonneg_passes_its_index_through() -> None:
    a = np.arange(5.0)
    assert [_read_at(a, i) for i in range(5)] == a.tolist()
    with pytest.raises(numba.core.errors.TypingError):
        _read_at(a, 1.5)  # integers only


@jit
def _through_here(x):  # type: ignore[no-untyped-def]
    return here(x)


def test_here_passes_its_value_through_bit_for_bit() -> None:
    for x in (0.0, -0.0, 1.0, -2.5e-300, 1e308, np.inf, -np.inf):
        assert np.float64(_through_here(x)).tobytes() == np.float64(x).tobytes()
    assert np.isnan(_through_here(np.nan))
