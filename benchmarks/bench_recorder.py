"""What recording a run into the runs database costs: the same backtest with and without it."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from benchmarks.table import Row
from ost_lab.core import Bar, Engine, Param, Strategy
from ost_lab.dashboard.recorder import record

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


def _interleaved(
    repeats: int, a: Callable[[], object], b: Callable[[], object]
) -> tuple[float, float]:
    """Best time of each, run alternately so warm-up and machine load hit both alike."""
    best_a = best_b = float("inf")
    for _ in range(repeats):
        for fn, is_a in ((a, True), (b, False)):
            t = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - t
            if is_a:
                best_a = min(best_a, elapsed)
            else:
                best_b = min(best_b, elapsed)
    return best_a, best_b


def run(quick: bool) -> list[Row]:
    n = 20_000 if quick else 200_000
    bars = list(_bars(n))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "runs.sqlite"
        plain, recorded = _interleaved(
            5,
            lambda: Engine(Flipper(), bars, initial_cash=1e6).run(),
            lambda: record(Engine(Flipper(), bars, initial_cash=1e6), name="bench", db=db),
        )
    return [
        Row(
            benchmark="runs db",
            measure=f"backtest {n:,} bars, recorded",
            value=n / recorded,
            unit="bars/s",
            baseline="same backtest, not recorded",
            baseline_value=n / plain,
            target=0.9,  # recording may cost at most 10 %
        )
    ]
