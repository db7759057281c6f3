"""Read what a report needs from a state dir: the store's journal and memory, and intel.json.

Everything goes through the store's read-only readers (no engine lock needed, safe while an
engine runs) and the never-raising state-file loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from execution.report.metrics import Trade, trade_from_row
from execution.report.prices import Prices, load_prices
from execution.state_v7 import load_runtime_diagnostics_state
from execution.store import read_closed_trades, read_equity, read_fills, read_funding, read_memory


@dataclass(frozen=True)
class ReportInputs:
    """A run as the report sees it; build one by hand in tests, or with ``load_inputs``."""

    trades: tuple[Trade, ...]
    equity_ts: tuple[float, ...] = ()
    equity_nav: tuple[float, ...] = ()
    starting_balance: float | None = None
    start_ts: float | None = None
    end_ts: float | None = None
    bars: int | None = None
    fees: float | None = None  # every fill's fee, open positions' entries included
    funding: float | None = None  # None: no funding journaled
    funding_by_symbol: dict[str, float] = field(default_factory=dict)
    funding_payments: int = 0
    diagnostics: dict[str, Any] = field(default_factory=dict)
    prices: dict[str, Prices] = field(default_factory=dict)
    source: str | None = None
    completed: bool | None = None


def _shared_book(memory: Any) -> dict[str, Any]:
    book = getattr(memory, "book", None) or {}
    shared = book.get("shared") if isinstance(book, dict) else None
    return shared if isinstance(shared, dict) else {}


def _last_closes(memory: Any) -> dict[str, float]:
    book = getattr(memory, "book", None) or {}
    per_symbol = book.get("per_symbol") if isinstance(book, dict) else None
    if not isinstance(per_symbol, dict):
        return {}
    return {
        str(sym): float(v["last_close"]) for sym, v in per_symbol.items()
        if isinstance(v, dict) and isinstance(v.get("last_close"), int | float)
    }  # fmt: skip


def _curve(
    equity: list[dict[str, Any]], start: float | None, end: float | None,
    starting: float | None, final_nav: float | None,
) -> tuple[tuple[float, ...], tuple[float, ...]]:  # fmt: skip
    """The sampled NAV, with the starting balance at the start and the final NAV at the end."""
    ts = [float(r["ts"]) for r in equity]
    nav = [float(r["nav"]) for r in equity]
    if starting is not None and start is not None and (not ts or start < ts[0]):
        ts.insert(0, start)
        nav.insert(0, starting)
    if final_nav is not None and end is not None and (not ts or end > ts[-1]):
        ts.append(end)
        nav.append(final_nav)
    return tuple(ts), tuple(nav)


def _start(
    rows: list[dict[str, Any]], prices: dict[str, Prices], equity: list[Any]
) -> float | None:
    firsts = [float(p.ts[0]) for p in prices.values()]
    firsts += [float(r["entry_ts"]) for r in rows[:1]] + [float(r["ts"]) for r in equity[:1]]
    return min(firsts) if firsts else None


def _by_symbol(funding: list[dict[str, Any]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for row in funding:
        symbol = str(row["symbol"])
        totals[symbol] = totals.get(symbol, 0.0) + float(row["payment"])
    return dict(sorted(totals.items()))


def load_inputs(state_dir: str | Path, *, with_prices: bool = True) -> ReportInputs:
    """Read the journal, memory and runtime diagnostics (NoStore / StoreError propagate)."""
    rows = read_closed_trades(state_dir)
    equity = read_equity(state_dir)
    fills = read_fills(state_dir)
    funding = read_funding(state_dir)
    memory = read_memory(state_dir)
    progress = memory.progress if memory is not None else {}
    identity = memory.identity if memory is not None else {}
    account = memory.paper_account if memory is not None else {}
    symbols = [str(s) for s in progress.get("symbols") or []]
    end = progress.get("last_ts")
    end = float(end) if isinstance(end, int | float) else None
    source = identity.get("source") if isinstance(identity.get("source"), str) else None
    prices = load_prices(source, symbols, end, _last_closes(memory)) if with_prices else {}
    start = _start(rows, prices, equity)
    starting = account.get("starting_balance") if isinstance(account, dict) else None
    starting = float(starting) if isinstance(starting, int | float) else None
    nav = _shared_book(memory).get("nav")
    ts, navs = _curve(equity, start, end, starting, float(nav) if nav is not None else None)
    bars = progress.get("bars_processed")
    return ReportInputs(
        trades=tuple(trade_from_row(r) for r in rows), equity_ts=ts, equity_nav=navs,
        starting_balance=starting, start_ts=start, end_ts=end,
        bars=int(bars) if isinstance(bars, int) else None,
        fees=sum(float(f["fee"]) for f in fills),
        funding=sum(float(f["payment"]) for f in funding) if funding else None,
        funding_by_symbol=_by_symbol(funding), funding_payments=len(funding),
        diagnostics=load_runtime_diagnostics_state(state_dir), prices=prices, source=source,
        completed=progress.get("completed") if isinstance(progress.get("completed"), bool) else None,
    )  # fmt: skip
