"""HTTP handlers of the control API, mounted under ``<base_url>ost-lab/api``.

Every handler requires Jupyter authentication (an unauthenticated request gets 403) and follows
Jupyter's XSRF rules for POST and DELETE. Errors are JSON ``{"message": ...}`` with a 4xx status.
Commands (stop) travel to the engine through the runs database, so they work while the kernel that
runs the engine is busy.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from ost_lab import paths
from ost_lab._version import __version__
from ost_lab.dashboard.openapi import openapi_document
from ost_lab.dashboard.runs_db import NANO, RunsDB, UnknownRun
from ost_lab.dashboard.runs_schema import MODES, STATUSES

API_PREFIX = "ost-lab/api"
RUN_ID = r"(?P<run_id>[A-Za-z0-9_.\-]{1,64})"
MAX_WAIT_S = 5.0


def json_api(method: Callable[..., Any]) -> Callable[..., Any]:
    """Authenticate, then turn known errors into JSON 4xx answers."""

    @tornado.web.authenticated
    @wraps(method)
    async def wrapper(self: BaseHandler, *args: Any, **kwargs: Any) -> None:
        unknown = sorted(set(self.request.query_arguments) - {"token", *self.query_params})
        if unknown:
            raise tornado.web.HTTPError(
                400,
                f"unknown query parameter(s): {', '.join(unknown)}; "
                f"this endpoint takes: {', '.join(self.query_params) or 'none'}",
            )
        try:
            result = method(self, *args, **kwargs)
            if asyncio.iscoroutine(result):
                await result
        except UnknownRun as exc:
            raise tornado.web.HTTPError(404, str(exc)) from exc
        except ValueError as exc:
            raise tornado.web.HTTPError(400, str(exc)) from exc

    return wrapper


class BaseHandler(APIHandler):
    """Shared access to the runs database (one connection per server process)."""

    query_params: tuple[str, ...] = ()
    """The query parameters the endpoint understands; any other is a 400, not silently ignored."""

    @property
    def runs_db(self) -> RunsDB:
        db = self.settings.get("ost_lab_runs_db")
        if db is None or db.path != paths.runs_path():
            db = RunsDB(paths.runs_path())
            self.settings["ost_lab_runs_db"] = db
        return db

    def reply(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, allow_nan=False))

    def int_arg(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{name} must be an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"{name} must be between {low} and {high}, got {value}")
        return value

    def choice_arg(self, name: str, choices: tuple[str, ...]) -> str | None:
        raw = self.get_query_argument(name, None)
        if raw in (None, ""):
            return None
        if raw not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
        return raw


class HealthHandler(BaseHandler):
    """``GET /health``: is the server extension alive, and which version is it."""

    @json_api
    def get(self) -> None:
        self.reply(
            {
                "status": "ok",
                "version": __version__,
                "secmaster": str(paths.secmaster_path()),
                "runs_db": str(paths.runs_path()),
            }
        )


class StatusHandler(BaseHandler):
    """``GET /status``: the running runs with mode, progress, equity and heartbeat age."""

    @json_api
    def get(self) -> None:
        db = self.runs_db
        db.sweep_crashed()
        now = time.time_ns()
        running = db.list_runs(status="running", limit=1000)
        by_mode = {m: sum(r["mode"] == m for r in running) for m in MODES}
        self.reply(
            {
                "running": [
                    {
                        **_summary(r),
                        "heartbeat_age_s": (now - r["heartbeat_ns"]) / NANO
                        if r["heartbeat_ns"]
                        else None,
                    }
                    for r in running
                ],
                "by_mode": by_mode,
                "live": by_mode["live"] > 0,
            }
        )


class RunsHandler(BaseHandler):
    """``GET /runs``: runs newest first, filtered by mode, status and text, paged."""

    query_params = ("mode", "status", "q", "limit", "offset")

    @json_api
    def get(self) -> None:
        mode = self.choice_arg("mode", MODES)
        status = self.choice_arg("status", STATUSES)
        text = self.get_query_argument("q", None) or None
        limit = self.int_arg("limit", 50, 1, 1000)
        offset = self.int_arg("offset", 0, 0, 10**9)
        db = self.runs_db
        runs = db.list_runs(mode=mode, status=status, text=text, limit=limit, offset=offset)
        self.reply(
            {
                "runs": [_summary(r) for r in runs],
                "total": db.count_runs(mode=mode, status=status, text=text),
                "limit": limit,
                "offset": offset,
            }
        )


class RunHandler(BaseHandler):
    """``GET /runs/{id}``: one run; ``DELETE /runs/{id}``: remove it and its records."""

    @json_api
    def get(self, run_id: str) -> None:
        self.reply(_clean(self.runs_db.get_run(run_id)))

    @json_api
    def delete(self, run_id: str) -> None:
        db = self.runs_db
        if db.get_run(run_id)["status"] == "running":
            raise tornado.web.HTTPError(409, f"run {run_id} is running: stop it first")
        db.delete_run(run_id)
        self.set_status(204)
        self.finish()


class RunTableHandler(BaseHandler):
    """``GET /runs/{id}/{fills|orders|equity|metrics|risk_events|mode_changes}``."""

    @json_api
    def get(self, run_id: str, part: str) -> None:
        db = self.runs_db
        if part == "metrics":
            self.reply({"run_id": run_id, "metrics": db.get_run(run_id)["metrics"] or {}})
            return
        if part == "equity":
            frame = db.table(run_id, "equity")
            self.reply(
                {
                    "run_id": run_id,
                    "ts_ns": frame["ts_ns"].tolist(),
                    "equity": frame["equity"].tolist(),
                }
            )
            return
        frame = db.table(run_id, part).drop(columns=["ts"])
        records = json.loads(frame.to_json(orient="records"))
        self.reply({"run_id": run_id, part: records})


class StopHandler(BaseHandler):
    """``POST /runs/{id}/stop``: ask the run's engine to stop; optionally wait for its ack."""

    query_params = ("wait_ms",)

    @json_api
    async def post(self, run_id: str) -> None:
        wait = float(self.int_arg("wait_ms", 0, 0, int(MAX_WAIT_S * 1000))) / 1000
        db = self.runs_db
        run = db.get_run(run_id)
        if run["status"] != "running":
            raise tornado.web.HTTPError(409, f"run {run_id} is not running ({run['status']})")
        command_id = db.post_command(run_id, "stop")
        deadline = time.monotonic() + wait
        command = db.get_command(command_id)
        while command.acked_ns is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            command = db.get_command(command_id)
        self.reply(_command(command), status=202 if command.acked_ns is None else 200)


class CommandHandler(BaseHandler):
    """``GET /commands/{id}``: whether and when the engine acknowledged a command."""

    @json_api
    def get(self, command_id: str) -> None:
        try:
            command = self.runs_db.get_command(int(command_id))
        except KeyError as exc:
            raise tornado.web.HTTPError(404, f"no command with id {command_id}") from exc
        self.reply(_command(command))


class OpenAPIHandler(BaseHandler):
    """``GET /openapi.json``: the OpenAPI document of this API."""

    @json_api
    def get(self) -> None:
        self.reply(openapi_document(__version__))


class NotFoundHandler(BaseHandler):
    """Any other path under the API: a JSON 404 (not an HTML page)."""

    @json_api
    def get(self, *args: str) -> None:
        raise tornado.web.HTTPError(404, f"no such endpoint: {self.request.path}")

    post = delete = put = patch = get


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    """A run as the list and the status bar show it (no bulky fields)."""
    keep = (
        "id",
        "name",
        "mode",
        "status",
        "started_ns",
        "ended_ns",
        "instruments",
        "progress",
        "last_equity",
        "total_return",
        "heartbeat_ns",
    )
    out = {k: run[k] for k in keep}
    out["strategies"] = [s.get("class") or s.get("name") for s in run["strategies"] or []]
    return _clean(out)


def _clean(obj: Any) -> Any:
    """JSON has no NaN: send null."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and obj != obj:
        return None
    return obj


def _command(command: Any) -> dict[str, Any]:
    return {
        "id": command.id,
        "run_id": command.run_id,
        "command": command.command,
        "created_ns": command.created_ns,
        "acked": command.acked_ns is not None,
        "acked_ns": command.acked_ns,
        "ack_note": command.ack_note,
    }


def setup_handlers(web_app: Any) -> None:
    """Add the control API routes to a Jupyter server's tornado application."""
    route = url_path_join(web_app.settings["base_url"], API_PREFIX)
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(route, "health"), HealthHandler),
            (url_path_join(route, "status"), StatusHandler),
            (url_path_join(route, "openapi.json"), OpenAPIHandler),
            (url_path_join(route, "runs"), RunsHandler),
            (url_path_join(route, "runs", RUN_ID), RunHandler),
            (url_path_join(route, "runs", RUN_ID, "stop"), StopHandler),
            (
                url_path_join(
                    route,
                    "runs",
                    RUN_ID,
                    r"(?P<part>fills|orders|equity|metrics|risk_events|mode_changes)",
                ),
                RunTableHandler,
            ),
            (url_path_join(route, "commands", r"(?P<command_id>[0-9]{1,18})"), CommandHandler),
            (url_path_join(route, ".*"), NotFoundHandler),
        ],
    )
