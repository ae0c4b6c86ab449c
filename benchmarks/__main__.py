"""Run every ``benchmarks/bench_*.py`` module and print one table.

Each module exposes ``run(quick: bool) -> list[Row]``. A row compares a measurement against a
baseline measured in the same run, so ratios hold on any machine. Usage::

    python -m benchmarks            # everything, full size
    python -m benchmarks --quick    # small sizes, a smoke run
    python -m benchmarks secmaster  # only modules whose name contains "secmaster"
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from benchmarks.table import Row, format_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("only", nargs="*", help="run modules whose name contains one of these")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    args = parser.parse_args(argv)
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if any(o in n for o in args.only)]
    if not names:
        print("no benchmark modules matched", file=sys.stderr)
        return 2
    rows: list[Row] = []
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(module.run(quick=args.quick))
    print(format_table(rows))
    failed = [r for r in rows if r.target is not None and not r.met and not r.aim]
    missed = [r for r in rows if r.target is not None and not r.met and r.aim]
    if failed:
        print(f"\n{len(failed)} target(s) not met", file=sys.stderr)
    if missed:
        print(f"\n{len(missed)} aim(s) not reached", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
