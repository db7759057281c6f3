"""Read what a report needs from a state dir: the store's journal and memory, and intel.json.

Everything goes through the store's read-only readers (no engine lock needed, safe while an
engine runs) and the never-raising state-file loader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from execution.report.metrics import Trade
from execution.report.prices import Prices, load_prices
from execution.report.trade_table import ROW_COLUMNS, TradeTable
from execution.state_v7 import load_runtime_diagnostics_state
from execution.store import read_memory, stream_rows


@dataclass(frozen=True)
class ReportInputs:
    """A run as the report sees it; build one by hand in tests, or with ``load_inputs``."""

    trades: Sequence[Trade]  # a tuple by hand; a TradeTable (columns) from the journal
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
    external_closes: int = 0  # positions that ended outside the engine: no exit, no PnL
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
    equity: tuple[list[float], list[float]], start: float | None, end: float | None,
    starting: float | None, final_nav: float | None,
) -> tuple[tuple[float, ...], tuple[float, ...]]:  # fmt: skip
    """The sampled NAV, with the starting balance at the start and the final NAV at the end."""
    ts, nav = equity
    if starting is not None and start is not None and (not ts or start < ts[0]):
        ts.insert(0, start)
        nav.insert(0, starting)
    if final_nav is not None and end is not None and (not ts or end > ts[-1]):
        ts.append(end)
        nav.append(final_nav)
    return tuple(ts), tuple(nav)


def _start(trades: TradeTable, prices: dict[str, Prices], equity_ts: list[float]) -> float | None:
    firsts = [float(p.ts[0]) for p in prices.values()]
    firsts += [t.entry_ts for t in trades[:1]] + equity_ts[:1]
    return min(firsts) if firsts else None


def _equity(state_dir: str | Path) -> tuple[list[float], list[float]]:
    ts: list[float] = []
    nav: list[float] = []
    for t, v in stream_rows(state_dir, "equity", ("ts", "nav")):
        ts.append(float(t))
        nav.append(float(v))
    return ts, nav


def _fees(state_dir: str | Path) -> float:
    """Every fill's fee, summed in Python in journal order: SQL's SUM may round differently."""
    return sum(float(fee) for (fee,) in stream_rows(state_dir, "fills", ("fee",)))


@dataclass(frozen=True)
class _Funding:
    total: float | None  # None: no funding journaled
    by_symbol: dict[str, float]
    payments: int


def _funding(state_dir: str | Path) -> _Funding:
    totals: dict[str, float] = {}
    total, payments = 0.0, 0
    for symbol, payment in stream_rows(state_dir, "funding", ("symbol", "payment")):
        total += float(payment)
        payments += 1
        totals[str(symbol)] = totals.get(str(symbol), 0.0) + float(payment)
    return _Funding(total if payments else None, dict(sorted(totals.items())), payments)


def load_inputs(state_dir: str | Path, *, with_prices: bool = True) -> ReportInputs:
    """Read the journal, memory and runtime diagnostics (NoStore / StoreError propagate)."""
    # Streamed and aggregated as read: the journal of a long run is never held as rows.
    trades = TradeTable(stream_rows(state_dir, "closed_trades", ROW_COLUMNS))
    equity = _equity(state_dir)
    funding = _funding(state_dir)
    memory = read_memory(state_dir)
    progress = memory.progress if memory is not None else {}
    identity = memory.identity if memory is not None else {}
    account = memory.paper_account if memory is not None else {}
    symbols = [str(s) for s in progress.get("symbols") or []]
    end = progress.get("last_ts")
    end = float(end) if isinstance(end, int | float) else None
    source = identity.get("source") if isinstance(identity.get("source"), str) else None
    prices = load_prices(source, symbols, end, _last_closes(memory)) if with_prices else {}
    start = _start(trades, prices, equity[0])
    starting = account.get("starting_balance") if isinstance(account, dict) else None
    starting = float(starting) if isinstance(starting, int | float) else None
    nav = _shared_book(memory).get("nav")
    ts, navs = _curve(equity, start, end, starting, float(nav) if nav is not None else None)
    bars = progress.get("bars_processed")
    return ReportInputs(
        trades=trades, equity_ts=ts, equity_nav=navs,
        starting_balance=starting, start_ts=start, end_ts=end,
        bars=int(bars) if isinstance(bars, int) else None,
        fees=_fees(state_dir), funding=funding.total,
        funding_by_symbol=funding.by_symbol, funding_payments=funding.payments,
        external_closes=sum(1 for _ in stream_rows(state_dir, "external_closes", ("id",))),
        diagnostics=load_runtime_diagnostics_state(state_dir), prices=prices, source=source,
        completed=progress.get("completed") if isinstance(progress.get("completed"), bool) else None,
    )  # fmt: skip
