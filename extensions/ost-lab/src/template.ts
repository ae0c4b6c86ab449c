/** The notebook that "New ost_lab strategy notebook" creates: secmaster picker, strategy skeleton, backtest panel. */
export const STRATEGY_NOTEBOOK = {
  "cells": [
    {
      "cell_type": "markdown",
      "metadata": {},
      "source": "# New ost_lab strategy\n\nPick an instrument from the securities master, edit the strategy, run the backtest. Each run is\nrecorded in the runs database and shows up in the ost_lab sidebar."
    },
    {
      "cell_type": "code",
      "metadata": {},
      "source": "import ost_lab.paths\nfrom ost_lab.secmaster import Secmaster, ensure_demo_secmaster\nfrom ost_lab.widgets import BacktestPanel, InstrumentPicker, enable_notebook\n\nenable_notebook()  # BokehJS from the package, no CDN\npath = ost_lab.paths.secmaster_path()  # $OST_LAB_SECMASTER or the default data folder\nensure_demo_secmaster(path)  # builds the demo data the first time only (about 10 s)\nsm = Secmaster(path)\npicker = InstrumentPicker(sm)\nif picker.results:  # start with the first instrument on 15-minute bars; pick another above\n    picker.select(picker.results[0][\"symbol\"])\n    if \"15m\" in picker.timeframe.options:\n        picker.timeframe.value = \"15m\"\npicker",
      "execution_count": null,
      "outputs": []
    },
    {
      "cell_type": "code",
      "metadata": {},
      "source": "from ost_lab.core import Bar, Param, Strategy\n\n\nclass MyStrategy(Strategy):\n    \"\"\"Skeleton: buys when flat, sells when long, every ``every`` bars. Replace on_bar with your logic.\"\"\"\n\n    every = Param(10, min=1, doc=\"bars between trades\")\n    size = Param(10.0, min=1, doc=\"quantity per trade\")\n\n    def on_start(self) -> None:\n        self.n = 0\n\n    def on_bar(self, bar: Bar) -> None:\n        self.n += 1\n        if self.n % self.every:\n            return\n        if self.position == 0:\n            self.buy(self.size, bar.symbol)\n        else:\n            self.sell(self.position, bar.symbol)",
      "execution_count": null,
      "outputs": []
    },
    {
      "cell_type": "code",
      "metadata": {},
      "source": "panel = BacktestPanel(MyStrategy, picker=picker, cash=100_000, name=\"MyStrategy\")\npanel",
      "execution_count": null,
      "outputs": []
    },
    {
      "cell_type": "code",
      "metadata": {},
      "source": "# Click Run above, or run it from code:\nresult = panel.run(wait=True)\nprint(\"recorded run\", panel.run_id, \"final equity\", round(float(result.equity.iloc[-1]), 2))",
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
