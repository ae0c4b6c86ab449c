"""Commission models: per share / per contract with a minimum, and bps of notional.

One scalar function, :func:`fee`, is the definition; the numba venue jits it and the event-loop
venue calls it through :class:`CommissionModel` (a ``core`` ``Commission``), so both charge the
same amount for the same fill.
"""

from __future__ import annotations

from dataclasses import dataclass

from ost_lab.core.sim_broker import Commission

__all__ = ["CommissionModel", "fee"]


def fee(
    qty: float, price: float, mult: float, per_unit: float, bps: float, minimum: float
) -> float:
    """Commission of one fill: ``max(minimum, per_unit * qty + bps/1e4 * qty * price * mult)``
    (zero when everything is zero). ``qty`` is unsigned."""
    f = per_unit * qty + bps * 1e-4 * qty * price * mult
    if f > 0.0 or minimum > 0.0:
        return f if f > minimum else minimum
    return 0.0


@dataclass(frozen=True, slots=True)
class CommissionModel(Commission):
    """``per_unit`` per share (stocks) or per contract (futures, the multiplier does not
    apply), ``bps`` of notional, ``minimum`` per fill. ``rate=0.002`` is 20 bps."""

    def __call__(self, qty: float, price: float, multiplier: float = 1.0) -> float:
        return fee(qty, price, multiplier, self.per_unit, self.bps, self.minimum)

    @classmethod
    def coerce(cls, spec: float | Commission | None) -> CommissionModel:
        """A float is a rate of notional (backtesting.py style: 0.002 = 0.2 %)."""
        if spec is None:
            return cls()
        if isinstance(spec, Commission):
            return cls(spec.per_unit, spec.bps, spec.minimum)
        return cls(bps=float(spec) * 1e4)

    def as_tuple(self) -> tuple[float, float, float]:
        """(per_unit, bps, minimum) for the numba venue."""
        return (self.per_unit, self.bps, self.minimum)
