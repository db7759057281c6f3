"""The report as one JSON-ready dict: headline metrics, then the breakdown tables (pure)."""

from __future__ import annotations

from typing import Any

from execution.clock import to_iso
from execution.report.load import ReportInputs
from execution.report.metrics import equity_stats, exposure, trade_stats
from execution.report.tables import buy_and_hold_pct, exit_reasons, per_symbol, veto_reasons

REPORT_VERSION = 1
HEADLINE_KEYS = ("trades", "win_rate", "net_pnl", "fees", "max_drawdown_pct", "sharpe")


def _net_pnl(inputs: ReportInputs, realized_net: float) -> float:
    """NAV change when the curve is known (open positions and funding included), else realized."""
    if inputs.equity_nav and inputs.starting_balance is not None:
        return inputs.equity_nav[-1] - inputs.starting_balance
    return realized_net


def build_report(inputs: ReportInputs) -> dict[str, Any]:
    """Every metric of the run; ``None`` where a metric is undefined (no trades, no losses...)."""
    trades = trade_stats(inputs.trades)
    start, end = inputs.start_ts, inputs.end_ts
    holds = buy_and_hold_pct({s: p.first_last for s, p in inputs.prices.items()})
    fees = inputs.fees if inputs.fees is not None else trades["fees"]
    return {
        "report_version": REPORT_VERSION,
        "source": inputs.source,
        "completed": inputs.completed,
        "start": to_iso(start),
        "end": to_iso(end),
        "duration_s": end - start if start is not None and end is not None else None,
        "bars": inputs.bars,
        "exposure_pct": _pct(exposure(inputs.trades, start, end))
        if start is not None and end is not None else None,
        "starting_balance": inputs.starting_balance,
        "final_nav": inputs.equity_nav[-1] if inputs.equity_nav else None,
        "net_pnl": _net_pnl(inputs, trades["realized_net_pnl"]),
        **trades,
        "external_closes": inputs.external_closes,
        "fees": fees,
        "funding": inputs.funding if inputs.funding is not None else 0.0,
        "funding_journaled": inputs.funding is not None,
        # Funding is cash between the longs and shorts, not a trade's PnL: kept apart from it.
        "funding_payments": inputs.funding_payments,
        "funding_by_symbol": dict(inputs.funding_by_symbol),
        **equity_stats(inputs.equity_ts, inputs.equity_nav),
        "buy_hold_pct": holds,
        "per_symbol": per_symbol(inputs.trades, holds),
        "exit_reasons": exit_reasons(inputs.trades),
        "veto_reasons": veto_reasons(inputs.diagnostics),
    }  # fmt: skip


def _pct(fraction: float | None) -> float | None:
    return None if fraction is None else fraction * 100.0


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The five figures `v7 run --fast` ends with (and fees, which make most of a loss)."""
    return {k: report.get(k) for k in HEADLINE_KEYS}
