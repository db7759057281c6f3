"""The one-screen summary printed at the end of `v7 run --fast`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from execution.diagnostics_metrics import build_runtime_diagnostics_snapshot, is_enabled
from execution.report import build_report, headline, headline_text
from execution.report.load import load_inputs
from execution.store import StoreError

if TYPE_CHECKING:
    from execution.run.runner import EngineRunner


def diagnostics_mode() -> str:
    """Whether diagnostics counted (the summary's counts come from them)."""
    return "on" if is_enabled() else "off"


def report_headline(state_dir: Any) -> dict[str, Any] | None:
    """The report's headline from the journal just committed; None when the store is unreadable."""
    try:
        return headline(build_report(load_inputs(state_dir, with_prices=False)))
    except StoreError:  # NoStore included: the summary still prints what the runner knows
        return None


def summary_dict(runner: EngineRunner, elapsed: float, bars_run: int) -> dict[str, Any]:
    ex = runner.executor
    snap = build_runtime_diagnostics_snapshot()
    counters = snap.veto_counters
    dd = ex.book.drawdown()
    start = ex.cfg.exchange.starting_balance
    return {
        "state_dir": str(runner.state_dir),
        "resumed": runner.resumed,
        "mode": runner.opts.mode,
        "completed": runner.completed,
        "bars": runner.bars_done,
        "bars_this_run": bars_run,
        "elapsed_s": round(elapsed, 3),
        "bars_per_s": round(bars_run / elapsed, 1) if elapsed > 0 else None,
        "symbols": len(ex.symbols),
        "diagnostics": diagnostics_mode(),
        "signals": counters.total_signals,
        "vetoes": counters.total_vetoes,
        "vetoes_by_reason": dict(sorted(counters.by_reason.items(), key=lambda kv: -kv[1])),
        "orders": counters.total_orders,
        "orders_by_kind": snap.accounting.get("orders_by_kind", {}),
        "order_failures": snap.accounting.get("order_failures", 0),
        "exits_by_kind": snap.exit_triggers_by_kind,
        "identity_ok": snap.accounting.get("identity_ok"),
        "open_positions": len(ex.ledger.positions),
        "realized_pnl": round(ex.ledger.realized_pnl, 2),
        "fees_paid": round(ex.ledger.fees_paid, 2),
        "nav": round(dd.nav, 2),
        "pnl": round(dd.nav - start, 2),
        "pnl_pct": round((dd.nav / start - 1.0) * 100, 3),
        "max_drawdown_seen_pct": round(dd.drawdown_pct * 100, 3),
        "bad_bars": runner.bad_bars.total,
        "report": report_headline(runner.state_dir),
        # Once funding was paid (a run without any keeps the summary it always had).
        **({"funding_pnl": round(ex.ledger.funding_pnl, 2)} if ex.ledger.funding_pnl else {}),
    }


def format_summary(
    runner: EngineRunner, elapsed: float, bars_run: int, *, as_json: bool = False
) -> str:
    s = summary_dict(runner, elapsed, bars_run)
    return json.dumps(s, indent=2) if as_json else summary_text(s)


def summary_text(s: dict[str, Any]) -> str:
    """The summary as the lines `v7 run --fast` prints."""
    reasons = ", ".join(f"{k} {v}" for k, v in s["vetoes_by_reason"].items()) or "none"
    exits = ", ".join(f"{k} {v}" for k, v in s["exits_by_kind"].items()) or "none"
    rate = f"{s['bars_per_s']:,.0f} bars/s" if s["bars_per_s"] else "-"
    lines = [
        "v7 run summary" + (" (resumed)" if s["resumed"] else "") + _unfinished(s),
        f"  bars        {s['bars']:,} ({s['bars_this_run']:,} this run, {s['symbols']} symbols)"
        f" in {s['elapsed_s']:.2f}s = {rate}",
    ]
    if s["diagnostics"] == "off":  # nothing was counted: say so rather than print zeros
        lines.append("  diagnostics off (diagnostics.enabled: false): signals, vetoes, orders,")
        lines.append("              exits and the accounting identity were not counted")
    else:
        lines += [
            f"  signals     {s['signals']:,}",
            f"  vetoes      {s['vetoes']:,}: {reasons}",
            f"  orders      {s['orders']:,} (entry {s['orders_by_kind'].get('entry', 0):,}, "
            f"exit {s['orders_by_kind'].get('exit', 0):,}), failures {s['order_failures']}",
            f"  exits       {exits}",
        ]
    lines += [
        f"  PnL         {s['pnl']:+,.2f} ({s['pnl_pct']:+.2f}%), realized {s['realized_pnl']:+,.2f},"
        f" fees {s['fees_paid']:,.2f}"
        + (f", funding {s['funding_pnl']:+,.2f}" if s.get("funding_pnl") else "")
        + f"; NAV {s['nav']:,.2f}",
        f"  open        {s['open_positions']} positions; bad bars rejected {s['bad_bars']}",
    ]
    if s["diagnostics"] != "off":
        lines.append(f"  accounting  identity {'ok' if s['identity_ok'] else 'BROKEN'}")
        lines.append(f"  diagnostics {s['diagnostics']}")
    if s.get("report"):
        lines.append(f"  report      {headline_text(s['report'])} (v7 report for all)")
    lines.append(f"  state       {s['state_dir']}")
    return "\n".join(lines)


def _unfinished(s: dict[str, Any]) -> str:
    # A replay stopped by a signal must not look finished: its figures cover part of the data.
    unfinished = s.get("mode") == "replay" and s["completed"] is False
    return " (INTERRUPTED: not finished)" if unfinished else ""
