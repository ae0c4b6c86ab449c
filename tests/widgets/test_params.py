"""Declared strategy parameters become inputs and come back validated."""

from __future__ import annotations

import ipywidgets as W
import pytest

from ost_lab.widgets.params import ParamsForm
from tests.widgets.strategies import Flip


def test_inputs_from_specs() -> None:
    f = ParamsForm(Flip)
    i = f.inputs
    assert isinstance(i["period"], W.IntSlider) and (i["period"].min, i["period"].max) == (1, 100)
    assert isinstance(i["size"], W.FloatSlider) and i["size"].step == 1.0
    assert isinstance(i["side"], W.Dropdown) and list(i["side"].options) == ["long", "short"]
    assert isinstance(i["enabled"], W.Checkbox)
    assert i["period"].tooltip == "bars per phase"
    assert f.values() == {"period": 10, "size": 10.0, "side": "long", "enabled": True}


def test_values_build_strategy() -> None:
    f = ParamsForm(Flip)
    f.inputs["period"].value = 7
    f.inputs["side"].value = "short"
    s = f.build()
    assert isinstance(s, Flip) and s.period == 7 and s.side == "short"
    f.set(size=25)
    assert f.values()["size"] == 25.0
    with pytest.raises(ValueError):
        f.set(period=1000)
    with pytest.raises(TypeError):
        f.set(nope=1)
