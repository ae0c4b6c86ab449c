"""One row of the benchmark table and its Markdown rendering."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """A measurement next to a baseline measured in the same run.

    ``ratio`` is how many times better the measurement is than the baseline (higher is better,
    whatever the unit); ``target`` is the ratio the project promises, or None for information only;
    with ``aim`` the ratio is one the project aims for without promising it (shown and counted
    apart from the targets).
    """

    benchmark: str
    measure: str
    value: float
    unit: str
    baseline: str
    baseline_value: float
    higher_is_better: bool = True
    target: float | None = None
    aim: bool = False

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.value / self.baseline_value if self.baseline_value else float("inf")
        return self.baseline_value / self.value if self.value else float("inf")

    @property
    def met(self) -> bool:
        return self.target is None or self.ratio >= self.target


def _fmt(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:,.2f}"
    return f"{x:.3g}"


def format_table(rows: list[Row]) -> str:
    """The rows as a Markdown table, ready to paste into docs/benchmarks.md."""
    head = "| benchmark | measure | value | baseline | baseline value | ratio | target | met |"
    sep = "|---|---|---:|---|---:|---:|---:|:-:|"
    lines = [head, sep]
    for r in rows:
        target = f">= {r.target:g}x" if r.target is not None else "-"
        if r.aim and r.target is not None:
            target = "aim " + target
        met = "-" if r.target is None else ("yes" if r.met else "NO")
        lines.append(
            f"| {r.benchmark} | {r.measure} | {_fmt(r.value)} {r.unit} | {r.baseline} | "
            f"{_fmt(r.baseline_value)} {r.unit} | {r.ratio:.2f}x | {target} | {met} |"
        )
    return "\n".join(lines)
