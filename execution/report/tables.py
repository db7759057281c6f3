"""Pure breakdown tables: per symbol, per exit reason, per veto reason, buy & hold."""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from execution.report.metrics import Trade, profit_factor

_Group = tuple["array[float]", "array[float]"]  # net PnLs and fees, 8 bytes a value


def _group_row(group: _Group) -> dict[str, Any]:
    pnls, fees = group
    wins = sum(1 for p in pnls if p > 0)
    return {
        "trades": len(pnls),
        "wins": wins,
        "win_rate": wins / len(pnls) if pnls else None,
        "net_pnl": sum(pnls),
        "avg_trade": sum(pnls) / len(pnls) if pnls else None,
        "fees": sum(fees),
        "profit_factor": profit_factor(pnls),
    }


def _grouped(trades: Sequence[Trade], key: str) -> dict[str, _Group]:
    """Each group's net PnLs and fees: what a row needs, not the trades (a long run has many)."""
    groups: dict[str, _Group] = defaultdict(lambda: (array("d"), array("d")))
    for t in trades:
        pnls, fees = groups[str(getattr(t, key))]
        pnls.append(t.net_pnl)
        fees.append(t.fees)
    return groups


def per_symbol(
    trades: Sequence[Trade], buy_hold_pct: Mapping[str, float | None] | None = None
) -> dict[str, dict[str, Any]]:
    """One row per traded symbol (and per symbol with a buy & hold figure), by net PnL."""
    groups = _grouped(trades, "symbol")
    holds = dict(buy_hold_pct or {})
    rows = {
        sym: {
            **_group_row(groups.get(sym, (array("d"), array("d")))),
            "buy_hold_pct": holds.get(sym),
        }
        for sym in set(groups) | set(holds)
    }
    return dict(sorted(rows.items(), key=lambda kv: -kv[1]["net_pnl"]))


def exit_reasons(trades: Sequence[Trade]) -> dict[str, dict[str, Any]]:
    """One row per exit reason (tp, sl, signal, ...), most frequent first."""
    rows = {reason: _group_row(group) for reason, group in _grouped(trades, "exit_reason").items()}
    return dict(sorted(rows.items(), key=lambda kv: -kv[1]["trades"]))


def veto_reasons(diagnostics: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Veto counts by reason from runtime_diagnostics, with each reason's share and top symbols."""
    counters = diagnostics.get("veto_counters")
    by_reason = counters.get("by_reason") if isinstance(counters, Mapping) else None
    heatmap = diagnostics.get("heatmap")
    by_symbol = heatmap.get("by_reason_symbol") if isinstance(heatmap, Mapping) else None
    if not isinstance(by_reason, Mapping):
        return {}
    counts = {str(k): int(v) for k, v in by_reason.items() if isinstance(v, int | float)}
    total = sum(counts.values())
    rows: dict[str, dict[str, Any]] = {}
    for reason, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        symbols = by_symbol.get(reason) if isinstance(by_symbol, Mapping) else None
        top = (
            sorted(symbols.items(), key=lambda kv: -kv[1])[:3]
            if isinstance(symbols, Mapping)
            else []
        )
        rows[reason] = {
            "vetoes": count,
            "share": count / total if total else None,
            "top_symbols": {str(s): int(c) for s, c in top},
        }
    return rows


def buy_and_hold_pct(first_last: Mapping[str, tuple[float, float]]) -> dict[str, float | None]:
    """Long-only return from the first to the last close of each symbol, in percent."""
    return {
        sym: (last / first - 1.0) * 100.0 if first > 0 else None
        for sym, (first, last) in first_last.items()
    }
