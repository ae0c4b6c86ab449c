"""Shared fixtures: the Databento test files, a fresh secmaster, the demo secmaster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import databento_dbn as dbn
import pytest

from ost_lab.secmaster import Secmaster
from ost_lab.secmaster.demo import build_demo

DBN_DIR = Path(__file__).resolve().parents[2].parent / "shared/data/dbn"
DBN_FILES = sorted(p for p in DBN_DIR.glob("*.dbn*")) if DBN_DIR.is_dir() else []


def decode(path: Path) -> list[Any]:
    """Records of a DBN file as databento-dbn decodes them (metadata first), independently."""
    comp = dbn.Compression.ZSTD if path.name.endswith(".zst") else dbn.Compression.NONE
    dec = dbn.DBNDecoder(compression=comp, upgrade_policy=dbn.VersionUpgradePolicy.UPGRADE_TO_V3)
    dec.write(path.read_bytes())
    return list(dec.decode())


@pytest.fixture
def sm(tmp_path: Path) -> Iterator[Secmaster]:
    with Secmaster(tmp_path / "sm.sqlite") as s:
        yield s


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    build_demo(path)
    return path


def dump(s: Secmaster) -> dict[str, list[Any]]:
    """Every user table's rows, for before/after comparisons."""
    tables = [
        "publishers", "instruments", "symbology", "ohlcv", "ohlcv_chunks", "coverage",
        "trades", "quotes",
    ]  # fmt: skip
    return {t: s.conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3").fetchall() for t in tables}
