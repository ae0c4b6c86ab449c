"""Strategy parameters -> ipywidgets: one input per declared ``Param`` (from ``Param.spec()``),
read back as validated keyword arguments for ``Backtest.run``."""

from __future__ import annotations

from typing import Any

import ipywidgets as W

__all__ = ["ParamsForm", "param_widget"]

_STYLE = {"description_width": "110px"}


def param_widget(spec: dict[str, Any]) -> W.ValueWidget:
    """The input for one parameter spec: dropdown for choices, checkbox for bools, bounded
    int/float fields (slider when both bounds are set), text otherwise."""
    name, kind, default = spec["name"], spec["type"], spec["default"]
    common: dict[str, Any] = {"description": name, "style": _STYLE, "tooltip": spec["doc"]}
    lo, hi, step = spec["min"], spec["max"], spec["step"]
    w: W.ValueWidget
    if spec["choices"] is not None:
        w = W.Dropdown(options=list(spec["choices"]), value=default, **common)
    elif kind == "bool":
        w = W.Checkbox(value=bool(default), indent=False, **common)
    elif kind == "int":
        lo_i = int(lo) if lo is not None else -(2**31)
        hi_i = int(hi) if hi is not None else 2**31 - 1
        cls = W.IntSlider if lo is not None and hi is not None else W.BoundedIntText
        w = cls(value=int(default), min=lo_i, max=hi_i, step=int(step or 1), **common)
    elif kind == "float":
        lo_f = float(lo) if lo is not None else -1e300
        hi_f = float(hi) if hi is not None else 1e300
        kw: dict[str, Any] = {"step": float(step)} if step else {"step": None}
        if lo is not None and hi is not None:
            w = W.FloatSlider(value=float(default), min=lo_f, max=hi_f,
                              **({"step": float(step)} if step else {}), **common)  # fmt: skip
        else:
            w = W.BoundedFloatText(value=float(default), min=lo_f, max=hi_f, **kw, **common)
    else:
        w = W.Text(value=str(default), **common)
    return w


class ParamsForm:
    """Inputs for a ``Strategy`` class's declared parameters; ``values()`` validates them."""

    def __init__(self, strategy: type) -> None:
        self.strategy = strategy
        self.params = strategy.params()  # type: ignore[attr-defined]
        self.inputs: dict[str, W.ValueWidget] = {
            k: param_widget(p.spec()) for k, p in self.params.items()
        }
        self.widget = W.VBox(list(self.inputs.values()))

    def values(self) -> dict[str, Any]:
        """Current inputs as ``{name: value}``, each checked by its ``Param.validate``."""
        return {k: self.params[k].validate(w.value) for k, w in self.inputs.items()}

    def set(self, **values: Any) -> None:
        """Set inputs programmatically (validated first)."""
        for k, v in values.items():
            if k not in self.inputs:
                raise TypeError(f"{self.strategy.__name__} has no parameter {k!r}")
            self.inputs[k].value = self.params[k].validate(v)

    def build(self) -> Any:
        """A strategy instance with the current values."""
        return self.strategy(**self.values())
