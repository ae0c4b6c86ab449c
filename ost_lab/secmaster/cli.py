"""``ost-lab secmaster ...``: command-line access to the securities master."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ost_lab import paths


def _db_path(args: argparse.Namespace) -> Path:
    return Path(args.db) if getattr(args, "db", None) else paths.secmaster_path()


def _cmd_path(args: argparse.Namespace) -> int:
    print(_db_path(args))
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from ost_lab.secmaster.errors import SecmasterError
    from ost_lab.secmaster.reader import Secmaster

    failed = 0
    with Secmaster(_db_path(args)) as sm:
        for p in args.paths:
            try:
                if args.csv_symbol or (p.lower().endswith(".csv") and args.generic):
                    rep = sm.ingest_csv(
                        p,
                        args.csv_symbol or Path(p).stem.upper(),
                        timeframe=args.timeframe,
                        tz=args.tz,
                        price_scale=args.price_scale,
                    )
                else:
                    rep = sm.ingest(p, progress=None if args.progress else False)
            except SecmasterError as exc:
                print(f"error: {exc}", file=sys.stderr)
                failed += 1
                continue
            ign = f", ignored {rep.ignored}" if rep.ignored else ""
            print(
                f"{p}: {rep.records} records -> {rep.bars} new bars, {rep.trades} trades, "
                f"{rep.quotes} quotes, {rep.instruments} instrument definitions{ign}"
            )
    return 1 if failed else 0


def _cmd_info(args: argparse.Namespace) -> int:
    from ost_lab.secmaster.reader import Secmaster

    path = _db_path(args)
    if not path.exists():
        print(f"no securities master at {path}", file=sys.stderr)
        return 1
    with Secmaster(path, readonly=True) as sm:
        for k, v in sm.info().items():
            print(f"{k:>15}: {v}")
    return 0


def _fmt_ts(ns: int) -> str:
    import pandas as pd

    return str(pd.Timestamp(ns, unit="ns", tz="UTC"))[:19]


def _cmd_search(args: argparse.Namespace) -> int:
    from ost_lab.secmaster.reader import Secmaster

    with Secmaster(_db_path(args), readonly=True) as sm:
        results = sm.search(" ".join(args.text), asset_class=args.asset_class, limit=args.limit)
    for r in results:
        cov = "; ".join(
            f"{k} {v['rows']} rows {_fmt_ts(v['first_ts'])}..{_fmt_ts(v['last_ts'])}"
            for k, v in r["coverage"].items()
        )
        print(f"{r['instrument_id']:>12} {r['symbol']:<10} {r['asset_class']:<8} "
              f"{r['description'][:40]:<40} {cov}")  # fmt: skip
    return 0 if results else 1


def _cmd_compact(args: argparse.Namespace) -> int:
    from ost_lab.secmaster.reader import Secmaster

    with Secmaster(_db_path(args)) as sm:
        saved = sm.compact()
    print(f"compacted {sm.path}: {saved:,} bytes saved")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ost_lab.secmaster.demo import ensure_demo_secmaster

    path = _db_path(args)
    if ensure_demo_secmaster(path):
        print(f"created the demo securities master at {path}")
        return 0
    print(f"{path} already exists; not overwritten", file=sys.stderr)
    return 1


def add_parser(sub: Any) -> None:
    """Add the ``secmaster`` command group to the ``ost-lab`` parser."""
    parser = sub.add_parser("secmaster", help="manage the securities master")
    parser.add_argument("--db", help="secmaster file (default: $OST_LAB_SECMASTER or data dir)")
    group = parser.add_subparsers(dest="secmaster_command", metavar="SUBCOMMAND", required=True)
    path = group.add_parser("path", help="print the securities master's path")
    path.set_defaults(func=_cmd_path)

    ingest = group.add_parser(
        "ingest", help="ingest DBN files (.dbn, .dbn.zst), batch folders/zips, Yahoo CSVs"
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.add_argument("--progress", action="store_true", help="always show a progress bar")
    ingest.add_argument("--generic", action="store_true", help="read .csv as generic OHLCV")
    ingest.add_argument("--csv-symbol", help="symbol for generic CSV input")
    ingest.add_argument("--timeframe", default="1m", help="generic CSV bar size (default 1m)")
    ingest.add_argument("--tz", default="UTC", help="time zone of naive CSV timestamps")
    ingest.add_argument("--price-scale", default="1", help="multiply CSV prices by this")
    ingest.set_defaults(func=_cmd_ingest)

    info = group.add_parser("info", help="counts and versions")
    info.set_defaults(func=_cmd_info)

    search = group.add_parser("search", help="find instruments by symbol prefix or description")
    search.add_argument("text", nargs="*", default=[])
    search.add_argument("--asset-class", help="equity, future, fx, option ...")
    search.add_argument("--limit", type=int, default=50)
    search.set_defaults(func=_cmd_search)

    compact = group.add_parser("compact", help="rewrite the file with full pages (VACUUM)")
    compact.set_defaults(func=_cmd_compact)

    demo = group.add_parser("demo", help="build the demo securities master if none exists")
    demo.set_defaults(func=_cmd_demo)
