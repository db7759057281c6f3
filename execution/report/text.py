"""The report as aligned text for a terminal (and the one-line headline of `v7 run --fast`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

NA = "-"


def num(value: Any, fmt: str = ",.2f", suffix: str = "") -> str:
    """Format a number, or "-" when it is undefined."""
    return NA if value is None else f"{value:{fmt}}{suffix}"


def pct(fraction: Any) -> str:
    """A fraction (0.5) as a percentage ("50.0 %")."""
    return NA if fraction is None else f"{fraction * 100:.1f} %"


def duration(seconds: Any) -> str:
    """Seconds as "3d 4h", "5h 10m" or "42m"."""
    if seconds is None:
        return NA
    minutes = int(round(seconds / 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {mins}m" if hours else f"{mins}m"


def headline_text(report: Mapping[str, Any]) -> str:
    """Trades, win rate, net PnL after fees, max drawdown and Sharpe on one line."""
    return (
        f"trades {report.get('trades', 0):,}, win rate {pct(report.get('win_rate'))}, "
        f"net PnL {num(report.get('net_pnl'), '+,.2f')} after fees {num(report.get('fees'))}, "
        f"max drawdown {num(report.get('max_drawdown_pct'), '.2f', ' %')}, "
        f"Sharpe {num(report.get('sharpe'))}"
    )


def _funding(r: Mapping[str, Any]) -> str:
    """Funding apart from the trades' PnL: in NAV (net PnL), never in a closed trade's PnL."""
    if not r.get("funding_journaled"):
        return "0.00 (none journaled)"
    by_symbol = ", ".join(
        f"{s} {num(v, '+,.2f')}" for s, v in (r.get("funding_by_symbol") or {}).items()
    )
    n = r.get("funding_payments") or 0
    return (
        f"{num(r['funding'], '+,.2f')} over {n:,} payment(s) ({by_symbol}); in net PnL, "
        f"not in the trades' PnL ({num(r.get('realized_net_pnl'), '+,.2f')} after fees)"
    )


def outside_note(r: Mapping[str, Any]) -> str:
    """Positions that ended outside the engine: listed by `v7 trades`, in no trade statistic."""
    n = r.get("external_closes") or 0
    return f"; {n:,} more closed outside the engine (exit unseen, not counted)" if n else ""


def _summary_lines(r: Mapping[str, Any]) -> list[str]:
    funding = _funding(r)
    pairs = [
        ("period", f"{r['start'] or NA} -> {r['end'] or NA} ({duration(r['duration_s'])})"),
        ("bars", num(r["bars"], ",")),
        ("exposure", num(r["exposure_pct"], ".1f", " %")),
        ("net PnL", f"{num(r['net_pnl'], '+,.2f')} (return {num(r['return_pct'], '+.2f', ' %')},"
                    f" CAGR {pct(r['cagr'])})"),
        ("fees", num(r["fees"])),
        ("funding", funding),
        ("trades", f"{r['trades']:,}: {r['wins']} won, {r['draws']} even, {r['losses']} lost "
                   f"(win rate {pct(r['win_rate'])}){outside_note(r)}"),
        ("per trade", f"avg {num(r['avg_trade'], '+,.2f')}, median {num(r['median_trade'], '+,.2f')},"
                      f" best {num(r['best_trade'], '+,.2f')}, worst {num(r['worst_trade'], '+,.2f')}"),
        ("quality", f"profit factor {num(r['profit_factor'])}, expectancy "
                    f"{num(r['expectancy'], '+,.2f')}, SQN {num(r['sqn'])}"),
        ("duration", f"avg trade {duration(r['avg_duration_s'])}"),
        ("drawdown", f"max {num(r['max_drawdown_pct'], '.2f', ' %')}, longest "
                     f"{duration(r['max_drawdown_duration_s'])}"),
        ("ratios", f"Sharpe {num(r['sharpe'])}, Sortino {num(r['sortino'])}, "
                   f"Calmar {num(r['calmar'])}"),
    ]  # fmt: skip
    return [f"  {k:<10} {v}" for k, v in pairs]


def _line(values: Sequence[str], widths: Sequence[int]) -> str:
    # The row's name left-aligned, its numbers right-aligned so the digits line up.
    pairs = enumerate(zip(values, widths, strict=True))
    cells = (v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in pairs)
    return "  ".join(cells).rstrip()


def _table(
    title: str, rows: Mapping[str, Mapping[str, Any]], cols: Sequence[tuple[str, str]]
) -> list[str]:
    if not rows:
        return [f"{title}: none"]
    cells = [[key, *(cell(row.get(c), c) for c, _ in cols)] for key, row in rows.items()]
    heads = [title, *(h for _, h in cols)]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    return [_line(heads, widths), *(_line(c, widths) for c in cells)]


def cell(value: Any, column: str) -> str:
    """One table cell, formatted for its column."""
    if column in ("win_rate", "share"):
        return pct(value)
    if column == "top_symbols":
        return ", ".join(f"{s} {n}" for s, n in (value or {}).items()) or NA
    if column in ("trades", "vetoes", "wins"):
        return num(value, ",")
    if column == "buy_hold_pct":
        return num(value, "+.2f", " %")
    return num(value, "+,.2f" if column in ("net_pnl", "avg_trade") else ",.2f")


SYMBOL_COLUMNS = (("trades", "trades"), ("win_rate", "win rate"), ("net_pnl", "net PnL"),
                  ("fees", "fees"), ("profit_factor", "PF"), ("buy_hold_pct", "buy&hold"))  # fmt: skip
EXIT_COLUMNS = (("trades", "trades"), ("win_rate", "win rate"), ("net_pnl", "net PnL"),
                ("avg_trade", "avg"))  # fmt: skip
VETO_COLUMNS = (("vetoes", "vetoes"), ("share", "share"), ("top_symbols", "top symbols"))


def render_text(r: Mapping[str, Any]) -> str:
    """The whole report for people: summary, per symbol, exit reasons, veto reasons."""
    lines = ["v7 report" + ("" if r.get("completed") is not False else " (run not finished)")]
    lines += _summary_lines(r)
    for title, rows, cols in (
        ("symbol", r["per_symbol"], SYMBOL_COLUMNS),
        ("exit reason", r["exit_reasons"], EXIT_COLUMNS),
        ("veto reason", r["veto_reasons"], VETO_COLUMNS),
    ):
        lines += ["", *_table(title, rows, cols)]
    return "\n".join(lines) + "\n"
