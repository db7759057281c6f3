"""Pure verdict on exit-pipeline health: are open positions protected and is anyone scanning?

Spec §6.2: 🟠/🔴 when ``underwater_without_tp_sl_count > 0`` or when the last exit scan is
very old while positions are open; green otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard.coerce import as_count, as_dict, as_float, as_str, parse_ts
from dashboard.formatting import format_age

GREEN = "green"
ORANGE = "orange"
RED = "red"
UNKNOWN = "unknown"
ICONS = {GREEN: "🟢", ORANGE: "🟠", RED: "🔴", UNKNOWN: "⚪"}

# A scan older than this many stale-thresholds is no longer "late", it is dead.
RED_STALE_MULTIPLE = 3.0


@dataclass(frozen=True)
class ExitPipelineCounts:
    """The spec §5.1 exit_pipeline block, coerced."""

    open_positions: int
    tp_sl_registered: int
    tp_sl_missing: int
    underwater_without_tp_sl: int
    last_exit_scan_ts: str | None
    last_exit_trigger_ts: str | None


@dataclass(frozen=True)
class ExitHealth:
    """Traffic light plus the reasons behind it, worst first."""

    level: str
    reasons: tuple[str, ...]
    scan_age_seconds: float | None
    trigger_age_seconds: float | None

    @property
    def icon(self) -> str:
        return ICONS[self.level]

    def headline(self) -> str:
        """One sentence without the icon (the callout shows :attr:`icon` itself)."""
        if self.level == GREEN:
            return "Exit pipeline healthy: every open position has TP/SL"
        if self.level == UNKNOWN:
            return f"Exit pipeline status unknown: {'; '.join(self.reasons)}"
        return f"Exit pipeline needs attention: {'; '.join(self.reasons)}"


def exit_counts(exit_pipeline: Any) -> ExitPipelineCounts:
    """Coerce the exit_pipeline block (bad values count as 0 / unknown)."""
    ep = as_dict(exit_pipeline)
    return ExitPipelineCounts(
        open_positions=as_count(ep.get("open_positions_count")),
        tp_sl_registered=as_count(ep.get("tp_sl_registered_count")),
        tp_sl_missing=as_count(ep.get("tp_sl_missing_count")),
        underwater_without_tp_sl=as_count(ep.get("underwater_without_tp_sl_count")),
        last_exit_scan_ts=as_str(ep.get("last_exit_scan_ts")),
        last_exit_trigger_ts=as_str(ep.get("last_exit_trigger_ts")),
    )


def _age(ts: str | None, reference: float) -> float | None:
    parsed = parse_ts(ts)
    return None if parsed is None else max(0.0, reference - parsed)


def _scan_findings(
    counts: ExitPipelineCounts, scan_age: float | None, stale_seconds: float
) -> list[tuple[str, str]]:
    if counts.open_positions == 0:
        return []
    if scan_age is None:
        return [(RED, f"{counts.open_positions} open position(s) and no exit scan recorded")]
    if scan_age > stale_seconds * RED_STALE_MULTIPLE:
        return [(RED, f"last exit scan {format_age(scan_age)} ago with positions open")]
    if scan_age > stale_seconds:
        limit = format_age(stale_seconds)
        return [(ORANGE, f"last exit scan {format_age(scan_age)} ago (limit {limit})")]
    return []


def exit_health(exit_pipeline: Any, reference: float, stale_seconds: float) -> ExitHealth:
    """Classify the exit pipeline: red / orange / green, or unknown without data."""
    block = as_dict(exit_pipeline)
    if not block:
        return ExitHealth(UNKNOWN, ("no exit_pipeline block in intel.json",), None, None)
    counts = exit_counts(block)
    scan_age = _age(counts.last_exit_scan_ts, reference)
    findings: list[tuple[str, str]] = []
    if counts.underwater_without_tp_sl:
        n = counts.underwater_without_tp_sl
        findings.append((RED, f"{n} underwater position(s) without TP/SL"))
    findings.extend(_scan_findings(counts, scan_age, stale_seconds))
    if counts.tp_sl_missing:
        findings.append((ORANGE, f"{counts.tp_sl_missing} open position(s) missing TP/SL"))
    findings.sort(key=lambda f: f[0] != RED)
    levels = {level for level, _ in findings}
    level = RED if RED in levels else ORANGE if ORANGE in levels else GREEN
    trigger_age = _age(counts.last_exit_trigger_ts, reference)
    return ExitHealth(level, tuple(text for _, text in findings), scan_age, trigger_age)


def unprotected_symbols(ledger: Any, registry: Any) -> list[str]:
    """Symbols open in the ledger with no complete TP/SL entry in the registry."""
    entries = as_dict(as_dict(registry).get("entries"))
    missing = []
    for symbol in as_dict(as_dict(ledger).get("positions")):
        entry = as_dict(entries.get(symbol))
        if as_float(entry.get("tp_price")) is None or as_float(entry.get("sl_price")) is None:
            missing.append(str(symbol))
    return sorted(missing)
