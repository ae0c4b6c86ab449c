"""The benchmark table: targets, aims and information rows."""

from __future__ import annotations

from benchmarks.table import Row, format_table


def test_targets_and_aims_are_shown_apart() -> None:
    rows = [
        Row("replay", "bars/s", 300.0, "bars/s", "peer", 100.0, target=5.0),
        Row("replay", "bars/s", 300.0, "bars/s", "loop", 1000.0, target=0.5, aim=True),
        Row("load", "seconds", 1.0, "s", "limit", 2.0, higher_is_better=False, target=1.0),
        Row("replay", "bars/s", 300.0, "bars/s", "other", 150.0),
    ]
    lines = format_table(rows).splitlines()[2:]
    assert lines[0].endswith("| 3.00x | >= 5x | NO |")
    assert lines[1].endswith("| 0.30x | aim >= 0.5x | NO |")
    assert lines[2].endswith("| 2.00x | >= 1x | yes |")
    assert lines[3].endswith("| 2.00x | - | - |")
    assert [r.met for r in rows] == [False, False, True, True]
