"""The OpenAPI 3 document of the control API (served at ``/ost-lab/api/openapi.json``)."""

from __future__ import annotations

from typing import Any

from ost_lab.dashboard.runs_schema import MODES, STATUSES

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    words = {
        400: "bad input",
        403: "not authenticated",
        404: "no such run",
        409: "conflicts with the run's state",
    }
    return {str(c): _json(_ERROR, words[c]) for c in (403, *codes)}


_RUN_ID = {
    "name": "run_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.\\-]{1,64}$"},
}
_NULLABLE_INT = {"type": "integer", "nullable": True}
_NULLABLE_NUM = {"type": "number", "nullable": True}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "properties": {"message": {"type": "string"}, "reason": {"nullable": True}},
        "required": ["message"],
    },
    "RunSummary": {
        "type": "object",
        "required": ["id", "name", "mode", "status", "started_ns"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "mode": {"type": "string", "enum": list(MODES)},
            "status": {"type": "string", "enum": list(STATUSES)},
            "started_ns": {"type": "integer"},
            "ended_ns": _NULLABLE_INT,
            "strategies": {"type": "array", "items": {"type": "string", "nullable": True}},
            "instruments": {"type": "array", "nullable": True, "items": {"type": "string"}},
            "progress": _NULLABLE_NUM,
            "last_equity": _NULLABLE_NUM,
            "total_return": _NULLABLE_NUM,
            "heartbeat_ns": _NULLABLE_INT,
            "heartbeat_age_s": _NULLABLE_NUM,
        },
    },
    "Run": {
        "type": "object",
        "required": ["id", "name", "mode", "status", "started_ns"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "mode": {"type": "string", "enum": list(MODES)},
            "status": {"type": "string", "enum": list(STATUSES)},
            "started_ns": {"type": "integer"},
            "ended_ns": _NULLABLE_INT,
            "strategies": {"type": "array", "nullable": True, "items": {"type": "object"}},
            "instruments": {"type": "array", "nullable": True, "items": {"type": "string"}},
            "data_start_ns": _NULLABLE_INT,
            "data_end_ns": _NULLABLE_INT,
            "feed": {"type": "string", "nullable": True},
            "broker": {"type": "string", "nullable": True},
            "metrics": {"type": "object", "nullable": True},
            "error": {"type": "string", "nullable": True},
            "pid": _NULLABLE_INT,
            "host": {"type": "string", "nullable": True},
            "heartbeat_ns": _NULLABLE_INT,
            "progress": _NULLABLE_NUM,
            "last_equity": _NULLABLE_NUM,
            "total_return": _NULLABLE_NUM,
        },
    },
    "Command": {
        "type": "object",
        "required": ["id", "run_id", "command", "created_ns", "acked"],
        "properties": {
            "id": {"type": "integer"},
            "run_id": {"type": "string"},
            "command": {"type": "string", "enum": ["stop", "cancel", "kill"]},
            "created_ns": {"type": "integer"},
            "acked": {"type": "boolean"},
            "acked_ns": _NULLABLE_INT,
            "ack_note": {"type": "string", "nullable": True},
        },
    },
}


def _table(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["run_id", name],
        "properties": {
            "run_id": {"type": "string"},
            name: {"type": "array", "items": {"type": "object"}},
        },
    }


def openapi_document(version: str) -> dict[str, Any]:
    """The API description, for clients and for schemathesis."""
    run_get = {"parameters": [_RUN_ID]}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ost_lab control API",
            "version": version,
            "description": "Runs, their records and commands to running engines. Served by the "
            "Jupyter server; authenticate as for any Jupyter API (Authorization: token ...).",
        },
        "servers": [{"url": "/ost-lab/api"}],
        "security": [{"token": []}],
        "components": {
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "Authorization"}
            },
            "schemas": _SCHEMAS,
        },
        "paths": {
            "/health": {
                "get": {
                    "summary": "Server extension health",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["status", "version"],
                                "properties": {
                                    "status": {"type": "string", "enum": ["ok"]},
                                    "version": {"type": "string"},
                                    "secmaster": {"type": "string"},
                                    "runs_db": {"type": "string"},
                                },
                            },
                            "alive",
                        ),
                        **_errors(),
                    },
                }
            },
            "/status": {
                "get": {
                    "summary": "Running runs by mode, with progress and heartbeat age",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["running", "by_mode", "live"],
                                "properties": {
                                    "running": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/RunSummary"},
                                    },
                                    "by_mode": {
                                        "type": "object",
                                        "additionalProperties": {"type": "integer"},
                                    },
                                    "live": {"type": "boolean"},
                                },
                            },
                            "status",
                        ),
                        **_errors(),
                    },
                }
            },
            "/runs": {
                "get": {
                    "summary": "Runs, newest first",
                    "parameters": [
                        {"name": "mode", "in": "query", "schema": {"enum": list(MODES)}},
                        {"name": "status", "in": "query", "schema": {"enum": list(STATUSES)}},
                        {"name": "q", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                        },
                        {
                            "name": "offset",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0, "maximum": 10**9},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["runs", "limit", "offset"],
                                "properties": {
                                    "runs": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/RunSummary"},
                                    },
                                    "total": _NULLABLE_INT,
                                    "limit": {"type": "integer"},
                                    "offset": {"type": "integer"},
                                },
                            },
                            "a page of runs",
                        ),
                        **_errors(400),
                    },
                }
            },
            "/runs/{run_id}": {
                "get": {
                    **run_get,
                    "summary": "One run",
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Run"}, "the run"),
                        **_errors(404),
                    },
                },
                "delete": {
                    **run_get,
                    "summary": "Delete a finished run and its records",
                    "responses": {"204": {"description": "deleted"}, **_errors(404, 409)},
                },
            },
            "/runs/{run_id}/stop": {
                "post": {
                    **run_get,
                    "summary": "Stop a running run (even while its kernel is busy)",
                    "parameters": [
                        _RUN_ID,
                        {
                            "name": "wait_ms",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0, "maximum": 5000},
                            "description": "wait up to this long for the engine's acknowledgement",
                        },
                    ],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Command"}, "acknowledged"),
                        "202": _json({"$ref": "#/components/schemas/Command"}, "queued"),
                        **_errors(400, 404, 409),
                    },
                }
            },
            **{
                f"/runs/{{run_id}}/{part}": {
                    "get": {
                        **run_get,
                        "summary": f"The run's {part}",
                        "responses": {"200": _json(schema, part), **_errors(404)},
                    }
                }
                for part, schema in {
                    "fills": _table("fills"),
                    "orders": _table("orders"),
                    "risk_events": _table("risk_events"),
                    "mode_changes": _table("mode_changes"),
                    "metrics": {
                        "type": "object",
                        "required": ["run_id", "metrics"],
                        "properties": {"run_id": {"type": "string"}, "metrics": {"type": "object"}},
                    },
                    "equity": {
                        "type": "object",
                        "required": ["run_id", "ts_ns", "equity"],
                        "properties": {
                            "run_id": {"type": "string"},
                            "ts_ns": {"type": "array", "items": {"type": "integer"}},
                            "equity": {"type": "array", "items": {"type": "number"}},
                        },
                    },
                }.items()
            },
            "/commands/{command_id}": {
                "get": {
                    "summary": "Whether and when the engine acknowledged a command",
                    "parameters": [
                        {
                            "name": "command_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 0, "maximum": 10**17},
                        }
                    ],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Command"}, "the command"),
                        **_errors(404),
                    },
                }
            },
        },
    }
