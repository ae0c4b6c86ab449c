"""The per-bar loop of an array replay, written out for each run.

``Engine._run_arrays`` runs steps 2-7 of the engine loop (see :mod:`ost_lab.core.engine`) for
every bar of an :class:`~ost_lab.core.array_feed.ArrayFeed`. In Python every statement of that
loop costs on every bar, so the loop is generated for the run at hand (as ``dataclasses``
writes ``__init__``): a single-symbol feed has its symbol as a constant, each strategy's
history, hooks and indicators are named directly instead of looked up and unpacked per bar,
and branches that cannot be taken in this run (the risk engine watching equity, a watchdog,
indicators fed bar by bar) are left out. One template, so every run takes the same steps in the
same order; only what a run cannot need is missing from its loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ost_lab.core.events import Bar

__all__ = ["BarLoop", "Subscriber", "make_bar_loop"]

#: One strategy's view of one symbol: ``(on_bar, history, bars before the first on_bar minus
#: one, indicators with their values for the run, indicators fed per bar)``.
Subscriber = tuple[
    Callable[[Bar], None], Any, int, list[tuple[Any, Any]], list[tuple[Any, tuple[str, ...]]]
]
#: ``loop(bars, n) -> (events done, stopped)``: runs the bars of one chunk; ``n`` is the index
#: of its first bar; ``stopped`` when the run control asked to stop before a bar.
BarLoop = Callable[[Iterable[Bar], int], tuple[int, bool]]


def make_bar_loop(
    engine: Any,
    subs: Mapping[str, Sequence[Subscriber]],
    single: str | None,
    *,
    working: Any,
    latest: dict[str, Any],
    match: Callable[[Any], None],
    queue: list[Any],
    per_bar: bool,
) -> BarLoop:
    """The loop for one run of ``engine`` (see the module docstring).

    ``subs``: the subscribers of each symbol; ``single``: the feed's one symbol, or None;
    ``working``/``latest``/``match``: the broker's idle shortcut (match while ``working``);
    ``queue``: the broker's live event queue; ``per_bar``: the risk engine watches equity."""
    env: dict[str, Any] = {
        "self": engine,
        "ctl": engine.control,
        "drain": engine._drain,
        "local": engine._local,
        "queue": queue,
        "working": working,
        "latest": latest,
        "match": match,
        "marks": engine.portfolio.marks,
        "pf": engine.portfolio,
        "risk": engine.risk,
        "wd": engine.watchdog,
        "subs": subs,
        "SYM": single,
    }
    watched = engine.watchdog is not None
    sym = "SYM" if single is not None else "sym"
    body = [
        "if ctl.cancel_requested or ctl.stop_requested:",
        "    return n, True",
        "self._cursor = n",
    ]
    if single is None:
        body.append("sym = bar.symbol")
    body += [
        f"latest[{sym}] = bar",
        "if working:",
        "    match(bar)",
        "if local or queue:",
        "    if bar.ts_open > self.now:",
        "        self.now = bar.ts_open",
        "    drain()",
        "ts = self.now = bar.ts",
        f"marks[{sym}] = bar.close",
    ]
    if per_bar:
        body.append("risk.on_equity(ts, pf.equity())")
    if watched:
        body.append("paused = wd.paused")
    not_paused = " and not paused" if watched else ""
    if single is not None:  # each subscriber written out, its parts named directly
        for j, (on_bar, h, last_warmup, whole, each) in enumerate(subs[single]):
            env[f"on_bar{j}"], env[f"h{j}"], env[f"each{j}"] = on_bar, h, each
            body += [f"k = h{j}._n", f"h{j}._n = k + 1"]
            for i, (ind, values) in enumerate(whole):
                env[f"ind{j}_{i}"], env[f"values{j}_{i}"] = ind, values
                body.append(f"ind{j}_{i}.value = values{j}_{i}[k]")
            if each:
                body += [
                    f"for ind, fields in each{j}:",
                    "    ind.update(*[getattr(bar, f) for f in fields])",
                ]
            hook = [f"on_bar{j}(bar)", "if local or queue:", "    drain()"]
            if last_warmup >= 0 or watched:  # else the hook runs on every bar
                cond = f"k >= {int(last_warmup)}{not_paused}"
                hook = [f"if {cond}:"] + [f"    {line}" for line in hook]
            body += hook
    else:
        body += [
            "for on_bar, h, last_warmup, whole, each in subs[sym]:",
            "    k = h._n",
            "    h._n = k + 1",
            "    if whole:",
            "        for ind, values in whole:",
            "            ind.value = values[k]",
            "    if each:",
            "        for ind, fields in each:",
            "            ind.update(*[getattr(bar, f) for f in fields])",
            f"    if k >= last_warmup{not_paused}:",
            "        on_bar(bar)",
            "        if local or queue:",
            "            drain()",
        ]
    if per_bar:
        body.append("risk.on_equity(ts, pf.record(ts))")
    body.append("n += 1")
    # everything the loop reads is a default of its own (a local: the cheapest load)
    names = ", ".join(f"{name}={name}" for name in env)
    src = f"def loop(bars, n, *, {names}):\n    for bar in bars:\n"
    src += "".join(f"        {line}\n" for line in body)
    src += "    return n, False\n"
    exec(compile(src, "<ost_lab bar loop>", "exec"), env)  # built above from fixed lines only
    loop: BarLoop = env["loop"]
    return loop
