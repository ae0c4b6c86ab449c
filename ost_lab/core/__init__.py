"""The domain model and the one execution flow: events, orders, strategy, risk, portfolio, engine.

``core`` imports no connector, widget or Jupyter code; everything else depends on it.
"""
