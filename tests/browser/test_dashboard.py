"""The ost_lab runs dashboard in JupyterLab, driven by chromium against a real ``jupyter lab``.

Runs come from notebooks executing in the lab's kernel (fixtures in ``notebooks/`` beside this file)
or are recorded from this process into the same runs database (``OST_LAB_RUNS`` of the lab server).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ost_lab.core import Bar, Engine, Param, Strategy
from ost_lab.dashboard.recorder import record
from ost_lab.dashboard.runs_db import RunsDB
from ost_lab.secmaster import Secmaster

WAIT_MS = 60_000
FIXTURES = Path(__file__).parent / "notebooks"
T0, MIN = 1_700_000_000_000_000_000, 60_000_000_000


class Flipper(Strategy):
    every = Param(5, min=1)
    size = Param(3.0, min=1)

    def on_start(self) -> None:
        self.n = 0

    def on_bar(self, bar: Bar) -> None:
        self.n += 1
        if self.n % self.every:
            return
        if self.position == 0:
            self.buy(self.size, bar.symbol)
        else:
            self.sell(self.position, bar.symbol)


def bars(n: int | None, seed: int) -> Iterator[Bar]:
    """A random walk of n bars; endless when n is None, then paced (a short sleep every 50 bars)
    to leave the CPU to the lab."""
    rng = np.random.default_rng(seed)
    price, i = 100.0, 0
    while n is None or i < n:
        o = price
        c = max(1.0, o * (1 + rng.normal(0, 0.003)))
        yield Bar(
            "XYZ",
            T0 + (i + 1) * MIN,
            o,
            max(o, c) * 1.001,
            min(o, c) * 0.999,
            c,
            1000.0,
            ts_open=T0 + i * MIN,
        )
        price, i = c, i + 1
        if n is None and i % 50 == 0:
            time.sleep(0.001)


def record_here(server: Any, name: str, seed: int) -> str:
    """Record a finished backtest into the lab server's runs database from this process."""
    engine = Engine(Flipper(), list(bars(1500, seed)), initial_cash=10_000.0)
    run_id, _ = record(engine, name=name, db=server.env["OST_LAB_RUNS"], instruments=["XYZ"])
    return run_id


def copy_fixture(server: Any, name: str) -> None:
    shutil.copy(FIXTURES / name, server.root / name)


def open_sidebar(lab: Any) -> Any:
    page = lab.page
    page.evaluate("() => window.jupyterapp.commands.execute('ost-lab:open-dashboard')")
    sidebar = page.locator("#ost-lab-sidebar")
    sidebar.wait_for(state="visible", timeout=WAIT_MS)
    return sidebar


def start_all_cells(lab: Any) -> None:
    """Run all cells without waiting for them to finish (the command's promise is not awaited)."""
    lab.wait_kernel_idle()
    lab.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def run_row(page: Any, name: str, status: str | None = None) -> Any:
    sel = f".ost-lab-RunRow:has(.ost-lab-RunRow-name:text-is('{name}'))"
    if status:
        sel += f"[data-status='{status}']"
    return page.locator(sel)


def test_sidebar_lists_notebook_runs_and_follows_a_running_replay(lab, lab_server, screenshots):
    copy_fixture(lab_server, "dash_backtest.ipynb")
    page = lab.page
    lab.open("dash_backtest.ipynb")
    sidebar = open_sidebar(lab)
    start_all_cells(lab)
    # The quick backtest appears, then the slow replay shows as running and finishes, no reload.
    run_row(page, "nb backtest", "completed").wait_for(timeout=WAIT_MS)
    running = run_row(page, "slow replay", "running")
    running.wait_for(timeout=WAIT_MS)
    assert "BACKTEST" in running.inner_text().upper()
    page.screenshot(path=str(screenshots / "dashboard-sidebar-running.png"))
    run_row(page, "slow replay", "completed").wait_for(timeout=WAIT_MS)
    row = run_row(page, "nb backtest").first
    text = row.inner_text()
    assert "Flipper" in text and "XYZ" in text and "%" in text
    lab.wait_kernel_idle()
    assert lab.errors() == []

    # Filters: by mode, by status, by text.
    page.select_option("[data-filter='mode']", "live")
    page.wait_for_selector("#ost-lab-sidebar .ost-lab-RunList .ost-lab-empty", timeout=WAIT_MS)
    page.select_option("[data-filter='mode']", "backtest")
    page.fill("[data-filter='q']", "slow replay")
    page.wait_for_function(
        """() => [...document.querySelectorAll('#ost-lab-sidebar .ost-lab-RunRow-name')]
            .map(e => e.textContent).every(t => t === 'slow replay')""",
        timeout=WAIT_MS,
    )
    assert run_row(page, "slow replay").count() >= 1
    page.fill("[data-filter='q']", "")
    run_row(page, "nb backtest").first.wait_for(timeout=WAIT_MS)
    sidebar.screenshot(path=str(screenshots / "dashboard-sidebar.png"))


def set_theme(page: Any, theme: str) -> None:
    page.evaluate(
        "t => { window.jupyterapp.commands.execute('apputils:change-theme', {theme: t}); }", theme
    )
    page.wait_for_function(
        "t => document.body.dataset.jpThemeName === t", arg=theme, timeout=WAIT_MS
    )
    page.wait_for_timeout(300)


def luminance(page: Any, selector: str) -> float:
    """Relative brightness (0 black .. 1 white) of an element's background colour."""
    rgb = page.eval_on_selector(
        selector, "e => getComputedStyle(e).backgroundColor.match(/[0-9.]+/g).map(Number)"
    )
    r, g, b = rgb[:3]
    return float(0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_run_detail_shows_metrics_and_equity_curve(lab, lab_server, screenshots):
    run_id = record_here(lab_server, "detail run", seed=3)
    page = lab.page
    lab.open()
    open_sidebar(lab)
    page.locator(f".ost-lab-RunRow[data-run-id='{run_id}']").click()
    detail = page.locator(f".ost-lab-Detail[data-run-id='{run_id}']")
    detail.locator(".ost-lab-Metrics").wait_for(timeout=WAIT_MS)
    assert "total_return" in detail.locator(".ost-lab-Metrics").inner_text()
    with RunsDB(lab_server.env["OST_LAB_RUNS"]) as db:
        n_equity = len(db.equity(run_id))
        n_fills = len(db.fills(run_id))
        metrics = db.metrics(run_id)
    cells = {
        r.locator("td").nth(0).inner_text(): r.locator("td").nth(1).inner_text()
        for r in detail.locator(".ost-lab-Metrics tbody tr").all()
    }
    for name in ("total_return", "cagr", "max_drawdown"):  # fractions read as signed percentages
        x = float(metrics[name])
        assert cells[name] == f"{'+' if x > 0 else ''}{x * 100:.2f}%", (name, x, cells[name])
    points = detail.locator(".ost-lab-EquityChart polyline").get_attribute("points") or ""
    assert len(points.split()) == n_equity > 10
    assert detail.locator(".ost-lab-DrawdownChart polyline").count() == 1
    assert detail.locator("section:has(h3:text-is('Fills')) tbody tr").count() == min(n_fills, 200)
    assert "Risk events" in detail.inner_text()
    assert "[object Object]" not in detail.inner_text()
    page.screenshot(path=str(screenshots / "dashboard-detail.png"))

    # Dark theme: the panels follow JupyterLab's theme variables (then back to light).
    try:
        set_theme(page, "JupyterLab Dark")
        assert luminance(page, ".ost-lab-Detail") < 0.2
        assert luminance(page, "#ost-lab-sidebar") < 0.2
        page.screenshot(path=str(screenshots / "dashboard-detail-dark.png"))
    finally:
        set_theme(page, "JupyterLab Light")
    assert luminance(page, ".ost-lab-Detail") > 0.8


def test_compare_overlays_equity_of_two_runs(lab, lab_server, screenshots):
    a = record_here(lab_server, "compare A", seed=4)
    b = record_here(lab_server, "compare B", seed=5)
    page = lab.page
    lab.open()
    open_sidebar(lab)
    for run_id in (a, b):
        page.locator(f".ost-lab-RunRow[data-run-id='{run_id}'] .ost-lab-RunRow-select").check()
    page.locator(".ost-lab-CompareButton").click()
    chart = page.locator(".ost-lab-CompareChart")
    chart.wait_for(timeout=WAIT_MS)
    lines = chart.locator("polyline")
    assert lines.count() == 2
    labels = [lines.nth(i).get_attribute("data-series") for i in range(2)]
    assert labels == [f"compare A ({a})", f"compare B ({b})"]
    assert all(len((lines.nth(i).get_attribute("points") or "").split()) > 10 for i in range(2))
    page.screenshot(path=str(screenshots / "dashboard-compare.png"))

    # A server error is shown in words, not as a blank panel.
    page.evaluate("() => window.jupyterapp.commands.execute('ost-lab:open-run', {runId: 'nope'})")
    error = page.locator(".ost-lab-Detail[data-run-id='nope'] .ost-lab-Error")
    error.wait_for(timeout=WAIT_MS)
    assert "Could not load run nope" in error.inner_text()


def test_launcher_card_creates_a_strategy_notebook_that_runs(lab, lab_server):
    page = lab.page
    lab.open()
    page.evaluate("() => window.jupyterapp.commands.execute('launcher:create')")
    card = page.locator(".jp-LauncherCard:has-text('ost_lab strategy')")
    card.first.click(timeout=WAIT_MS)
    page.wait_for_function(
        """() => { const w = window.jupyterapp.shell.currentWidget;
                   return w && w.context && w.context.path.startsWith('ost_lab_strategy'); }""",
        timeout=WAIT_MS,
    )
    path = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path")
    assert (lab_server.root / path).exists()
    lab.run_all_cells(timeout_ms=3 * WAIT_MS)  # may build the demo secmaster first
    assert lab.errors() == []
    assert "recorded run" in page.locator(".jp-Notebook").inner_text()
    # The template replays the first instrument of the lab's securities master (the demo one).
    with Secmaster(lab_server.env["OST_LAB_SECMASTER"], readonly=True) as sm:
        first = sm.search("")[0]["symbol"]
    with RunsDB(lab_server.env["OST_LAB_RUNS"]) as db:
        runs = [r for r in db.list_runs(limit=50) if r["name"] == "MyStrategy"]
    assert runs and runs[0]["status"] == "completed"
    assert runs[0]["instruments"] == [first]
    # The panel's run link opens that run's detail in the dashboard.
    link = page.locator(f".ost-run-link[data-run-id='{runs[0]['id']}'] .ost-run-link-open")
    link.click(timeout=WAIT_MS)
    detail = page.locator(f".ost-lab-Detail[data-run-id='{runs[0]['id']}']")
    detail.locator(".ost-lab-Metrics").wait_for(timeout=WAIT_MS)
    assert first in detail.inner_text()


def test_status_bar_stop_cancels_a_busy_cell_within_two_seconds(lab, lab_server, screenshots):
    copy_fixture(lab_server, "dash_endless.ipynb")
    page = lab.page
    lab.open("dash_endless.ipynb")
    status = page.locator(".ost-lab-StatusItem")
    status.wait_for(timeout=WAIT_MS)
    start_all_cells(lab)
    page.wait_for_selector(".ost-lab-StatusItem[data-state='running']", timeout=WAIT_MS)
    assert "1 backtest" in status.inner_text()
    status.click()
    row = page.locator(".ost-lab-StatusPopup li:has-text('endless replay')")
    row.wait_for(timeout=WAIT_MS)
    run_id = row.get_attribute("data-run-id")
    assert run_id
    page.screenshot(path=str(screenshots / "dashboard-status-item.png"))
    row.locator(".ost-lab-StopButton").click()
    accept = page.locator(".jp-Dialog .jp-mod-accept")
    accept.wait_for(timeout=WAIT_MS)
    # The cell is still busy running the replay when the stop is confirmed.
    assert (
        page.evaluate(
            "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
        )
        == "busy"
    )
    accept.click()
    clicked = time.monotonic()
    db_path = lab_server.env["OST_LAB_RUNS"]
    state = "running"
    while time.monotonic() - clicked < 5:
        with RunsDB(db_path) as db:
            state = db.get_run(run_id)["status"]
        if state != "running":
            break
        time.sleep(0.05)
    stopped_after = time.monotonic() - clicked
    assert state == "cancelled"
    assert stopped_after < 2.0, stopped_after
    lab.wait_kernel_idle()
    page.wait_for_selector(".ost-lab-StatusItem[data-state='idle']", timeout=WAIT_MS)
    assert f"stopped {run_id}" in page.locator(".jp-Notebook").inner_text()


def test_status_bar_stop_all_ends_every_running_run(lab, lab_server, screenshots):
    db_path = lab_server.env["OST_LAB_RUNS"]
    names = ("stop-all one", "stop-all two")
    done: dict[str, str] = {}

    def replay(name: str, seed: int) -> None:
        engine = Engine(Flipper(), bars(None, seed), initial_cash=10_000.0)
        run_id, result = record(engine, name=name, db=db_path, instruments=["XYZ"])
        done[run_id] = result.status

    threads = [
        threading.Thread(target=replay, args=(name, k), daemon=True) for k, name in enumerate(names)
    ]
    for t, name in zip(threads, names, strict=True):  # one at a time: each is running first
        t.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with RunsDB(db_path) as db:
                if any(r["name"] == name for r in db.list_runs(status="running")):
                    break
            time.sleep(0.05)
    page = lab.page
    lab.open()
    status = page.locator(".ost-lab-StatusItem")
    page.wait_for_function(
        "() => /2 running/.test(document.querySelector('.ost-lab-StatusItem')?.textContent ?? '')",
        timeout=WAIT_MS,
    )
    status.click()
    page.locator(".ost-lab-StatusPopup li:has-text('stop-all')").nth(1).wait_for(timeout=WAIT_MS)
    page.locator(".ost-lab-StopAllButton").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=WAIT_MS)
    assert "Stop 2 running runs?" in dialog.inner_text()
    assert all(name in dialog.inner_text() for name in names)
    page.screenshot(path=str(screenshots / "dashboard-stop-all.png"))
    dialog.locator(".jp-mod-accept").click()
    for t in threads:
        t.join(timeout=10)
        assert not t.is_alive(), "a replay kept running after Stop all"
    assert sorted(done.values()) == ["cancelled", "cancelled"]
    with RunsDB(db_path) as db:
        assert sorted(db.get_run(run_id)["status"] for run_id in done) == ["cancelled"] * 2
    page.wait_for_selector(".ost-lab-StatusItem[data-state='idle']", timeout=WAIT_MS)


def test_settings_show_the_runs_database_and_set_the_refresh_interval(lab, lab_server):
    page = lab.page
    lab.open()
    open_sidebar(lab)
    runs_db = lab_server.env["OST_LAB_RUNS"]
    page.wait_for_function(
        """async path => {
            const s = await window.jupyterapp.serviceManager.settings.fetch('ost-lab:plugin');
            return s.settings && s.settings.runsDatabase === path;
        }""",
        arg=runs_db,
        timeout=WAIT_MS,
    )
    schema = page.evaluate(
        """async () => (await window.jupyterapp.serviceManager.settings.fetch('ost-lab:plugin'))
            .schema.properties"""
    )
    assert schema["refreshInterval"]["default"] == 2
    assert schema["confirmStop"]["default"] is True
    assert schema["runsDatabase"]["readOnly"] is True

    # The refresh interval sets how often the dashboard polls the server.
    def polls_per_second(seconds: float = 4.0) -> float:
        seen: list[str] = []
        listener = lambda request: seen.append(request.url)  # noqa: E731
        page.on("request", listener)
        page.wait_for_timeout(seconds * 1000)
        page.remove_listener("request", listener)
        return sum("/ost-lab/api/status" in url for url in seen) / seconds

    def set_interval(raw: str) -> None:
        page.evaluate(
            "raw => window.jupyterapp.serviceManager.settings.save('ost-lab:plugin', raw)", raw
        )
        lab.open()  # the lab reads user settings when it starts
        open_sidebar(lab)

    try:
        set_interval('{"refreshInterval": 0.5}')
        fast = polls_per_second()
        set_interval('{"refreshInterval": 4}')
        slow = polls_per_second()
    finally:
        set_interval("{}")
    assert fast >= 1.0, fast  # every 0.5 s: about 2 per second
    assert slow <= 0.5, slow  # every 4 s: about 0.25 per second


def test_sidebar_shows_more_runs_page_by_page_past_the_api_page_size(lab, lab_server):
    n = 1205  # more than one page of the control API (1000)
    with RunsDB(lab_server.env["OST_LAB_RUNS"]) as db:
        ids = [db.create_run(name=f"paged {k:04d}", mode="backtest") for k in range(n)]
    try:
        page = lab.page
        lab.open()
        open_sidebar(lab)
        page.fill("[data-filter='q']", "paged")
        count = page.locator("#ost-lab-sidebar .ost-lab-Sidebar-count")
        page.wait_for_function(
            "t => document.querySelector('#ost-lab-sidebar .ost-lab-Sidebar-count')"
            "?.textContent === t",
            arg=f"200 of {n} runs",
            timeout=WAIT_MS,
        )
        more = page.locator("#ost-lab-sidebar .ost-lab-ShowMoreButton")
        shown = 200
        while shown < n:
            assert more.inner_text() == f"Show {min(200, n - shown)} more"
            more.click()
            shown = min(shown + 200, n)
            expected = f"{shown} of {n} runs" if shown < n else f"{n} runs"
            page.wait_for_function(
                "t => document.querySelector('#ost-lab-sidebar .ost-lab-Sidebar-count')"
                "?.textContent === t",
                arg=expected,
                timeout=WAIT_MS,
            )
        assert more.count() == 0
        names = page.eval_on_selector_all(
            "#ost-lab-sidebar .ost-lab-RunRow-name", "els => els.map(e => e.textContent)"
        )
        assert names == [f"paged {k:04d}" for k in reversed(range(n))]  # newest first, no gaps
        assert count.inner_text() == f"{n} runs"
        # A new filter starts again from the first page.
        page.fill("[data-filter='q']", "paged 0")
        page.wait_for_function(
            "t => document.querySelector('#ost-lab-sidebar .ost-lab-Sidebar-count')"
            "?.textContent === t",
            arg="200 of 1000 runs",
            timeout=WAIT_MS,
        )
    finally:
        with RunsDB(lab_server.env["OST_LAB_RUNS"]) as db:
            for run_id in ids:
                db.delete_run(run_id, force=True)
