"""BacktestPanel: parameter inputs, Run/Cancel, a progress bar, and result tabs (metrics,
chart, trades, orders), with each run recorded in the runs database and linked.

``run()`` returns at once: the replay runs in a background thread and its progress and
completion are marshalled onto the kernel's loop (:mod:`.threading`), so the page stays
responsive and Cancel (a ``RunControl``) works while it runs. ``run(wait=True)`` runs in the
calling cell instead (for scripts and CI notebooks); progress still renders live, and a
dashboard stop still applies through the recorder.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as W
import pandas as pd

from ost_lab.core.engine import RunControl
from ost_lab.widgets.chart import BacktestChart, chart_widget
from ost_lab.widgets.params import ParamsForm
from ost_lab.widgets.threading import Latest, Marshal

__all__ = ["BacktestPanel", "Recorder", "default_recorder"]

#: ``record_backtest(backtest, name=, db=, control=, progress=, **params) -> (run_id, result)``
Recorder = Callable[..., tuple[str, Any]]
#: ``indicators(bars, params) -> {name: values aligned with bars}``: chart overlays per run.
Indicators = Callable[[Any, dict[str, Any]], Mapping[str, Any]]
TABS = ("Metrics", "Chart", "Trades", "Orders")


def default_recorder() -> Recorder | None:
    """``ost_lab.dashboard.recorder.record_backtest`` if available."""
    try:
        from ost_lab.dashboard import recorder
    except ImportError:
        return None
    fn = getattr(recorder, "record_backtest", None)
    return fn if callable(fn) else None


def _table(df: pd.DataFrame | pd.Series, max_rows: int = 200) -> str:
    if isinstance(df, pd.Series):
        df = df.to_frame("value")
    if len(df) > max_rows:
        note = f"<p><small>first {max_rows} of {len(df):,} rows</small></p>"
        df = df.head(max_rows)
    else:
        note = ""
    return note + df.to_html(border=0, classes="ost-table", float_format=lambda v: f"{v:,.4g}")


class BacktestPanel:
    """A strategy's backtest UI. ``strategy``: a ``Strategy`` subclass. ``data``: bars (anything
    ``Backtest`` takes) or None to take them from ``picker`` (an ``InstrumentPicker``) at each
    run. ``record``: record runs (``recorder`` defaults to the dashboard's ``record_backtest``;
    without one the run is not recorded). ``backtest``: more ``Backtest`` keyword arguments.
    ``indicators(bars, params)``: overlays for the chart (first symbol's bars, run parameters).
    """

    def __init__(
        self,
        strategy: type,
        data: Any = None,
        *,
        picker: Any = None,
        cash: float = 100_000.0,
        commission: Any = None,
        record: bool = True,
        recorder: Recorder | None = None,
        runs_db: Any = None,
        name: str | None = None,
        backtest: dict[str, Any] | None = None,
        indicators: Indicators | None = None,
        marshal: Marshal | None = None,
    ) -> None:
        self.strategy = strategy
        self.data = data
        self.picker = picker
        self.cash = cash
        self.commission = commission
        self.recorder = (recorder or default_recorder()) if record else None
        self.runs_db = runs_db
        self.name = name or strategy.__name__
        self.backtest_kwargs = dict(backtest or {})
        self.indicators = indicators
        self.marshal = marshal or Marshal()
        self.form = ParamsForm(strategy)
        self.result: Any = None
        self.run_id: str | None = None
        self.error: BaseException | None = None
        self.chart: BacktestChart | None = None
        self.control: RunControl | None = None
        self.status_text = "idle"
        self._thread: threading.Thread | None = None
        self._token = 0
        self._outcome: tuple[int, str | None, Any, BaseException | None] | None = None
        self._progress = Latest(self.marshal, self._apply_progress)

        self.run_button = W.Button(description="Run", button_style="primary", icon="play")
        self.cancel_button = W.Button(description="Cancel", icon="stop", disabled=True)
        self.progress = W.FloatProgress(value=0.0, min=0.0, max=1.0, description="Progress")
        self.status = W.HTML("idle")
        self.link = W.HTML()
        self.tabs = W.Tab(
            children=[W.HTML(), W.VBox(layout=W.Layout(width="100%")), W.HTML(), W.HTML()]
        )
        for i, t in enumerate(TABS):
            self.tabs.set_title(i, t)
        self.run_button.on_click(lambda _b: self.run())
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.widget = W.VBox([
            self.form.widget,
            W.HBox([self.run_button, self.cancel_button, self.progress, self.status]),
            self.link, self.tabs,
        ])  # fmt: skip

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # ---------------------------------------------------------------- running
    @property
    def running(self) -> bool:
        """True while a background run is in progress."""
        return self._thread is not None and self._thread.is_alive()

    def _bars(self) -> Any:
        if self.data is not None:
            return self.data() if callable(self.data) else self.data
        if self.picker is None:
            raise ValueError("BacktestPanel needs data or a picker")
        return self.picker.bars()

    def make_backtest(self) -> Any:
        """The ``Backtest`` of the current data."""
        from ost_lab.replay import Backtest

        return Backtest(self._bars(), self.strategy, cash=self.cash,
                        commission=self.commission, **self.backtest_kwargs)  # fmt: skip

    def run(self, *, wait: bool = False, **params: Any) -> Any:
        """Start a run with the inputs' parameters (``params`` override and update them).

        Returns immediately (background thread) unless ``wait``: then runs here and returns
        the result. Raises if a run is already in progress.
        """
        if self.running:
            raise RuntimeError("a run is already in progress")
        if params:
            self.form.set(**params)
        values = self.form.values()
        bt = self.make_backtest()
        self._token += 1
        token = self._token
        self.control = RunControl()
        self.result, self.run_id, self.error, self._outcome = None, None, None, None
        self.progress.value = 0.0
        self.progress.bar_style = ""
        self._set_status("running")
        self.run_button.disabled = True
        self.cancel_button.disabled = False
        if wait:
            self._work(token, bt, self.control, values)
            self._finish(token)
            if self.error is not None:
                raise self.error
            return self.result
        self._thread = threading.Thread(
            target=self._work, args=(token, bt, self.control, values), daemon=True,
            name=f"ost-lab-backtest-{token}",
        )  # fmt: skip
        self._thread.start()
        return None

    def _work(self, token: int, bt: Any, control: RunControl, values: dict[str, Any]) -> None:
        """The replay (any thread): touches no widget, reports through the marshal."""

        def progress(done: int, total: int) -> None:
            self._progress.put((token, done / total if total else 1.0))

        run_id: str | None = None
        result: Any = None
        error: BaseException | None = None
        try:
            if self.recorder is not None:
                run_id, result = self.recorder(
                    bt, name=self.name, db=self.runs_db, control=control, progress=progress,
                    **values,
                )  # fmt: skip
            else:
                result = bt.run(control=control, progress=progress, **values)
        except BaseException as exc:  # shown in the panel; re-raised by run(wait=True)
            error = exc
        self._outcome = (token, run_id, result, error)
        self.marshal(self._finish, token)

    def cancel(self) -> None:
        """Cancel the current run (the replay stops at its next check; results so far kept)."""
        if self.control is not None:
            self.control.cancel()
            self._set_status("cancelling…")

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the background run ends (call on the kernel's thread); its result."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError("backtest still running")
        self._finish(self._token)
        return self.result

    # ---------------------------------------------------------------- kernel thread
    def _set_status(self, text: str) -> None:
        self.status_text = text
        self.status.value = html.escape(text)

    def _apply_progress(self, value: tuple[int, float]) -> None:
        token, frac = value
        if token == self._token and self._outcome is None:
            self.progress.value = min(max(frac, 0.0), 1.0)

    def _finish(self, token: int) -> None:
        """Show a finished run's outcome (once; stale or repeated calls do nothing)."""
        out = self._outcome
        if out is None or out[0] != token or token != self._token or self.result is not None:
            return
        if self.error is not None:
            return
        _, run_id, result, error = out
        self.run_button.disabled = False
        self.cancel_button.disabled = True
        if error is not None:
            self.error = error
            self.progress.bar_style = "danger"
            self._set_status(f"failed: {type(error).__name__}: {error}")
            return
        self.result, self.run_id = result, run_id
        self.progress.value = 1.0 if result.status == "completed" else self.progress.value
        self.progress.bar_style = "success" if result.status == "completed" else "warning"
        m = result.metrics
        syms = ", ".join(result.data.symbols)
        ret = float(m.get("total_return", float("nan")))
        self._set_status(f"{result.status} ({syms}): {result.n_bars:,} bars, "
                         f"{len(result.fills):,} fills, return {ret:.2%}")  # fmt: skip
        self.link.value = (
            f'<span class="ost-run-link" data-run-id="{html.escape(run_id)}" '
            'title="open this run in the ost_lab runs dashboard">run '
            f"<code>{html.escape(run_id)}</code> recorded in the runs database: "
            '<span class="ost-run-link-open">open in the dashboard</span></span>'
            if run_id
            else "<small>not recorded</small>"
        )
        self.show(result)

    def show(self, result: Any) -> None:
        """Fill the tabs from a ``BacktestResult``."""
        metrics, box, trades, orders = self.tabs.children
        metrics.value = _table(result.metrics)
        trades.value = _table(result.trades) if len(result.trades) else "<i>no trades</i>"
        orders.value = _table(result.orders) if len(result.orders) else "<i>no orders</i>"
        sym = next(iter(result.data.symbols))
        lines = (
            dict(self.indicators(result.data.symbols[sym], dict(result.params)))
            if self.indicators is not None
            else None
        )
        self.chart = BacktestChart.from_result(result, sym, indicators=lines, marshal=self.marshal)
        box.children = (chart_widget(self.chart),)
