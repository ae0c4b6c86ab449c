"""What recording a run into the runs database costs: the same backtest with and without it."""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from benchmarks.table import Row
from ost_lab.core import Bar, Engine, Param, Strategy
from ost_lab.dashboard.recorder import EngineRecorder

T0 = 1_700_000_000_000_000_000
MIN = 60_000_000_000


class Flipper(Strategy):
    """Round trips every ``every`` bars: orders, fills and equity to record."""

    every = Param(20, min=1)

    def on_start(self) -> None:
        self.n = 0

    def on_bar(self, bar: Bar) -> None:
        self.n += 1
        if self.n % self.every == 0:
            if self.position == 0:
                self.buy(10, bar.symbol)
            else:
                self.sell(self.position, bar.symbol)


def _bars(n: int) -> Iterator[Bar]:
    rng = np.random.default_rng(3)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    opens = np.concatenate([[100.0], closes[:-1]])
    for i in range(n):
        o, c = float(opens[i]), float(closes[i])
        yield Bar("XYZ", T0 + (i + 1) * MIN, o, max(o, c), min(o, c), c, 1e4, ts_open=T0 + i * MIN)


def _timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn`` takes, started on a collected heap: the garbage of the run before (an
    engine and its strategies form reference cycles) is not collected on this run's time."""
    gc.collect()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _recorded(bars: list[Bar], db: Path) -> tuple[float, float]:
    """Seconds until ``record``-ing the backtest returns, and until its writer thread has also
    checkpointed the WAL (which it does after the run is closed); the next run waits for it."""
    gc.collect()
    t = time.perf_counter()
    with EngineRecorder(Engine(Flipper(), bars, initial_cash=1e6), name="bench", db=db) as rec:
        rec.run()
    returned = time.perf_counter() - t
    rec.join()
    return returned, time.perf_counter() - t


def _measure(n: int, repeats: int) -> tuple[float, float, float]:
    """Best times of the plain and the recorded backtest (and of the recorded one until its
    checkpoint is done), run alternately so warm-up and machine load hit both alike."""
    bars = list(_bars(n))
    plain = returned = closed = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "runs.sqlite"
        for _ in range(repeats):
            plain = min(plain, _timed(lambda: Engine(Flipper(), bars, initial_cash=1e6).run()))
            r, c = _recorded(bars, db)
            returned, closed = min(returned, r), min(closed, c)
    return plain, returned, closed


def run(quick: bool) -> list[Row]:
    sizes = [(20_000, 3)] if quick else [(200_000, 5), (1_000_000, 3)]
    rows = []
    for n, repeats in sizes:
        plain, recorded, closed = _measure(n, repeats)
        for measure, seconds, target in (
            (f"backtest {n:,} bars, recorded (best of {repeats})", recorded, 0.9),
            (f"backtest {n:,} bars, recorded, until the WAL checkpoint is done", closed, None),
        ):
            rows.append(
                Row(
                    benchmark="runs db",
                    measure=measure,
                    value=n / seconds,
                    unit="bars/s",
                    baseline="same backtest, not recorded",
                    baseline_value=n / plain,
                    target=target,  # recording may cost at most 10 %
                )
            )
    return rows
