"""``ost-lab secmaster ...``: command-line access to the securities master."""

from __future__ import annotations

import argparse
from typing import Any

from ost_lab import paths


def _cmd_path(args: argparse.Namespace) -> int:
    print(paths.secmaster_path())
    return 0


def add_parser(sub: Any) -> None:
    """Add the ``secmaster`` command group to the ``ost-lab`` parser."""
    parser = sub.add_parser("secmaster", help="manage the securities master")
    group = parser.add_subparsers(dest="secmaster_command", metavar="SUBCOMMAND", required=True)
    path = group.add_parser("path", help="print the securities master's path")
    path.set_defaults(func=_cmd_path)
