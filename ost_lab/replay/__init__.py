"""Historical replays in the kernel: numba kernels for the simulated venue and kernel strategies.

``from ost_lab.replay import Backtest, BacktestResult`` is the public surface; see
docs/replay.md.
"""

from ost_lab.replay.backtest import Backtest
from ost_lab.replay.broker import VenueBroker, submit_fraction
from ost_lab.replay.commission import CommissionModel
from ost_lab.replay.kernel import KernelStrategy, order
from ost_lab.replay.result import BacktestResult
from ost_lab.replay.slippage import SlippageModel

__all__ = [
    "Backtest",
    "BacktestResult",
    "CommissionModel",
    "KernelStrategy",
    "SlippageModel",
    "VenueBroker",
    "order",
    "submit_fraction",
]
