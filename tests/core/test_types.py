"""Enum helpers of ``core.types``."""

from __future__ import annotations

from ost_lab.core.types import OrderStatus, OrderType, members_of


def test_members_of_gives_the_same_member_objects() -> None:
    ot = members_of(OrderType)
    assert ot.MARKET is OrderType.MARKET and ot.STOP_LIMIT is OrderType.STOP_LIMIT
    st = members_of(OrderStatus)
    names = {k for k in vars(st) if not k.startswith("__")}
    assert names == set(OrderStatus.__members__)
    assert all(getattr(st, k) is OrderStatus[k] for k in names)
