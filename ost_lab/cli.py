"""The ``ost-lab`` command line: start the lab, manage the securities master."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ost_lab import paths
from ost_lab._version import __version__


def _lab_command(args: argparse.Namespace) -> list[str]:
    """The ``jupyter lab`` command for ``ost-lab lab``: loopback only, the ost_lab extension on."""
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.ip={args.ip}",
        f"--ServerApp.port={args.port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={args.notebook_dir.resolve()}",
        "--ServerApp.jpserver_extensions=ost_lab=True",
    ]
    if not args.browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd


def _cmd_lab(args: argparse.Namespace) -> int:
    from ost_lab.secmaster.demo import ensure_demo_secmaster

    secmaster = paths.secmaster_path()
    if ensure_demo_secmaster(secmaster):
        print(f"ost_lab: created the demo securities master at {secmaster}", flush=True)
    else:
        print(f"ost_lab: securities master {secmaster}", flush=True)
    if not args.notebook_dir.is_dir():
        print(f"ost-lab lab: no such folder: {args.notebook_dir}", file=sys.stderr)
        return 2
    cmd = _lab_command(args)
    print(f"ost_lab: starting JupyterLab on http://{args.ip}:{args.port}/lab", flush=True)
    env = dict(os.environ, OST_LAB_SECMASTER=str(secmaster), BOKEH_RESOURCES="inline")
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ost-lab", description="ost_lab: a Jupyter-native trading lab."
    )
    parser.add_argument("--version", action="version", version=f"ost_lab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    lab = sub.add_parser("lab", help="start JupyterLab with the ost_lab extension on 127.0.0.1")
    lab.add_argument("--ip", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    lab.add_argument("--port", type=int, default=8888, help="port (default: 8888)")
    lab.add_argument(
        "--notebook-dir",
        type=Path,
        default=Path("notebooks") if Path("notebooks").is_dir() else Path("."),
        help="folder to open (default: ./notebooks if present)",
    )
    lab.add_argument("--browser", action="store_true", help="open a web browser")
    lab.set_defaults(func=_cmd_lab)

    from ost_lab.secmaster import cli as secmaster_cli

    secmaster_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
