"""Notebook widgets (ipywidgets) and Bokeh charts.

``InstrumentPicker`` (secmaster search -> selection), ``BacktestPanel`` (parameters, run,
cancel, result tabs), ``BacktestChart`` / ``plot_result`` (decimating Bokeh chart),
``enable_notebook()`` (load BokehJS inline once per notebook).
"""

from __future__ import annotations

from ost_lab.widgets.chart import BacktestChart, chart_widget, plot_result
from ost_lab.widgets.decimate import decimate_line, decimate_ohlcv
from ost_lab.widgets.panel import BacktestPanel
from ost_lab.widgets.params import ParamsForm, param_widget
from ost_lab.widgets.picker import InstrumentPicker, Selection
from ost_lab.widgets.threading import Latest, Marshal

__all__ = [
    "BacktestChart",
    "BacktestPanel",
    "InstrumentPicker",
    "Latest",
    "Marshal",
    "ParamsForm",
    "Selection",
    "chart_widget",
    "decimate_line",
    "decimate_ohlcv",
    "enable_notebook",
    "param_widget",
    "plot_result",
]


def enable_notebook() -> None:
    """Load BokehJS from the package (inline: no CDN) so charts and ``BokehModel`` render."""
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(INLINE, hide_banner=True)
