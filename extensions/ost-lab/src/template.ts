/** The notebook that "New ost_lab strategy notebook" creates: a picker, a strategy skeleton, a backtest cell. */
export const STRATEGY_NOTEBOOK = {
  "cells": [
    {
      "cell_type": "markdown",
      "metadata": {},
      "source": "# New ost_lab strategy\n\nPick an instrument and parameters, edit the strategy, run the backtest. The run is recorded in the runs\ndatabase and appears in the **ost_lab runs** sidebar (detail, equity, compare)."
    },
    {
      "cell_type": "code",
      "metadata": {},
      "source": "import ipywidgets as widgets\nfrom IPython.display import display\n\n# Picker: the backtest cell below reads these values.\nsymbol = widgets.Dropdown(options=[\"DEMO\", \"XYZ\", \"ABC\"], value=\"DEMO\", description=\"Instrument\")\nevery = widgets.IntSlider(value=10, min=1, max=100, description=\"Trade every\")\nn_bars = widgets.IntSlider(value=2000, min=100, max=20000, step=100, description=\"Bars\")\ndisplay(widgets.VBox([symbol, every, n_bars]))",
      "execution_count": null,
      "outputs": []
    },
    {
      "cell_type": "code",
      "metadata": {},
      "source": "from ost_lab.core import Bar, Engine, Param, Strategy\n\n\nclass MyStrategy(Strategy):\n    \"\"\"Skeleton: buys when flat, sells when long, every ``every`` bars. Replace on_bar with your logic.\"\"\"\n\n    every = Param(10, min=1)\n    size = Param(1.0, min=1)\n\n    def on_start(self) -> None:\n        self.n = 0\n\n    def on_bar(self, bar: Bar) -> None:\n        self.n += 1\n        if self.n % self.every:\n            return\n        if self.position == 0:\n            self.buy(self.size, bar.symbol)\n        else:\n            self.sell(self.position, bar.symbol)",
      "execution_count": null,
      "outputs": []
    },
    {
      "cell_type": "code",
      "metadata": {},
      "source": "import numpy as np\n\nfrom ost_lab.dashboard.recorder import record\n\nT0, MIN = 1_700_000_000_000_000_000, 60_000_000_000\n\n\ndef synthetic_bars(n, symbol, seed=1):\n    \"\"\"A random walk of one-minute bars (replace with your secmaster data).\"\"\"\n    rng = np.random.default_rng(seed)\n    price = 100.0\n    for i in range(n):\n        o = price\n        c = max(1.0, o * (1 + rng.normal(0, 0.002)))\n        yield Bar(symbol, T0 + (i + 1) * MIN, o, max(o, c) * 1.001, min(o, c) * 0.999, c, 1000.0,\n                  ts_open=T0 + i * MIN)\n        price = c\n\n\nengine = Engine(MyStrategy(every=every.value), list(synthetic_bars(n_bars.value, symbol.value)),\n                initial_cash=10_000.0)\nrun_id, result = record(engine, name=f\"MyStrategy {symbol.value}\", mode=\"backtest\")\nprint(\"recorded run\", run_id, \"final equity\", round(float(result.equity.iloc[-1]), 2))",
      "execution_count": null,
      "outputs": []
    }
  ],
  "metadata": {
    "kernelspec": {
      "display_name": "Python 3 (ipykernel)",
      "language": "python",
      "name": "python3"
    },
    "language_info": {
      "name": "python"
    }
  },
  "nbformat": 4,
  "nbformat_minor": 5
};
