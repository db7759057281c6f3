"""Quiet bars: a replay passes over the bars where nothing can happen in a few array operations.

A bar of a one-symbol replay is quiet when stepping it would only move prices: the venue has
nothing pending or to report, no funding falls due and no liquidation price is reached on it
(the venue's ``quiet_until`` and ``quiet_levels``), every open position has its TP/SL and the bar touches neither
(the exit scanner's own comparisons, :func:`~execution.exit_scanner.decide_exit`), the exit
counts already reported stand, and the strategy would not signal on it (its optional ``skip``,
docs/strategies.md). A strategy or venue that cannot tell is never skipped.

Over a run of quiet bars :func:`skip_quiet` leaves what stepping each would leave, float for
float: the book's returns, marks and closes, the venue's last price, the NAV and its peak, the
diagnostics' loop liveness. The driver offers runs that stop before its check points and bar
limit, and at the latest with the bar that reaches its next equity time (sampled right after,
as after a step: docs/performance.md, "Quiet stretches skipped").
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from typing import TYPE_CHECKING

from execution import diagnostics_metrics as diag
from execution.market.bars import BarColumns
from execution.strategy.per_symbol import SymbolStrategies
from execution.types import Side
from execution.venues.base import QuietBarsVenue

if TYPE_CHECKING:
    from execution.executor_live import Executor

# Fewer quiet bars ahead than this are stepped (4 measured: more instructions than 2).
MIN_QUIET_BARS = 2


def skip_quiet(ex: Executor, cols: BarColumns, start: int, stop: int, through: float) -> int:
    """Pass over the leading quiet bars of ``cols[start:stop]`` (one-bar loops of the one
    symbol) up to the first one timed at or after ``through`` included, as
    :meth:`Executor.step` on each would; return how many (0: step the next one)."""
    venue, strategy = ex.quiet_venue, ex.strategy
    if venue is None or len(ex.symbols) != 1 or ex.cfg.universe[0].exit_only:
        return 0
    symbol = ex.symbols[0]
    until = venue.quiet_until(symbol)
    if until is None or not isinstance(strategy, SymbolStrategies) or not ex.exit_counts_stand():
        return 0
    m = cols.merged
    if not start or ex.book.last_close[0] != m.close[start - 1]:
        return 0  # the block's returns are over the bar before: it must be the last one taken
    first = min(through, until)
    if m.ts[stop - 1] >= first:
        stop = bisect_left(m.ts, first, start, stop)
        # The bar reaching ``through`` goes too, unless the venue needs it stepped (a bar at
        # or after ``until``); one-symbol bars are one per time.
        if through < until and m.ts[stop] < until:
            stop += 1
        if stop - start < MIN_QUIET_BARS:
            return 0
    levels = venue.quiet_levels(symbol)
    position = ex.ledger.positions.get(symbol)
    if levels is None or position is not None and (levels := _exit_levels(ex, levels)) is None:
        return 0
    floor, ceiling = levels
    if floor != -math.inf or ceiling != math.inf:
        stop = start + _untouched(cols, start, stop, floor, ceiling)
        if stop - start < MIN_QUIET_BARS:
            return 0
    k = strategy.skip(
        0, m.open[start:stop], m.high[start:stop], m.low[start:stop], m.close[start:stop],
        m.volume[start:stop],
    )  # fmt: skip
    if k:
        _advance(ex, venue, symbol, cols, start, start + k)
    return k


def _exit_levels(ex: Executor, levels: tuple[float, float]) -> tuple[float, float] | None:
    """Narrow the venue's ``levels`` to the position's TP/SL: decide_exit exits on a bar whose
    open or low reaches the lower level (a long's SL, a short's TP), or whose open or high
    reaches the upper one; None when the position has no finite levels."""
    symbol = ex.symbols[0]
    entry = ex.registry.get(symbol)
    if entry is None or not (math.isfinite(entry.tp_price) and math.isfinite(entry.sl_price)):
        return None
    lower, upper = entry.sl_price, entry.tp_price
    if ex.ledger.positions[symbol].side is not Side.LONG:
        lower, upper = upper, lower
    return max(levels[0], lower), min(levels[1], upper)


def _untouched(cols: BarColumns, start: int, stop: int, floor: float, ceiling: float) -> int:
    """How many leading bars of ``[start, stop)`` stay strictly between ``floor`` and
    ``ceiling`` (open and low above the one, open and high below the other). A Python loop that
    stops at the first touch: quiet runs are short, where numpy's per-call cost dominates."""
    lows, highs, offset = cols.reach_low, cols.reach_high, cols.first
    for j in range(start - offset, stop - offset):
        if lows[j] <= floor or highs[j] >= ceiling:
            return j + offset - start
    return stop - start


def _advance(
    ex: Executor, venue: QuietBarsVenue, symbol: str, cols: BarColumns, start: int, end: int
) -> None:
    """What stepping bars ``[start, end)`` leaves, none of which fills, exits or signals."""
    book, closes = ex.book, cols.merged.close
    last_close, last_ts = closes[end - 1], cols.merged.ts[end - 1]
    returns = cols.returns[start - cols.first : end - cols.first]
    book.on_quiet_closes(0, last_ts, last_close, returns, cols.returns_finite)
    venue.pass_quiet(symbol, last_close)
    _update_nav(ex, symbol, closes[start:end])
    prev_ts = cols.merged.ts[end - 2] if end - start > 1 else last_ts
    diag.record_loops(end - start, prev_ts, last_ts)


def _update_nav(ex: Executor, symbol: str, closes: Sequence[float]) -> None:
    """Book.update_nav at each close: the NAV of the last, the peak raised to the highest.

    A NAV is a chain of correctly rounded operations, each monotonic in the close, so the
    highest NAV is that of the highest close (long) or the lowest (short): one more NAV computed,
    the way update_nav computes it (``balance + (0.0 + unrealized)``).
    """
    book, positions = ex.book, ex.ledger.positions
    balance = ex.exchange.balance()
    book.update_nav(balance, positions.values())  # the mark is the last close
    position = positions.get(symbol)
    if position is not None:
        best = max(closes) if position.side is Side.LONG else min(closes)
        peak = balance + (0.0 + position.unrealized_pnl(best))
        if peak > book.peak_nav:
            book.peak_nav = peak
