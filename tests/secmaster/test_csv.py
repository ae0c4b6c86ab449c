"""CSV and DataFrame ingestion: exact values, idempotency, atomic rejection of bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ost_lab.secmaster import IngestError, Secmaster, ingest_csv, ingest_yahoo_csv
from tests.secmaster.conftest import dump

YAHOO = """Date,Open,High,Low,Close,Adj Close,Volume
2024-01-02,187.149994,188.440002,183.889999,185.639999,184.938217,82488700
2024-01-03,184.220001,185.880005,183.429993,184.250000,183.553467,58414500
2024-01-04,null,null,null,null,null,null
2024-01-05,181.990005,182.759995,180.169998,181.179993,180.495071,62303300
"""

GENERIC = """time;px_o;px_h;px_l;px_c;qty
2024-03-08 09:30;10050;10075;10000;10060;1200
2024-03-08 09:31;10060;10090;10055;10090;900
2024-03-11 09:30;10100;10120;10080;10110;1500
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_yahoo_csv_exact_and_idempotent(sm: Secmaster, tmp_path: Path) -> None:
    p = _write(tmp_path, "aapl.csv", YAHOO)
    rep = ingest_yahoo_csv(sm, p, "AAPL")
    assert rep.bars == 3
    b = sm.bars("AAPL", "1d", exact=True)
    assert b.open.tolist() == [187_149_994_000, 184_220_001_000, 181_990_005_000]
    assert b.close.tolist() == [185_639_999_000, 184_250_000_000, 181_179_993_000]
    assert b.volume.tolist() == [82488700, 58414500, 62303300]
    df = b.to_pandas()
    assert str(df.index.tz) == "UTC"
    assert list(df.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03", "2024-01-05"]
    before = dump(sm)
    version = sm.data_version
    assert ingest_yahoo_csv(sm, p, "AAPL").bars == 0
    assert dump(sm) == before and sm.data_version == version
    # Secmaster.ingest picks Yahoo for .csv, symbol from the file name
    assert sm.ingest(p).bars == 0


def test_generic_csv_mapping_timezone_scale(sm: Secmaster, tmp_path: Path) -> None:
    p = _write(tmp_path, "fut.csv", GENERIC)
    ingest_csv(
        sm, p, "FUT", timeframe="1m", delimiter=";", tz="America/New_York", price_scale="0.01",
        columns={"ts": "time", "open": "px_o", "high": "px_h", "low": "px_l", "close": "px_c",
                 "volume": "qty"},
        instrument={"asset_class": "future", "multiplier": 50.0, "description": "test future"},
    )  # fmt: skip
    b = sm.bars("FUT", "1m", exact=True)
    # 09:30 New York is 14:30 UTC before the DST switch (2024-03-10) and 13:30 after
    expect = pd.to_datetime(["2024-03-08 14:30", "2024-03-08 14:31", "2024-03-11 13:30"], utc=True)
    assert b.ts.tolist() == expect.as_unit("ns").asi8.tolist()
    assert b.open.tolist() == [100_500_000_000, 100_600_000_000, 101_000_000_000]
    hit = sm.search("test fut")[0]
    assert hit["asset_class"] == "future" and hit["multiplier"] == 50.0
    assert hit["coverage"]["1m"]["rows"] == 3


@pytest.mark.parametrize(
    "line,pattern",
    [
        ("2024-01-08,185.0,18x6.0,184.0,185.5,185.5,100", r"line 3\).*bad number '18x6.0'"),
        ("2024-01-08,185.0,184.0,186.0,185.5,185.5,100", r"line 3\).*high < low"),
        ("2024-01-08,185.0,186.0,184.0,185.5,185.5,-5", r"line 3\).*negative volume"),
        ("2024-13-45,185.0,186.0,184.0,185.5,185.5,100", r"line 3\).*bad timestamp"),
        ("2024-01-09,1.1,2.0,0.5,1.5,1.5,10", r"line 3\).*two bars .* different values"),
        ("2024-01-02,187.0,188.0,183.0,185.0,185.0,100", r"line 3\).*differs from the stored"),
        ("2024-01-08,185.0,186.0", r"line 3\).*fields"),
    ],
)
def test_bad_csv_rejected_atomically(
    sm: Secmaster, tmp_path: Path, line: str, pattern: str
) -> None:
    good = _write(tmp_path, "good.csv", YAHOO)
    ingest_yahoo_csv(sm, good, "AAPL")
    before = dump(sm)
    header, _first = YAHOO.splitlines()[:2]
    bad = _write(tmp_path, "bad.csv", f"{header}\n2024-01-09,1.0,2.0,0.5,1.5,1.5,10\n{line}\n")
    with pytest.raises(IngestError, match=pattern) as info:
        ingest_yahoo_csv(sm, bad, "AAPL")
    assert str(bad) in str(info.value)
    assert dump(sm) == before  # zero rows of the bad file, including its good first row
    ingest_yahoo_csv(sm, good, "AAPL")  # database still usable
    assert len(sm.bars("AAPL", "1d")) == 3


def test_duplicate_against_stored_with_different_values(sm: Secmaster, tmp_path: Path) -> None:
    ingest_yahoo_csv(sm, _write(tmp_path, "a.csv", YAHOO), "AAPL")
    changed = YAHOO.replace("185.639999", "185.649999")
    with pytest.raises(IngestError, match=r"line 2\).*differs from the stored bar"):
        ingest_yahoo_csv(sm, _write(tmp_path, "b.csv", changed), "AAPL")
    assert sm.bars("AAPL", "1d", exact=True).close[0] == 185_639_999_000


def test_identical_duplicates_within_file_are_merged(sm: Secmaster, tmp_path: Path) -> None:
    lines = YAHOO.splitlines()
    p = _write(tmp_path, "d.csv", "\n".join([*lines, lines[1]]) + "\n")
    assert ingest_yahoo_csv(sm, p, "AAPL").bars == 3


def test_dataframe_roundtrip_and_errors(sm: Secmaster) -> None:
    idx = pd.date_range("2024-05-01 09:30", periods=4, freq="1min")  # naive: New York
    df = pd.DataFrame(
        {"Open": [1.5, 1.6, 1.7, 1.8], "High": [1.7, 1.8, 1.9, 2.0], "Low": [1.4, 1.5, 1.6, 1.7],
         "Close": [1.6, 1.7, 1.8, 1.9], "Volume": [10, 20, 30, 40]}, index=idx,
    )  # fmt: skip
    assert sm.ingest_dataframe(df, "XYZ", tz="America/New_York").bars == 4
    out = sm.bars("XYZ", "1m").to_pandas("America/New_York")
    assert (out.index.tz_localize(None) == idx).all()
    np.testing.assert_array_equal(out["close"].to_numpy(), df["Close"].to_numpy())
    assert sm.bars("XYZ", "1m", exact=True).open.tolist() == [
        1_500_000_000,
        1_600_000_000,
        1_700_000_000,
        1_800_000_000,
    ]
    bad = df.copy()
    bad.iloc[2, 1] = np.nan
    with pytest.raises(IngestError, match=r"row 2 .*missing or non-numeric high"):
        sm.ingest_dataframe(bad, "XYZ2", tz="America/New_York")
    assert sm.search("XYZ2") == []  # the instrument was not created either
    with pytest.raises(IngestError, match="DatetimeIndex"):
        sm.ingest_dataframe(df.reset_index(), "XYZ3")


def test_package_functions_survive_submodule_imports(tmp_path: Path) -> None:
    import importlib

    import ost_lab.secmaster as pkg

    for name in ("dbn_ingest", "csv_ingest", "reader", "demo"):
        importlib.import_module(f"ost_lab.secmaster.{name}")
    for fn in ("ingest_dbn", "ingest_csv", "ingest_yahoo_csv", "ingest_dataframe"):
        assert callable(getattr(pkg, fn)), fn
    p = _write(tmp_path, "a.csv", YAHOO)
    assert pkg.ingest_yahoo_csv(tmp_path / "s.sqlite", p, "A").bars == 3


def test_number_forms(sm: Secmaster, tmp_path: Path) -> None:
    text = (
        "ts,open,high,low,close,volume\n"
        "0,1.5e2,150.0000000004,+149.9999999996,150,1e3\n"
        "60,.5,0.75,0.25,0.5000000005,0\n"
    )
    ingest_csv(sm, _write(tmp_path, "n.csv", text), "N", ts_unit="s")
    b = sm.bars("N", "1m", exact=True)
    assert b.open.tolist() == [150_000_000_000, 500_000_000]
    assert b.high.tolist() == [150_000_000_000, 750_000_000]  # 0.4e-9 rounds half-even down
    assert b.low.tolist() == [150_000_000_000, 250_000_000]
    assert b.close.tolist() == [150_000_000_000, 500_000_000]  # 0.5e-9 -> even
    assert b.volume.tolist() == [1000, 0]
