"""Exit scanner: TP/SL exits for open positions, and the exit-pipeline health counts.

The decision (:func:`decide_exit`) is pure. Long: SL when price <= sl, TP when price >= tp;
short mirrored. In replay a bar's low/high is the price path: a bar that *opens* beyond a level
fills at its open (the gap); otherwise the fill is at the level, and when one bar crosses both
levels the SL wins (the conservative reading of an unknown intra-bar path). Live, the mark price
is used (open = high = low = mark).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from execution.diagnostics_metrics import (
    record_exit_scan_run,
    record_exit_trigger,
    update_exit_pipeline_status,
)
from execution.types import BarTuple, ExitIntent, ExitKind, Side


class _OpenPosition(Protocol):
    symbol: str
    side: Side
    qty: float
    entry_price: float


class _Entry(Protocol):
    symbol: str
    tp_price: float
    sl_price: float


class _Ledger(Protocol):
    def get_open_positions(self) -> list[Any]: ...


class _Registry(Protocol):
    def get_all_entries(self) -> list[Any]: ...


PriceObs = tuple[float, float, float, float]  # open, high, low, close


def decide_exit(
    side: Side, tp: float, sl: float, o: float, h: float, lo: float
) -> tuple[ExitKind, float] | None:
    """Return (kind, fill price) if this bar exits the position, else None."""
    if side is Side.LONG:
        if o <= sl:
            return ExitKind.SL, o
        if o >= tp:
            return ExitKind.TP, o
        if lo <= sl:
            return ExitKind.SL, sl
        if h >= tp:
            return ExitKind.TP, tp
        return None
    if o >= sl:
        return ExitKind.SL, o
    if o <= tp:
        return ExitKind.TP, o
    if h >= sl:
        return ExitKind.SL, sl
    if lo <= tp:
        return ExitKind.TP, tp
    return None


@dataclass(frozen=True, slots=True)
class ExitPipelineCounts:
    open_positions_count: int = 0
    tp_sl_registered_count: int = 0
    tp_sl_missing_count: int = 0
    underwater_without_tp_sl_count: int = 0


@dataclass(slots=True)
class ExitScanResult:
    exit_intents: Sequence[ExitIntent] = field(default_factory=list)
    counts: ExitPipelineCounts = ExitPipelineCounts()
    missing_symbols: Sequence[str] = field(default_factory=list)


# What a scan with no open position returns (the common case, every loop): one shared,
# immutable result rather than a new one.
NOTHING_OPEN = ExitScanResult((), ExitPipelineCounts(), ())


def pipeline_counts(
    open_positions: list[_OpenPosition],
    tp_sl_symbols: set[str],
    marks: Mapping[str, float],
    underwater_threshold: float,
    canary_enabled: bool = True,
) -> ExitPipelineCounts:
    """Count open positions, TP/SL coverage and positions under water without TP/SL."""
    open_symbols = {p.symbol for p in open_positions}
    underwater = 0
    if canary_enabled:
        for p in open_positions:
            mark = marks.get(p.symbol)
            if p.symbol in tp_sl_symbols or mark is None or p.entry_price <= 0:
                continue
            pnl_pct = (mark - p.entry_price) / p.entry_price * p.side.sign
            if pnl_pct <= underwater_threshold:
                underwater += 1
    return ExitPipelineCounts(
        open_positions_count=len(open_positions),
        tp_sl_registered_count=len(open_symbols & tp_sl_symbols),
        tp_sl_missing_count=len(open_symbols - tp_sl_symbols),
        underwater_without_tp_sl_count=underwater,
    )


def scan_tp_sl_exits(
    ledger: _Ledger,
    registry: _Registry,
    prices: Mapping[str, PriceObs],
    marks: Mapping[str, float],
    now: float,
    underwater_threshold: float = -0.02,
    canary_enabled: bool = True,
) -> ExitScanResult:
    """Scan every open position against its TP/SL; return the exit intents to route.

    ``prices`` holds this loop's price path per symbol (a bar, or the mark four times);
    symbols without a new price are not tested. ``marks`` are the latest marks for the
    under-water canary. The spec's diagnostics: the scan, each trigger, the counts.
    """
    record_exit_scan_run()
    result = find_exits(ledger, registry, prices, marks, now, underwater_threshold, canary_enabled)
    for intent in result.exit_intents:
        record_exit_trigger(intent.kind.value, intent.symbol)
    counts = result.counts
    update_exit_pipeline_status(
        open_positions_count=counts.open_positions_count,
        tp_sl_registered_count=counts.tp_sl_registered_count,
        tp_sl_missing_count=counts.tp_sl_missing_count,
        underwater_without_tp_sl_count=counts.underwater_without_tp_sl_count,
    )
    return result


def find_exits(
    ledger: _Ledger,
    registry: _Registry,
    prices: Mapping[str, PriceObs],
    marks: Mapping[str, float],
    now: float,
    underwater_threshold: float = -0.02,
    canary_enabled: bool = True,
) -> ExitScanResult:
    """The scan of :func:`scan_tp_sl_exits` without its diagnostics: pure.

    The executor records the scan with its loop (one diagnostics call per loop) and reports the
    counts only when they change: equal counts come back as the same object.
    """
    # The ledger's own dict when it has one (PositionLedger), else its accessor's list; the
    # registry's likewise.
    held: Mapping[str, Any] | None = getattr(ledger, "positions", None)
    open_positions = held.values() if isinstance(held, dict) else ledger.get_open_positions()
    if not open_positions:  # the common case: nothing to test, every count is zero
        return NOTHING_OPEN
    entries: Mapping[str, Any] | None = getattr(registry, "entries", None)
    if not isinstance(entries, dict):
        entries = {e.symbol: e for e in registry.get_all_entries()}
    intents: list[ExitIntent] = []
    missing: list[str] = []
    for pos in open_positions:
        symbol = pos.symbol
        entry = entries.get(symbol)
        if entry is None:
            missing.append(symbol)
            continue
        obs = prices.get(symbol)
        if obs is None:
            continue
        decision = decide_exit(pos.side, entry.tp_price, entry.sl_price, obs[0], obs[1], obs[2])
        if decision is None:
            continue
        kind, price = decision
        level = entry.sl_price if kind is ExitKind.SL else entry.tp_price
        intents.append(ExitIntent(symbol, pos.side, pos.qty, price, kind, now, level))
    if missing:
        counts = pipeline_counts(
            list(open_positions), set(entries), marks, underwater_threshold, canary_enabled
        )
        return ExitScanResult(intents, counts, missing)
    # Every position has its levels: what pipeline_counts returns, without the sets.
    n = len(open_positions)
    result = _ONE_COVERED if n == 1 else _fully_covered(n, len({p.symbol for p in open_positions}))
    return ExitScanResult(intents, result.counts, ()) if intents else result


@lru_cache(maxsize=1024)
def _fully_covered(n_positions: int, n_symbols: int) -> ExitScanResult:
    """A scan that found nothing to exit: one shared, immutable result per count."""
    return ExitScanResult((), ExitPipelineCounts(n_positions, n_symbols, 0, 0), ())


_ONE_COVERED = _fully_covered(1, 1)  # one position with its levels: the usual held bar


def bar_prices(
    symbols: Sequence[str], bars: Sequence[BarTuple], held: Mapping[str, Any]
) -> dict[str, PriceObs]:
    """The (open, high, low, close) of each bar whose symbol is ``held``: the only prices the
    scanner reads (a slice of the bar tuple, in one C call)."""
    prices: dict[str, Any] = {}
    for b in bars:
        symbol = symbols[b[0]]
        if symbol in held:
            prices[symbol] = b[2:6]
    return prices
