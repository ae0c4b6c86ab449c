"""Slippage models, applied adversely to market-like fills (market, stop, MIT, trailing stop).

Limit-priced fills (limit, stop-limit, LIT) are never slipped: they fill at the limit or better.
One scalar function, :func:`slipped_price`, is the definition for both venues.

* ``"bps"``: price x (1 + side x p / 1e4) — fixed basis points.
* ``"half_spread"``: price + side x p / 2 — p is the quoted spread in price units.
* ``"sqrt_impact"``: price x (1 + side x p / 1e4 x sqrt(qty / bar volume)) — square-root market
  impact; p is the impact in bps of trading a whole bar's volume (no impact when volume is 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["NONE", "SLIPPED_TYPES", "SlippageModel", "slipped_price"]

NONE, BPS, HALF_SPREAD, SQRT_IMPACT = 0, 1, 2, 3
_KINDS = {"none": NONE, "bps": BPS, "half_spread": HALF_SPREAD, "sqrt_impact": SQRT_IMPACT}
#: OrderType values whose fills are slipped (MARKET, STOP, MARKET_IF_TOUCHED, TRAILING_STOP).
SLIPPED_TYPES = (0, 2, 4, 6)


def slipped_price(side: int, price: float, qty: float, volume: float, kind: int, p: float) -> float:
    """The fill price after slippage (``side`` +1 buy / -1 sell)."""
    if kind == BPS:
        return price * (1.0 + side * p * 1e-4)
    if kind == HALF_SPREAD:
        return price + side * p * 0.5
    if kind == SQRT_IMPACT:
        if volume <= 0.0:
            return price
        return price * (1.0 + side * p * 1e-4 * math.sqrt(qty / volume))
    return price


@dataclass(frozen=True, slots=True)
class SlippageModel:
    """A slippage model by name and parameter (see the module docstring)."""

    kind: Literal["none", "bps", "half_spread", "sqrt_impact"] = "none"
    param: float = 0.0
    #: The int code the numba venue switches on (and the event-loop venue passes on).
    code: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown slippage model {self.kind!r}")
        object.__setattr__(self, "code", _KINDS[self.kind])

    @classmethod
    def coerce(cls, spec: float | SlippageModel | tuple[str, float] | None) -> SlippageModel:
        """A float is fixed bps; a tuple is (kind, param)."""
        if spec is None:
            return cls()
        if isinstance(spec, SlippageModel):
            return spec
        if isinstance(spec, tuple):
            kind, param = spec
            return cls(kind, float(param))  # type: ignore[arg-type]  # unknown kinds: refused
        return cls("bps", float(spec)) if spec else cls()

    def __call__(self, side: int, price: float, qty: float, volume: float) -> float:
        return slipped_price(side, price, qty, volume, self.code, self.param)
