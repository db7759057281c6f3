"""Pure table builders: positions, risk vs limits, stage liveness, gating, accounting, bad bars."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from dashboard.coerce import (
    as_count,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
    count_map,
    nested_count_map,
    parse_ts,
    redact,
)
from dashboard.formatting import DASH, format_money, format_pct, format_prices
from execution.perps.view import liquidated_before_stop

POSITION_COLUMNS = [
    "Symbol", "Side", "Qty", "Entry", "Mark", "PnL %", "TP", "SL", "To TP %", "To SL %", "Protection",
]  # fmt: skip
# Shown only when positions_state.json has them (perpetuals; not spot or older state).
PERP_COLUMNS = ["Leverage", "Liq. price", "To liq. %", "Funding"]
PERP_KEYS = ("leverage", "liquidation_price", "funding")
STAGE_ORDER = ("screener", "risk", "router", "positions", "exit_scanner", "state_publish")


def distance_pct(side: str, mark: float | None, level: float | None, kind: str) -> float | None:
    """Percent the mark must move to hit ``level``; negative means it is already crossed.

    ``kind`` is "tp" or "sl". Long: TP above, SL below the mark; short: the reverse.
    """
    if mark is None or level is None or mark <= 0:
        return None
    move = (level - mark) / mark * 100.0
    sign = 1.0 if side == "long" else -1.0
    return move * sign if kind == "tp" else -move * sign


def _pnl_pct(
    pos: dict[str, Any], side: str, entry: float | None, mark: float | None
) -> float | None:
    pct = as_float(pos.get("unrealized_pnl_pct"))
    if pct is not None:
        return pct * 100.0
    if entry and mark is not None:
        return (mark - entry) / entry * 100.0 * (1.0 if side == "long" else -1.0)
    return None


def _protection(
    tp: float | None, sl: float | None, pnl: float | None, underwater: float, liq_first: bool
) -> str:
    if tp is not None and sl is not None:
        return "🔴 liquidation before SL" if liq_first else "TP+SL"
    missing = "no TP/SL" if tp is None and sl is None else "no TP" if tp is None else "no SL"
    if pnl is not None and pnl <= underwater * 100.0:
        return f"🔴 {missing}, underwater"
    return f"🟠 {missing}"


def _perp_cells(pos: dict[str, Any], side: str) -> tuple[float | None, float | None, bool]:
    """Liquidation price, its distance in percent, and whether it comes before the stop."""
    liq = as_float(pos.get("liquidation_price"))
    if liq is None or liq <= 0:
        return None, None, False  # spot, or a venue that does not say
    distance = as_float(pos.get("liquidation_distance_pct"))
    sl = as_float(pos.get("sl_price"))
    before_stop = liquidated_before_stop(side, liq, sl) if side in ("long", "short") else False
    return liq, None if distance is None else distance * 100.0, before_stop


def _position_row(pos: dict[str, Any], underwater: float) -> dict[str, Any]:
    side = str(pos.get("side") or "?")
    entry, mark = as_float(pos.get("entry_price")), as_float(pos.get("mark_price"))
    tp, sl = as_float(pos.get("tp_price")), as_float(pos.get("sl_price"))
    pnl = _pnl_pct(pos, side, entry, mark)
    liq, to_liq, liq_first = _perp_cells(pos, side)
    # One precision per row: a position's prices are one symbol's, and symbols differ by
    # orders of magnitude (BTCUSDT 60,000 next to NXTBTC 0.00003123).
    prices = format_prices([entry, mark, tp, sl, liq])
    return {
        "Symbol": str(pos.get("symbol") or "?"), "Side": side, "Qty": as_float(pos.get("qty")),
        "Entry": prices[0], "Mark": prices[1], "PnL %": pnl, "TP": prices[2], "SL": prices[3],
        "To TP %": distance_pct(side, mark, tp, "tp"), "To SL %": distance_pct(side, mark, sl, "sl"),
        "Protection": _protection(tp, sl, pnl, underwater, liq_first),
        "Leverage": as_float(pos.get("leverage")), "Liq. price": prices[4], "To liq. %": to_liq,
        "Funding": as_float(pos.get("funding")),
    }  # fmt: skip


def positions_frame(positions: Any, underwater_threshold_pct: float = -0.02) -> pd.DataFrame:
    """One row per open position: entry, mark, PnL %, TP, SL and the distance to each; for
    perpetuals (rows with a leverage, liquidation price or funding) also those columns.

    Prices are text at one precision per row, a missing one "—".
    """
    raw_rows = [pos for pos in map(as_dict, as_list(positions)) if pos]
    rows = [_position_row(pos, underwater_threshold_pct) for pos in raw_rows]
    # Unprotected first: red (underwater, liquidated first) before orange before protected.
    rows.sort(key=lambda r: (r["Protection"] == "TP+SL", "🟠" in r["Protection"], r["Symbol"]))
    perps = any(pos.get(k) is not None for pos in raw_rows for k in PERP_KEYS)
    return pd.DataFrame(rows, columns=POSITION_COLUMNS + (PERP_COLUMNS if perps else []))


@dataclass(frozen=True)
class LimitRow:
    metric: str
    value: str
    limit: str
    use_pct: float | None
    status: str


def _use(value: float | None, limit: float | None) -> float | None:
    return None if value is None or not limit else round(value / limit * 100.0, 1)


def _tail_row(name: str, value: float | None, limit: float | None, var_status: str) -> LimitRow:
    if value is None:
        status = "insufficient data" if var_status == "insufficient_data" else "no data"
    else:
        status = "🔴 over limit" if limit is not None and value > limit else "ok"
    return LimitRow(name, format_pct(value), format_pct(limit), _use(value, limit), status)


def _drawdown_row(dd: float | None, limits: dict[str, Any], dd_state: str | None) -> LimitRow:
    warn, circuit = as_float(limits.get("dd_warn_pct")), as_float(limits.get("dd_circuit_pct"))
    panic = as_float(limits.get("dd_panic_pct"))
    shown = " / ".join(format_pct(x, 1) for x in (warn, circuit, panic))
    status = dd_state or "unknown"
    if dd is not None and circuit is not None and dd >= circuit:
        status = f"🔴 {status} (circuit)"
    elif dd is not None and warn is not None and dd >= warn:
        status = f"🟠 {status}"
    return LimitRow(
        "Drawdown", format_pct(dd), f"warn/circuit/panic {shown}", _use(dd, circuit), status
    )


def risk_limit_rows(snapshot: Any) -> list[LimitRow]:
    """NAV, drawdown, VaR and CVaR against their configured limits."""
    snap = as_dict(snapshot)
    limits = as_dict(snap.get("limits"))
    nav, peak = as_float(snap.get("nav")), as_float(snap.get("peak_nav"))
    mode = as_str(snap.get("risk_mode")) or "unknown"
    var_status = as_str(snap.get("var_status")) or ""
    conf = as_float(limits.get("var_confidence"))
    tag = f" ({conf:.0%})" if conf is not None else ""
    return [
        LimitRow("NAV", format_money(nav), f"peak {format_money(peak)}", None, f"risk_mode {mode}"),
        _drawdown_row(as_float(snap.get("drawdown_pct")), limits, as_str(snap.get("dd_state"))),
        _tail_row(f"VaR{tag}", as_float(snap.get("var")), as_float(limits.get("var_limit_nav_pct")), var_status),
        _tail_row(f"CVaR{tag}", as_float(snap.get("cvar")), as_float(limits.get("cvar_limit_nav_pct")), var_status),
    ]  # fmt: skip


def risk_limits_frame(snapshot: Any) -> pd.DataFrame:
    """The risk_limit_rows as a table: Metric / Value / Limit / Use of limit (%) / Status."""
    rows = [(r.metric, r.value, r.limit, r.use_pct, r.status) for r in risk_limit_rows(snapshot)]
    columns = ["Metric", "Value", "Limit", "Use of limit (%)", "Status"]
    return pd.DataFrame(rows, columns=columns)


def _stage_status(stage: dict[str, Any], age: float | None, stale_seconds: float) -> str:
    success, error = parse_ts(stage.get("last_success_ts")), parse_ts(stage.get("last_error_ts"))
    if error is not None and (success is None or error > success):
        return "🔴 failing"
    if age is None:
        return "⚪ never ran"
    return "🟠 stale" if age > stale_seconds else "🟢 ok"


def liveness_frame(liveness: Any, reference: float, stale_seconds: float) -> pd.DataFrame:
    """Per stage: last success, seconds since it (vs the reference time), status, errors."""
    stages = as_dict(as_dict(liveness).get("stages"))
    names = [s for s in STAGE_ORDER if s in stages] + sorted(set(stages) - set(STAGE_ORDER))
    rows = []
    for name in names:
        stage = as_dict(stages[name])
        success = parse_ts(stage.get("last_success_ts"))
        age = None if success is None else round(max(0.0, reference - success), 1)
        error = as_str(stage.get("last_error"))
        rows.append([
            name, as_str(stage.get("last_success_ts")) or DASH, age,
            _stage_status(stage, age, stale_seconds), as_count(stage.get("error_count")),
            redact(error) if error else DASH,
        ])  # fmt: skip
    columns = ["Stage", "Last success", "Seconds since", "Status", "Errors", "Last error"]
    return pd.DataFrame(rows, columns=columns)


def gating_frame(gating: Any) -> pd.DataFrame:
    """What blocks each symbol right now: blocked symbols first, then the free ones."""
    rows = []
    for symbol, flags in as_dict(gating).items():
        reasons = [str(f) for f in as_list(flags) if isinstance(f, str) and f]
        rows.append((str(symbol), "⛔ blocked" if reasons else "✅ can trade", ", ".join(reasons)))
    rows.sort(key=lambda row: (not row[2], row[0]))
    frame = pd.DataFrame(rows, columns=["Symbol", "Status", "Blocked by"])
    frame["Blocked by"] = frame["Blocked by"].replace("", DASH)
    return frame


@dataclass(frozen=True)
class Accounting:
    """Every entry signal ends in exactly one outcome (DESIGN §4)."""

    signals: int
    vetoes: int
    entry_orders: int
    order_failures: int
    in_flight: int
    unaccounted: int

    @property
    def ok(self) -> bool:
        return self.unaccounted == 0

    def equation(self) -> str:
        return (
            f"{self.signals:,} signals = {self.vetoes:,} vetoes + {self.entry_orders:,} entry "
            f"orders + {self.order_failures:,} failures + {self.in_flight:,} in flight"
        )


def accounting_summary(accounting: Any) -> Accounting | None:
    """Recompute the identity from the published counters; None without an accounting block."""
    acc = as_dict(accounting)
    if not acc:
        return None
    signals, vetoes = as_count(acc.get("total_signals")), as_count(acc.get("total_vetoes"))
    entries, failures = as_count(acc.get("entry_orders")), as_count(acc.get("order_failures"))
    in_flight = as_int(acc.get("in_flight")) or 0
    unaccounted = signals - vetoes - entries - failures - in_flight
    return Accounting(signals, vetoes, entries, failures, in_flight, unaccounted)


def count_frame(counts: Any, key: str, value: str = "Count") -> pd.DataFrame:
    """A {name: count} map as a two-column table, largest first."""
    rows = sorted(count_map(counts).items(), key=lambda kv: (-kv[1], kv[0]))
    return pd.DataFrame([(redact(k), v) for k, v in rows], columns=[key, value])


def bad_bars_frame(bad_bars: Any) -> pd.DataFrame:
    """Rejected bars by symbol and kind (nan, duplicate_ts, ...)."""
    rows = [
        (symbol, kind, n)
        for symbol, kinds in nested_count_map(as_dict(bad_bars).get("by_symbol")).items()
        for kind, n in kinds.items()
        if n > 0
    ]
    frame = pd.DataFrame(rows, columns=["Symbol", "Kind", "Count"])
    return frame.sort_values(["Count", "Symbol"], ascending=[False, True], ignore_index=True)


@dataclass(frozen=True)
class GatingSummary:
    """How many symbols are blocked right now, and by what."""

    blocked: int
    total: int
    by_reason: dict[str, int]

    def sentence(self) -> str:
        if not self.total:
            return "No gating flags published."
        if not self.blocked:
            return f"All {self.total} symbols can trade right now."
        parts = ", ".join(f"{r} ×{n}" for r, n in self.by_reason.items())
        return f"Blocked right now: {self.blocked} of {self.total} symbols ({parts})."


def gating_summary(gating: Any) -> GatingSummary:
    """Count blocked symbols and the reasons blocking them, most common first."""
    flags = as_dict(gating)
    counts: dict[str, int] = {}
    blocked = 0
    for reasons in flags.values():
        names = [r for r in as_list(reasons) if isinstance(r, str) and r]
        blocked += bool(names)
        for reason in names:
            counts[reason] = counts.get(reason, 0) + 1
    ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return GatingSummary(blocked, len(flags), ordered)
