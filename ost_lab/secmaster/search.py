"""Instrument search for the picker: symbol prefix, description words, asset class; coverage."""

from __future__ import annotations

import sqlite3
from typing import Any

from ost_lab.secmaster.schema import RTYPE_TIMEFRAME


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(
    conn: sqlite3.Connection,
    text: str = "",
    *,
    asset_class: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Instruments whose symbol starts with ``text`` or whose description has words starting
    with every word of ``text`` (case-insensitive).

    Symbol-prefix matches rank first. Each result carries its coverage per timeframe.
    """
    where: list[str] = []
    params: list[Any] = []
    words = text.split()
    if words:
        prefix = _like(text.strip()) + "%"
        desc = " AND ".join(["(' ' || i.description) LIKE ? ESCAPE '\\'"] * len(words))
        where.append(
            "(i.symbol LIKE ? ESCAPE '\\' OR i.instrument_id IN "
            "(SELECT instrument_id FROM symbology WHERE symbol LIKE ? ESCAPE '\\') "
            f"OR ({desc}))"
        )
        params += [prefix, prefix, *(f"% {_like(w)}%" for w in words)]
        rank = "CASE WHEN i.symbol LIKE ? ESCAPE '\\' THEN 0 ELSE 1 END"
        rank_params: list[Any] = [prefix]
    else:
        rank, rank_params = "", []
    if asset_class:
        where.append("i.asset_class = ?")
        params.append(asset_class)
    sql = (
        "SELECT i.instrument_id, i.symbol, i.asset_class, i.currency, i.exchange, i.multiplier, "
        "i.tick_size, i.lot_size, i.expiry, i.description FROM instruments i "
        + (f"WHERE {' AND '.join(where)} " if where else "")
        + f"ORDER BY {rank + ', ' if rank else ''}i.symbol, i.instrument_id LIMIT ?"
    )
    rows = conn.execute(sql, [*params, *rank_params, int(limit)]).fetchall()
    out: list[dict[str, Any]] = []
    for r in rows:
        cov = conn.execute(
            "SELECT rtype, first_ts, last_ts, row_count FROM coverage WHERE instrument_id = ? "
            "ORDER BY rtype",
            (r[0],),
        ).fetchall()
        ticks = {
            t: conn.execute(
                f"SELECT count(*), min(ts_event), max(ts_event) FROM {t} WHERE instrument_id = ?",
                (r[0],),
            ).fetchone()
            for t in ("trades", "quotes")
        }
        out.append(
            {
                "instrument_id": r[0],
                "symbol": r[1],
                "asset_class": r[2],
                "currency": r[3],
                "exchange": r[4],
                "multiplier": r[5],
                "tick_size": None if r[6] is None else r[6] / 1e9,
                "lot_size": r[7],
                "expiry": r[8],
                "description": r[9],
                "coverage": {
                    RTYPE_TIMEFRAME.get(c[0], str(c[0])): {
                        "first_ts": c[1],
                        "last_ts": c[2],
                        "rows": c[3],
                    }
                    for c in cov
                }
                | {
                    t: {"first_ts": v[1], "last_ts": v[2], "rows": v[0]}
                    for t, v in ticks.items()
                    if v[0]
                },
            }
        )
    return out
