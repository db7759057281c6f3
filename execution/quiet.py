"""Quiet bars: a replay passes over the bars where nothing can happen in a few array operations.

A bar of a one-symbol replay is quiet when stepping it would only move prices: the venue has
nothing pending or to report, no funding falls due and no liquidation price is reached on it
(the venue's ``quiet_bars``), every open position has its TP/SL and the bar touches neither
(the exit scanner's own comparisons, :func:`~execution.exit_scanner.decide_exit`), the exit
counts already reported stand, and the strategy would not signal on it (its optional ``skip``,
docs/strategies.md). A strategy or venue that cannot tell is never skipped.

Over a run of quiet bars :func:`skip_quiet` leaves what stepping each would leave, float for
float: the book's returns, marks and closes, the venue's last price, the NAV and its peak, the
diagnostics' loop liveness. The driver offers runs that stop before its check points, equity
times and bar limit (docs/performance.md, "Quiet stretches skipped").
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from execution import diagnostics_metrics as diag
from execution.exit_scanner import NOTHING_OPEN, find_exits
from execution.market.bars import BarColumns
from execution.strategy.per_symbol import SymbolStrategies
from execution.types import Side

if TYPE_CHECKING:
    from execution.executor_live import Executor

_NO_PRICES: dict[str, tuple[float, float, float, float]] = {}


def skip_quiet(ex: Executor, cols: BarColumns, start: int, stop: int, before: float) -> int:
    """Pass over the leading quiet bars of ``cols[start:stop]`` (one-bar loops of the one
    symbol) timed before ``before``, as :meth:`Executor.step` on each would; return how many
    (0: step the next one)."""
    venue, strategy = ex.exchange, ex.strategy
    quiet_until: Callable[[str], float | None] | None = getattr(venue, "quiet_until", None)
    if quiet_until is None or len(ex.symbols) != 1 or ex._exit_only:
        return 0
    symbol = ex.symbols[0]
    until = quiet_until(symbol)
    if until is None or not isinstance(strategy, SymbolStrategies) or not _counts_stand(ex):
        return 0
    m = cols.merged
    if not start or ex.book.last_close[0] != m.close[start - 1]:
        return 0  # the block's returns are over the bar before: it must be the last one taken
    before = min(before, until)
    if m.ts[stop - 1] >= before:
        stop = bisect_left(m.ts, before, start, stop)
        if stop - start < 2:
            return 0
    position = ex.ledger.positions.get(symbol)
    if position is not None:
        stop = start + venue.quiet_bars(symbol, cols.high[start:stop], cols.low[start:stop])  # type: ignore[attr-defined]
        entry = ex.registry.get(symbol)
        if stop == start or entry is None:
            return 0
        stop = start + _before_exit(
            position.side, entry.tp_price, entry.sl_price, cols, start, stop
        )
        if stop == start:
            return 0
    k = strategy.skip(
        0, m.open[start:stop], m.high[start:stop], m.low[start:stop], m.close[start:stop],
        m.volume[start:stop],
    )  # fmt: skip
    if k:
        _advance(ex, symbol, cols, start, start + k)
    return k


def _counts_stand(ex: Executor) -> bool:
    """Whether a scan of the quiet bars would report the counts last reported (no call): no
    position, or every one with its TP/SL (the canary then reads no mark)."""
    if not ex.ledger.positions:
        return ex._reported_counts is NOTHING_OPEN.counts
    scan = find_exits(
        ex.ledger, ex.registry, _NO_PRICES, ex.book.marks_view, 0.0, ex._underwater, ex._canary
    )
    return not scan.missing_symbols and scan.counts is ex._reported_counts


def _before_exit(side: Side, tp: float, sl: float, cols: BarColumns, start: int, end: int) -> int:
    """How many leading bars of ``[start, end)`` decide_exit lets pass: its tests of the open
    and the low against a level are one test of their minimum (of the high: maximum)."""
    if not (math.isfinite(tp) and math.isfinite(sl)):
        return 0
    a, b = start - cols.first, end - cols.first
    high, low = cols.reach_high[a:b], cols.reach_low[a:b]
    hit = (low <= sl) | (high >= tp) if side is Side.LONG else (high >= sl) | (low <= tp)
    first = int(hit.argmax())
    return first if hit[first] else end - start


def _advance(ex: Executor, symbol: str, cols: BarColumns, start: int, end: int) -> None:
    """What stepping bars ``[start, end)`` leaves, none of which fills, exits or signals."""
    book, closes = ex.book, cols.merged.close
    last_close, last_ts = closes[end - 1], cols.merged.ts[end - 1]
    returns = cols.returns[start - cols.first : end - cols.first]
    book.on_quiet_closes(0, last_ts, last_close, returns, cols.returns_finite)
    ex.exchange.pass_quiet(symbol, last_close)  # type: ignore[attr-defined]
    _update_nav(ex, symbol, cols.close[start:end], last_close)
    prev_ts = cols.merged.ts[end - 2] if end - start > 1 else last_ts
    diag.record_loops(end - start, prev_ts, last_ts)


def _update_nav(ex: Executor, symbol: str, closes: np.ndarray, last_close: float) -> None:
    """Book.update_nav at each close: the NAV of the last, the peak raised to the highest.

    A NAV is a chain of correctly rounded operations, each monotonic in the close, so the
    highest NAV is that of the highest close (long) or the lowest (short): one NAV computed.
    """
    book, positions = ex.book, ex.ledger.positions
    balance = ex.exchange.balance()
    if not positions:
        book.nav = peak = balance
    else:
        position = positions.get(symbol)
        if position is None:  # positions outside the universe have no mark: nothing unrealized
            book.nav = peak = balance + 0.0
        else:
            entry, qty, sign = position.entry_price, position.qty, position.side.sign
            book.nav = balance + (0.0 + (last_close - entry) * qty * sign)
            best = float(closes.max() if qty * sign > 0 else closes.min())
            peak = balance + (0.0 + (best - entry) * qty * sign)
    if peak > book.peak_nav:
        book.peak_nav = peak
