"""A CSV replay streamed from its files: the bars are read, merged and replayed chunk by chunk.

``open_csv_replay`` checks every file first (rejects counted, errors raised, the bar count and
first time known: what ``load_csv_dir`` + ``merge_series`` give) and holds only that; the loops
of ``StreamedBars.loops`` then read each series again in chunks and merge them by (time,
symbol position) k ways, so a replay holds one chunk per symbol, not the file: its memory does
not grow with the length of the data. The loops are those of the merged arrays, bar for bar.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from execution.market.bars import MergedBars, time_group_ends
from execution.market.csv_chunks import CHUNK_ROWS
from execution.market.csv_format import RawBars
from execution.market.files import DataFile
from execution.market.perp_series import PerpData
from execution.market.replay_dir import instrument_files, load_dir, perp_data, warn_spacing
from execution.market.series import c_array, timeframe_seconds_or_none
from execution.market.series_scan import SeriesPlan, scan_series
from execution.types import BarTuple, RejectCounts


@dataclass(frozen=True, slots=True)
class InstrumentPlan:
    """One instrument as a first pass left it: its bars to read again, its perp data read."""

    bars: SeriesPlan
    perp: PerpData | None


@dataclass(frozen=True, slots=True)
class StreamedBars:
    """The bars of a CSV replay directory, read from the files as the loops are consumed.

    Reads like ``MergedBars`` where the runner reads it (``symbols``, ``perps``, ``len``,
    ``first_ts``, ``loops``); it holds no bar column (no ``ts``).
    """

    symbols: list[str]
    plans: Mapping[str, SeriesPlan]
    perps: Mapping[str, PerpData] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(p.n_bars for p in self.plans.values())

    @property
    def first_ts(self) -> float:
        return min((p.first_ts for p in self.plans.values()), default=0.0)

    def in_order(self, symbols_order: Sequence[str]) -> StreamedBars:
        """The same bars merged in ``symbols_order`` (the symbols it lacks follow, sorted), as
        ``merge_series`` orders them."""
        order = list(symbols_order)
        if len(set(order)) != len(order):
            raise ValueError("in_order: symbols_order has duplicates")
        known = set(order)
        symbols = order + sorted(s for s in self.plans if s not in known)
        return StreamedBars(symbols, self.plans, self.perps)

    def blocks(self) -> Iterator[MergedBars]:
        """The merged bars in blocks, each holding every bar of the times it holds."""
        sources = [
            (i, self.plans[s].chunks()) for i, s in enumerate(self.symbols) if s in self.plans
        ]
        return merge_chunks(self.symbols, sources)

    def loops(self, start: int = 0) -> Iterator[Sequence[BarTuple]]:
        """The bars from bar ``start`` on, one list per time (as ``MergedBars.loops``)."""
        for block in self.blocks():
            n = len(block)
            if start >= n:
                start -= n
                continue
            yield from block.loops(start)
            start = 0


def merge_chunks(
    symbols: list[str], sources: Sequence[tuple[int, Iterator[RawBars]]]
) -> Iterator[MergedBars]:
    """Merge per-symbol chunk streams (each strictly increasing in time) k ways.

    Each round takes, from every symbol, its bars up to the earliest last time among the
    symbols' current chunks: no bar of those times can be in a chunk not yet read.
    """
    iters = dict(sources)
    bufs: dict[int, list[np.ndarray]] = {}
    for i in iters:
        _refill(i, iters, bufs)
    while bufs:
        horizon = min(cols[0][-1] for cols in bufs.values())
        taken: list[tuple[int, list[np.ndarray]]] = []
        for i, cols in list(bufs.items()):
            n = int(np.searchsorted(cols[0], horizon, side="right"))
            if n:
                taken.append((i, [c[:n] for c in cols]))
                bufs[i] = [c[n:] for c in cols]
            if not len(bufs[i][0]):
                del bufs[i]
                _refill(i, iters, bufs)
        yield _merge_block(symbols, taken)


def _refill(i: int, iters: dict[int, Iterator[RawBars]], bufs: dict[int, list[np.ndarray]]) -> None:
    for chunk in iters[i]:
        if len(chunk[0]):
            bufs[i] = list(chunk)
            return


def _merge_block(symbols: list[str], taken: list[tuple[int, list[np.ndarray]]]) -> MergedBars:
    idx = np.concatenate([np.full(len(cols[0]), i, dtype=np.int64) for i, cols in taken])
    ts_all = np.concatenate([cols[0] for _, cols in taken])
    perm = np.lexsort((idx, ts_all))
    ts_sorted = ts_all[perm]
    ts, op, hi, lo, cl, vo = (
        c_array("d", np.concatenate([cols[k] for _, cols in taken])[perm]) for k in range(6)
    )
    ends = time_group_ends(ts_sorted)
    return MergedBars(symbols, ts, c_array("q", idx[perm]), op, hi, lo, cl, vo, ends)


def _scan_instrument(
    symbol: str,
    files: Sequence[DataFile],
    timeframe: str | None,
    rejects: RejectCounts,
    rows: int = CHUNK_ROWS,
) -> InstrumentPlan | None:
    picked = instrument_files(symbol, files, timeframe)
    plan = scan_series(symbol, picked.bars, rejects, rows)
    if not plan.n_bars:
        return None
    if plan.n_bars >= 3:
        warn_spacing(plan.median_spacing, picked.bars, timeframe_seconds_or_none(timeframe))
    return InstrumentPlan(plan, perp_data(symbol, picked, rejects))


def open_csv_replay(
    path: str | Path, timeframe: str | None = None, rows: int = CHUNK_ROWS
) -> tuple[StreamedBars, RejectCounts]:
    """Check a replay directory as ``load_csv_dir`` does; its bars as a stream (symbols sorted:
    ``StreamedBars.in_order`` sets the engine's order). ``rows``: rows read per chunk."""
    plans, rejects = load_dir(path, timeframe, partial(_scan_instrument, rows=rows))
    perps = {s: p.perp for s, p in plans.items() if p.perp is not None}
    return StreamedBars(sorted(plans), {s: p.bars for s, p in plans.items()}, perps), rejects
