"""The quickstart notebook in JupyterLab: search and pick an instrument, run a backtest from
the panel, see the chart render with trade markers, decimated when zoomed out and at full
resolution after zooming in (the range change goes to the kernel and comes back)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ost_lab.secmaster import ensure_demo_secmaster

WAIT_MS = 60_000

# Per Bokeh document: name -> length of every ColumnDataSource, keyed by its columns.
SOURCES_JS = """() => window.Bokeh.documents.map(doc => [...doc.all_models]
    .filter(m => m.get_length && m.data)
    .map(m => {
        const keys = m.data instanceof Map ? [...m.data.keys()] : Object.keys(m.data);
        return {keys: keys.sort().join(','), n: m.get_length() ?? 0};
    }))"""


def _charts(page: Any) -> list[dict[str, int]]:
    """Per chart document: bars, buy and sell markers sent to the browser."""
    out = []
    for doc in page.evaluate(SOURCES_JS):
        bars = [s["n"] for s in doc if "count" in s["keys"].split(",")]
        marks = [s["n"] for s in doc if "kind" in s["keys"].split(",")]
        if bars:
            out.append({"bars": bars[0], "markers": sum(marks)})
    return out


def test_quickstart_search_pick_run_chart(lab, lab_server, screenshots):
    ensure_demo_secmaster(Path(lab_server.env["OST_LAB_SECMASTER"]))  # not inside the cell wait
    page = lab.page
    lab.open("01_quickstart.ipynb")
    lab.run_all_cells()
    assert lab.errors() == []
    page.locator(".bk-Canvas").first.wait_for(timeout=WAIT_MS)
    assert any(c["markers"] > 0 for c in _charts(page))  # the headless run drew its trades

    # search and pick an instrument in the picker
    page.locator("input[placeholder='symbol or description words']").fill("micro")
    results = page.locator(".widget-select-multiple select").first
    page.wait_for_function(
        """() => { const s = document.querySelector('.widget-select-multiple select');
                   return s && s.options.length === 1 && s.options[0].text.includes('MSFT'); }""",
        timeout=WAIT_MS,
    )
    results.select_option(index=0)
    # one-minute bars over the last ~3 weeks: more bars than a view sends
    page.locator(".widget-dropdown select").filter(has_text="15m").select_option("1m")
    page.locator("input[type='date']").first.fill("2025-12-08")
    page.locator(".widget-html", has_text="coverage 2025").first.wait_for(timeout=WAIT_MS)

    # run from the panel's button; the cell is idle, the replay runs in the background
    page.locator("button.widget-button", has_text="Run").first.click()
    status = page.locator(".widget-html", has_text="(MSFT)")
    status.first.wait_for(timeout=WAIT_MS)
    assert "completed (MSFT)" in status.first.inner_text()
    page.wait_for_function(
        f"() => ({SOURCES_JS})().length >= 3", timeout=WAIT_MS
    )  # a new chart document arrived
    charts = _charts(page)
    newest = charts[-1]
    assert newest["markers"] > 0
    assert 0 < newest["bars"] <= 2000  # ~9k one-minute bars decimated for the full view
    page.locator(".jp-Notebook").first.evaluate("n => n.scrollTop = 0")
    page.locator(".lm-TabBar-tab", has_text="Chart").first.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "quickstart-panel.png"), full_page=True)

    # zoom in on the newest chart in the browser: the kernel re-slices to full resolution
    page.evaluate(
        """() => {
            const doc = window.Bokeh.documents[window.Bokeh.documents.length - 1];
            const r = [...doc.all_models].find(m => m.type === 'Range1d' ||
                (m.constructor && m.constructor.__name__ === 'Range1d'));
            const w = r.end - r.start;
            r.setv({start: r.end - w / 40, end: r.end});
        }"""
    )
    page.wait_for_function(
        """() => {
            const doc = window.Bokeh.documents[window.Bokeh.documents.length - 1];
            const s = [...doc.all_models].find(m => m.get_length && m.data &&
                (m.data instanceof Map ? m.data.has('count') : 'count' in m.data));
            const c = s.data instanceof Map ? s.data.get('count') : s.data.count;
            return s.get_length() > 0 && [...c].every(v => v === 1);
        }""",
        timeout=WAIT_MS,
    )
    page.screenshot(path=str(screenshots / "quickstart-zoomed.png"), full_page=True)
