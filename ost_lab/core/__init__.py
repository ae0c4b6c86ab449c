"""The domain model and the one execution flow: events, orders, strategy, risk, portfolio, engine.

``core`` imports no connector, widget or Jupyter code; everything else depends on it.
"""

from ost_lab.core.broker import Broker, DataFeed, ListFeed
from ost_lab.core.engine import Engine, RunControl, RunResult
from ost_lab.core.events import Bar, FillEvent, OrderEvent, Tick
from ost_lab.core.orders import IllegalTransition, Order, OverfillError
from ost_lab.core.portfolio import FILLS_COLUMNS, Account, Book, Portfolio, Position
from ost_lab.core.risk import (
    RiskEngine,
    RiskLimits,
    RiskRejection,
    StaleFeedWatchdog,
    daily_close,
    session_hours,
)
from ost_lab.core.sim_broker import Commission, SimulatedBroker
from ost_lab.core.strategy import History, Param, Strategy
from ost_lab.core.types import (
    AccountType,
    Instrument,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TrailingOffsetType,
)

__all__ = [
    "FILLS_COLUMNS",
    "Account",
    "AccountType",
    "Bar",
    "Book",
    "Broker",
    "Commission",
    "DataFeed",
    "Engine",
    "FillEvent",
    "History",
    "IllegalTransition",
    "Instrument",
    "ListFeed",
    "Order",
    "OrderEvent",
    "OrderStatus",
    "OrderType",
    "OverfillError",
    "Param",
    "Portfolio",
    "Position",
    "RiskEngine",
    "RiskLimits",
    "RiskRejection",
    "RunControl",
    "RunResult",
    "Side",
    "SimulatedBroker",
    "StaleFeedWatchdog",
    "Strategy",
    "Tick",
    "TimeInForce",
    "TrailingOffsetType",
    "daily_close",
    "session_hours",
]
