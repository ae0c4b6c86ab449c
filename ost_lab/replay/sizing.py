"""Orders sized at fill time as a fraction of available funds (backtesting.py's ``size<1``).

A strategy deciding at bar t's close does not know bar t+1's open; a fraction order is sized
when it fills, from the cash and position at that moment (earlier fills of the same bar
included). Available funds = equity - gross position value at the fill price (= cash when flat
or long). Quantity = floor(fraction x available / (price x mult x (1 + bps/1e4) + per_unit)),
rounded down to whole lots. One definition for both venues.
"""

from __future__ import annotations

__all__ = ["fraction_qty"]


def fraction_qty(
    fraction: float,
    cash: float,
    pos: float,
    price: float,
    mult: float,
    lot: float,
    per_unit: float,
    bps: float,
) -> float:
    """Whole-lot quantity a ``fraction`` of available funds buys at ``price`` (0 if none)."""
    value = pos * price * mult
    avail = cash + value - abs(value)
    if avail <= 0.0 or price <= 0.0:
        return 0.0
    unit = price * mult + price * mult * bps * 1e-4 + per_unit
    units = (avail * fraction) // unit
    return ((units / lot + 1e-9) // 1.0) * lot  # float floor: no int64 overflow when jitted
