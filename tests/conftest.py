"""Shared fixtures: a real JupyterLab on loopback with throwaway config, data and runtime dirs."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
SHARED_DATA = REPO.parent / "shared" / "data"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LabServer:
    """A running ``jupyter lab`` process and how to reach it."""

    url: str
    token: str
    root: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, path: str) -> str:
        return f"{self.url}/{path.lstrip('/')}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}


def _quiet_settings(settings_dir: Path) -> None:
    """Turn off JupyterLab's news and update toasts so screenshots are clean."""
    target = settings_dir / "@jupyterlab" / "apputils-extension"
    target.mkdir(parents=True, exist_ok=True)
    (target / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


def start_lab(
    base: Path, notebooks: list[Path], extra_env: dict[str, str] | None = None
) -> LabServer:
    """Start JupyterLab on a free loopback port and wait until its API answers."""
    root = base / "root"
    root.mkdir(parents=True)
    for nb in notebooks:
        shutil.copy(nb, root / nb.name)
    for name in ("config", "data", "runtime", "settings", "workspaces"):
        (base / name).mkdir()
    _quiet_settings(base / "settings")
    token = secrets.token_hex(16)
    port = free_port()
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        OST_LAB_SECMASTER=str(base / "secmaster.sqlite"),
        OST_LAB_RUNS=str(base / "runs.sqlite"),
        BOKEH_RESOURCES="inline",
        **(extra_env or {}),
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--LabApp.expose_app_in_browser=True",
        "--ServerApp.jpserver_extensions=ost_lab=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = base / "lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    server = LabServer(url=url, token=token, root=root, env=env, process=process, log=log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited early:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(server.api("api/status"), headers=server.headers, timeout=2).ok:
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    stop_lab(server)
    raise RuntimeError(f"jupyter lab did not answer within 90 s:\n{log.read_text()[-4000:]}")


def stop_lab(server: LabServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """One JupyterLab for the session, with the example notebooks in its root."""
    server = start_lab(tmp_path_factory.mktemp("lab"), sorted(NOTEBOOKS.glob("*.ipynb")))
    yield server
    stop_lab(server)
