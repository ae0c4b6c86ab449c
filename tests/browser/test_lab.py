"""JupyterLab in chromium: the ost_lab sidebar and status item; a notebook with widget + Bokeh."""

from __future__ import annotations

WAIT_MS = 60_000


def test_sidebar_and_status_item_show_server_health(lab, lab_server, screenshots):
    page = lab.page
    lab.open()
    status = page.locator(".ost-lab-StatusItem")
    status.wait_for(timeout=WAIT_MS)
    page.wait_for_selector(".ost-lab-StatusItem[data-state='idle']", timeout=WAIT_MS)
    assert status.inner_text() == "ost_lab: no live trading"

    page.locator(".jp-SideBar [data-id='ost-lab-sidebar']").click()
    sidebar = page.locator("#ost-lab-sidebar")
    sidebar.wait_for(state="visible", timeout=WAIT_MS)
    page.wait_for_selector("#ost-lab-sidebar .ost-lab-Sidebar-status[data-status='ok']")
    text = sidebar.inner_text()
    assert "Server: ok" in text
    assert lab_server.env["OST_LAB_SECMASTER"] in text
    page.screenshot(path=str(screenshots / "lab-sidebar.png"))


def test_palette_command_opens_the_sidebar(lab):
    page = lab.page
    lab.open()
    page.evaluate("() => window.jupyterapp.commands.execute('ost-lab:open-dashboard')")
    page.locator("#ost-lab-sidebar").wait_for(state="visible", timeout=WAIT_MS)


def test_hello_notebook_renders_widget_and_bokeh(lab, screenshots):
    page = lab.page
    lab.open("00_hello.ipynb")
    lab.run_all_cells()
    assert lab.errors() == []
    slider = page.locator(".widget-slider")
    slider.first.wait_for(timeout=WAIT_MS)
    canvas = page.locator(".bk-Canvas")  # inside Bokeh's shadow DOM: Playwright pierces it
    canvas.first.wait_for(timeout=WAIT_MS)
    # The chart arrived with its data: the figure's ColumnDataSource holds all 500 points.
    lengths = page.evaluate(
        """() => window.Bokeh.documents.flatMap(
            d => [...d.all_models].filter(m => m.get_length).map(m => m.get_length()))"""
    )
    assert lengths == [500]
    page.screenshot(path=str(screenshots / "hello-notebook.png"), full_page=True)
