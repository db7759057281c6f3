"""The margin columns of positions_state.json and the "liquidated before its stop" count."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from execution.perps.margin import PositionRisk


def liquidation_distance(side: str, mark: float, liq: float) -> float | None:
    """Return how far the mark may move against the position before liquidation, as a
    fraction of the mark (0.08 = 8 %); None without a mark or a liquidation price."""
    if mark <= 0 or liq <= 0:
        return None
    return (mark - liq) / mark if side == "long" else (liq - mark) / mark


def liquidated_before_stop(side: str, liq: float, sl: float | None) -> bool:
    """Return True if the liquidation price is reached before the stop (or there is no stop)."""
    if liq <= 0:
        return False
    if sl is None:
        return True
    return sl <= liq if side == "long" else sl >= liq


def add_margin_columns(
    rows: list[dict[str, Any]], risk: Mapping[str, PositionRisk], funding: Mapping[str, float]
) -> int:
    """Add ``leverage``, ``margin``, ``liquidation_price``, ``liquidation_distance_pct`` and
    ``funding`` to each position row (None where the venue does not say); return how many
    positions would be liquidated before their stop."""
    exposed = 0
    for row in rows:
        r = risk.get(row["symbol"])
        liq = r.liquidation_price if r is not None and r.liquidation_price > 0 else None
        row["leverage"] = r.leverage if r is not None else None
        row["margin"] = r.margin if r is not None else None
        row["liquidation_price"] = liq
        row["liquidation_distance_pct"] = (
            liquidation_distance(row["side"], row["mark_price"], liq) if liq else None
        )
        row["funding"] = funding.get(row["symbol"], 0.0)
        if liq and liquidated_before_stop(row["side"], liq, row.get("sl_price")):
            exposed += 1
    return exposed
