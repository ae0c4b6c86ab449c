"""Playwright driving Debian's chromium against a real JupyterLab; screenshots go to artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("browser tests need Debian's chromium at /usr/bin/chromium (make chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


WAIT_MS = 60_000


class LabPage:
    """A chromium page on a JupyterLab: open a notebook, wait for the kernel, run all cells."""

    def __init__(self, page: Any, server: Any) -> None:
        self.page = page
        self.server = server

    def open(self, path: str = "") -> None:
        """Open ``/lab/tree/<path>`` with a fresh layout and wait until the app has started."""
        where = f"lab/tree/{path}" if path else "lab"
        self.page.goto(f"{self.server.url}/{where}?reset&token={self.server.token}")
        self.page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell", timeout=WAIT_MS
        )
        self.page.evaluate("() => window.jupyterapp.started")

    def wait_kernel_idle(self) -> None:
        """Wait until the current notebook's kernel is connected and idle."""
        self.page.wait_for_function(
            """() => {
                const w = window.jupyterapp.shell.currentWidget;
                const k = w && w.sessionContext && w.sessionContext.session
                    && w.sessionContext.session.kernel;
                return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
            }""",
            timeout=WAIT_MS,
        )

    def run_all_cells(self, timeout_ms: int = WAIT_MS) -> None:
        """Run every cell of the current notebook and wait until all have run."""
        self.wait_kernel_idle()
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.page.wait_for_function(
            """() => {
                const nb = window.jupyterapp.shell.currentWidget.content;
                return nb.widgets.every(c => c.model.type !== 'code' ||
                    (c.model.executionCount !== null && c.promptNode.textContent !== '[*]:'));
            }""",
            timeout=timeout_ms,
        )
        self.wait_kernel_idle()

    def errors(self) -> list[str]:
        """The text of any error outputs in the current notebook."""
        return self.page.eval_on_selector_all(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], "
            ".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']",
            "els => els.map(e => e.textContent)",
        )


@pytest.fixture
def lab(page, lab_server) -> LabPage:
    return LabPage(page, lab_server)
