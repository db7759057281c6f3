"""Leverage brackets, isolated margin and the liquidation price (Binance USD-M, one-way mode).

A bracket gives, for position notionals up to its cap, the highest leverage allowed and the
maintenance margin rate (MMR); its maintenance amount ``cum`` is what makes the maintenance
margin continuous across brackets: ``cum_i = cum_{i-1} + cap_{i-1} * (mmr_i - mmr_{i-1})``.
The isolated liquidation price of a one-way position of size Q > 0, entry E, side s (+1 long,
-1 short) and isolated wallet balance WB is the price P where the margin left equals the
maintenance margin: ``WB + s*Q*(P - E) = Q*P*MMR - cum``, i.e.
``P = (WB + cum - s*Q*E) / (Q*MMR - s*Q)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class Bracket:
    """One leverage tier: notional up to ``cap``, ``max_leverage``, ``mmr`` and its ``cum``."""

    cap: float
    max_leverage: float
    mmr: float
    cum: float


@dataclass(frozen=True, slots=True)
class PositionRisk:
    """A position's margin picture: leverage used, margin backing it, liquidation price."""

    leverage: float
    margin: float
    maintenance_margin: float
    liquidation_price: float


def brackets_from_rows(rows: Sequence[Sequence[float]]) -> tuple[Bracket, ...]:
    """Build brackets from ``(cap, max_leverage, mmr)`` rows ordered by cap, computing ``cum``."""
    out: list[Bracket] = []
    cum, prev_cap, prev_mmr = 0.0, 0.0, 0.0
    for cap, lev, mmr in rows:
        cum += prev_cap * (mmr - prev_mmr)
        out.append(Bracket(float(cap), float(lev), float(mmr), cum))
        prev_cap, prev_mmr = float(cap), float(mmr)
    return tuple(out)


@cache
def _shipped() -> Mapping[str, tuple[Bracket, ...]]:
    text = resources.files("execution.perps").joinpath("brackets.json").read_text("utf-8")
    raw = json.loads(text)
    return {sym: brackets_from_rows(rows) for sym, rows in raw.items() if not sym.startswith("_")}


def shipped_brackets(symbol: str) -> tuple[Bracket, ...]:
    """Return the shipped brackets of ``symbol`` (the "default" table for a symbol not in it)."""
    table = _shipped()
    return table.get(symbol) or table["default"]


def bracket_for(brackets: Sequence[Bracket], notional: float) -> Bracket:
    """Return the bracket a position of ``notional`` falls in (the last one beyond every cap)."""
    for b in brackets:
        if notional <= b.cap:
            return b
    return brackets[-1]


def maintenance_margin(brackets: Sequence[Bracket], notional: float) -> float:
    """Return the maintenance margin of a position of ``notional`` (quote currency)."""
    b = bracket_for(brackets, notional)
    return notional * b.mmr - b.cum


def liquidation_price(
    side_sign: int, qty: float, entry: float, wallet: float, brackets: Sequence[Bracket]
) -> float:
    """Return the price at which an isolated one-way position is liquidated (0 if none).

    ``wallet`` is the margin backing the position (isolated: its initial margin plus what
    funding added or took). The bracket is the one of the position's entry notional. A long so
    over-margined that the price would be negative has no liquidation price: 0.
    """
    if qty <= 0:
        return 0.0
    b = bracket_for(brackets, qty * entry)
    price = (wallet + b.cum - side_sign * qty * entry) / (qty * b.mmr - side_sign * qty)
    return max(price, 0.0)


def effective_leverage(wanted: float, brackets: Sequence[Bracket], notional: float) -> float:
    """Return ``wanted`` capped by the bracket's maximum for ``notional``."""
    return min(wanted, bracket_for(brackets, notional).max_leverage)
