"""Root cause of the vetoes, and each reason's observed value against its limit.

The decision of the engine is the first failing check in the documented order; the root cause
the operator needs is the check that blocks most signals *on its own*. With
``runtime_diagnostics.veto_causes`` (every failing check recorded) a sole blocker beats a
co-blocker; without it the first-failing counts (``by_reason``) are all there is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from doctor.model import as_dict, as_list, count, dig, num
from execution.clock import from_iso, to_iso

# The engine's documented check order (execution.risk_limits.CHECK_ORDER): the last tie-break.
CHECK_ORDER = (
    "trading_halted", "tier_block", "stale_mark", "cooldown", "min_notional",
    "per_trade_nav_pct", "max_concurrent", "symbol_cap", "portfolio_dd_circuit",
    "var_limit", "cvar_limit",
)  # fmt: skip


@dataclass(frozen=True)
class VetoSample:
    """The signals the answer is measured on: the recent window, or everything since start."""

    source: str  # "window" | "since start"
    signals: int
    vetoes: int
    orders: int
    first_failing: Mapping[str, int]
    sole: Mapping[str, int]
    all_failing: Mapping[str, int]

    @property
    def has_causes(self) -> bool:
        return bool(self.all_failing)


def _flat(counts: object) -> dict[str, int]:
    return {str(k): count(v) for k, v in as_dict(counts).items() if count(v) > 0}


def _by_reason(nested: object) -> dict[str, int]:
    """{reason: {symbol: n}} summed over symbols."""
    out = {
        str(r): sum(count(n) for n in as_dict(per).values()) for r, per in as_dict(nested).items()
    }
    return {r: n for r, n in out.items() if n > 0}


def veto_sample(diag: Mapping[str, Any], min_signals: int) -> VetoSample:
    """The window when it holds at least ``min_signals`` signals, else the since-start counts.

    A window of 4 signals says nothing about a run that vetoed 1,679 of 1,770.
    """
    causes = as_dict(diag.get("veto_causes"))
    window = as_dict(diag.get("window"))
    if count(window.get("signals")) >= max(1, min_signals):
        wc = as_dict(causes.get("window"))
        return VetoSample(
            "window", count(window.get("signals")), count(window.get("vetoes")),
            count(window.get("orders")), _flat(window.get("by_reason")),
            _flat(wc.get("sole")), _flat(wc.get("all_failing")),
        )  # fmt: skip
    vc, acc = as_dict(diag.get("veto_counters")), as_dict(diag.get("accounting"))
    return VetoSample(
        "since start", count(vc.get("total_signals")), count(vc.get("total_vetoes")),
        count(acc.get("entry_orders")), _flat(vc.get("by_reason")),
        _by_reason(causes.get("sole")), _by_reason(causes.get("all_failing")),
    )  # fmt: skip


def root_cause(sample: VetoSample) -> str | None:
    """The reason that blocks most signals on its own; None without vetoes.

    Ranked by signals it alone blocked, then signals it failed at all, then first-failing
    count, then the documented order (an earlier check is the cheaper one to act on).
    """
    reasons = set(sample.first_failing) | set(sample.all_failing)
    if not reasons:
        return None

    def key(reason: str) -> tuple[int, int, int, int]:
        order = CHECK_ORDER.index(reason) if reason in CHECK_ORDER else len(CHECK_ORDER)
        return (
            sample.sole.get(reason, 0),
            sample.all_failing.get(reason, 0),
            sample.first_failing.get(reason, 0),
            -order,
        )

    return max(reasons, key=key)


def exact_pcts(value: float, limit: float) -> tuple[str, str]:
    """Format two fractions as percentages with enough decimals to keep their order visible.

    7.97 % under an 8 % limit prints "7.97%" vs "8.00%", never "8.0%" vs "8.0%".
    """
    for decimals in range(2, 7):
        a, b = f"{100 * value:.{decimals}f}", f"{100 * limit:.{decimals}f}"
        if (a == b) == (value == limit) and (float(a) < float(b)) == (value < limit):
            return a + "%", b + "%"
    return f"{100 * value!r}%", f"{100 * limit!r}%"


def gated(diag: Mapping[str, Any]) -> dict[str, list[str]]:
    """Per symbol, the gating flags published now (symbols with none are left out)."""
    gating = dig(diag, "liveness", "gating")
    out = {str(s): [str(r) for r in as_list(flags)] for s, flags in gating.items()}
    return {s: flags for s, flags in out.items() if flags}


def blocked_by_reason(diag: Mapping[str, Any]) -> dict[str, int]:
    """How many symbols each gating reason holds back now."""
    out: dict[str, int] = {}
    for flags in gated(diag).values():
        for reason in set(flags):
            out[reason] = out.get(reason, 0) + 1
    return dict(sorted(out.items()))


def _limit_pair(risk: Mapping[str, Any], key: str, limit_key: str) -> tuple[str, str] | None:
    value, limit = num(risk.get(key)), num(as_dict(risk.get("limits")).get(limit_key))
    return None if value is None or limit is None else exact_pcts(value, limit)


def explain(reason: str, risk: Mapping[str, Any], diag: Mapping[str, Any]) -> tuple[str, str]:
    """(observed value against its limit, what clears it) for one veto reason."""
    limits = as_dict(risk.get("limits"))
    symbols = sorted(s for s, f in gated(diag).items() if reason in f)
    named = f" ({', '.join(symbols[:5])}{'…' if len(symbols) > 5 else ''})" if symbols else ""
    if reason == "portfolio_dd_circuit":
        pair = _limit_pair(risk, "drawdown_pct", "dd_circuit_pct")
        seen = f"drawdown {pair[0]} ≥ circuit {pair[1]}" if pair else "drawdown at the circuit"
        return seen + ": a hard stop, entries stay blocked while the book is flat", (
            "review the losses; then start a new run (a finished run starts a new peak) or "
            "raise risk.dd_circuit_pct (docs/risk_vetoes.md#drawdown-dd_state-risk_mode)"
        )
    if reason in ("var_limit", "cvar_limit"):
        key = reason.split("_")[0]
        pair = _limit_pair(risk, key, f"{key}_limit_nav_pct")
        seen = f"book {key.upper()} {pair[0]} of NAV vs limit {pair[1]}" if pair else ""
        return (seen or f"post-trade {key.upper()} over its limit") + " (post-trade is higher)", (
            f"clears as positions close or volatility falls; or raise risk.{key}_limit_nav_pct"
        )
    if reason == "max_concurrent":
        held, cap = count(risk.get("open_positions")), count(limits.get("max_concurrent"))
        return f"{held} of {cap} positions open: every slot is taken", (
            "clears when a position exits (check TP/SL and the exit scanner) or raise "
            "risk.max_concurrent"
        )
    latest = as_dict(as_dict(diag.get("veto_observed")).get(reason))
    if reason == "per_trade_nav_pct":
        cap_text = _frac(limits.get("per_trade_nav_pct"))
        asked = num(latest.get("observed"))
        ask = f"{_frac(asked)} of NAV" if asked is not None else f"more than {cap_text} of NAV"
        where = _where(latest)
        return f"the strategy asks {ask} per trade{where}, the cap is {cap_text}", (
            "change the sizing (strategy.risk_per_trade_nav_pct / notional_nav_pct) or the "
            "cap (risk.per_trade_nav_pct)"
        )
    if reason == "cooldown":
        left, at = num(latest.get("observed")), from_iso(latest.get("ts"))
        if left is not None and at is not None:
            return f"cooling down after a stop-loss{named}: ends at {to_iso(at + left)}", (
                "ends by itself (risk.cooldown_seconds_after_sl after each stop-loss)"
            )
    return _explain_other(reason, limits, named)


def _where(seen: Mapping[str, Any]) -> str:
    """' (SYMBOL, latest at TIME)' for a reason's latest veto, or nothing."""
    symbol, ts = seen.get("symbol"), seen.get("ts")
    if not isinstance(symbol, str) or not isinstance(ts, str):
        return ""
    return f" ({symbol}, latest at {ts})"


def _explain_other(reason: str, limits: Mapping[str, Any], named: str) -> tuple[str, str]:
    texts = {
        "symbol_cap": (
            f"symbols at their cap of {_frac(limits.get('symbol_cap_nav_pct'))} of NAV{named}",
            "clears as the symbol's position shrinks; or raise risk.symbol_cap_nav_pct",
        ),
        "cooldown": (
            f"symbols cooling down after a stop-loss{named}",
            "ends by itself risk.cooldown_seconds_after_sl after each stop-loss",
        ),
        "tier_block": (
            f"symbols in a blocked tier{named}",
            "remove the tier from risk.blocked_tiers or the symbols from the universe",
        ),
        "stale_mark": (
            f"marks older than risk.stale_mark_seconds{named}",
            "check the market-data feed; clears with the next fresh bar",
        ),
        "min_notional": (
            "orders below the exchange minimum notional",
            "raise the strategy's sizing or the NAV; check the symbols' min_notional",
        ),
        "trading_halted": (
            "entries halted (drawdown panic, HALT file or risk.trading_halted)",
            "see risk_snapshot.json dd_state; remove the HALT file / set risk.trading_halted false",
        ),
    }
    return texts.get(reason, (f"vetoed by {reason}", f"read docs/risk_vetoes.md on {reason}"))


def _frac(value: object) -> str:
    n = num(value)
    return "?" if n is None else f"{100 * n:g}%"
