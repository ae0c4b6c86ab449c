"""The runs dashboard's server side: a Jupyter server extension serving the ost_lab control API.

It runs in the Jupyter server process, apart from any notebook kernel, so it keeps answering (and
can stop runs) while a kernel is busy.
"""

from __future__ import annotations

from typing import Any

from ost_lab.dashboard.handlers import setup_handlers


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "ost_lab.dashboard"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Register the control API's handlers with the running Jupyter server."""
    setup_handlers(server_app.web_app)
    server_app.log.info("ost_lab control API registered under /ost-lab/api")
