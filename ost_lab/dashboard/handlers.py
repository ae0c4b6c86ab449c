"""HTTP handlers of the control API, mounted under ``<base_url>ost-lab/api``.

Every handler requires Jupyter authentication: an unauthenticated request gets 403.
"""

from __future__ import annotations

import json
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from ost_lab import paths
from ost_lab._version import __version__

API_PREFIX = "ost-lab/api"


class HealthHandler(APIHandler):
    """``GET /ost-lab/api/health``: is the server extension alive, and which version is it."""

    @tornado.web.authenticated
    def get(self) -> None:
        self.finish(
            json.dumps(
                {
                    "status": "ok",
                    "version": __version__,
                    "secmaster": str(paths.secmaster_path()),
                    "runs_db": str(paths.runs_path()),
                }
            )
        )


def setup_handlers(web_app: Any) -> None:
    """Add the control API routes to a Jupyter server's tornado application."""
    base_url = web_app.settings["base_url"]
    route = url_path_join(base_url, API_PREFIX)
    web_app.add_handlers(".*$", [(url_path_join(route, "health"), HealthHandler)])
