"""ost_lab: a Jupyter-native trading lab.

One strategy object runs in a historical replay, in sandbox (live data, simulated fills) and live;
only the data feed and the broker differ. The names below load on first use, so ``import ost_lab``
stays light for the command line and the Jupyter server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ost_lab._version import __version__

_LAZY = {
    # core: the strategy API and the one engine
    "Strategy": "ost_lab.core",
    "Param": "ost_lab.core",
    "Engine": "ost_lab.core",
    "RunControl": "ost_lab.core",
    "Bar": "ost_lab.core",
    "Tick": "ost_lab.core",
    "Instrument": "ost_lab.core",
    "Side": "ost_lab.core",
    "OrderType": "ost_lab.core",
    "TimeInForce": "ost_lab.core",
    "RiskLimits": "ost_lab.core",
    "SimulatedBroker": "ost_lab.core",
    "Commission": "ost_lab.core",
    # replays
    "Backtest": "ost_lab.replay",
    "BacktestResult": "ost_lab.replay",
    # data and runs
    "Secmaster": "ost_lab.secmaster",
    "RunsDB": "ost_lab.dashboard.runs_db",
    "record_backtest": "ost_lab.dashboard.recorder",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:
    from ost_lab.core import Bar as Bar
    from ost_lab.core import Commission as Commission
    from ost_lab.core import Engine as Engine
    from ost_lab.core import Instrument as Instrument
    from ost_lab.core import OrderType as OrderType
    from ost_lab.core import Param as Param
    from ost_lab.core import RiskLimits as RiskLimits
    from ost_lab.core import RunControl as RunControl
    from ost_lab.core import Side as Side
    from ost_lab.core import SimulatedBroker as SimulatedBroker
    from ost_lab.core import Strategy as Strategy
    from ost_lab.core import Tick as Tick
    from ost_lab.core import TimeInForce as TimeInForce
    from ost_lab.dashboard.recorder import record_backtest as record_backtest
    from ost_lab.dashboard.runs_db import RunsDB as RunsDB
    from ost_lab.replay import Backtest as Backtest
    from ost_lab.replay import BacktestResult as BacktestResult
    from ost_lab.secmaster import Secmaster as Secmaster


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ost_lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt front-end extension."""
    return [{"src": "labextension", "dest": "ost-lab"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The server extension (control API) lives in ost_lab.dashboard."""
    return [{"module": "ost_lab.dashboard"}]
