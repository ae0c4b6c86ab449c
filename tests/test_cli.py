"""The ``ost-lab`` command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ost_lab import cli


def test_help_lists_the_commands():
    out = subprocess.run(
        [sys.executable, "-m", "ost_lab.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "lab" in out and "secmaster" in out


def test_console_script_is_installed():
    exe = Path(sys.executable).with_name("ost-lab")
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith("ost_lab ")


def test_lab_binds_loopback_and_enables_the_extension(tmp_path):
    args = cli.build_parser().parse_args(["lab", "--port", "9123", "--notebook-dir", str(tmp_path)])
    cmd = cli._lab_command(args)
    assert "--ServerApp.ip=127.0.0.1" in cmd
    assert "--ServerApp.port=9123" in cmd
    assert "--ServerApp.port_retries=0" in cmd
    assert f"--ServerApp.root_dir={tmp_path.resolve()}" in cmd
    assert "--ServerApp.jpserver_extensions=ost_lab=True" in cmd
    assert "--no-browser" in cmd


def test_lab_refuses_a_missing_notebook_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OST_LAB_SECMASTER", str(tmp_path / "sm.sqlite"))
    monkeypatch.setattr(cli, "_lab_command", lambda args: pytest.fail("must not start"))
    code = cli.main(["lab", "--notebook-dir", str(tmp_path / "missing")])
    assert code == 2
    assert "no such folder" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error():
    result = subprocess.run(
        [sys.executable, "-m", "ost_lab.cli", "frobnicate"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
