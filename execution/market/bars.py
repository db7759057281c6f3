"""Market data for the engine: validated OHLCV series from CSV replay files or the synthetic
generator, and their merge into the time-ordered bar stream the engine's loop iterates.

Bad bars are never fatal: they are dropped and counted per symbol and reason in a
``RejectCounts``. Only unusable input (missing directory, no CSV files, a file whose format
cannot be recognised or whose every line is rejected, nothing valid at all) raises
``DataError``, which the CLI maps to exit 2. The pieces live in ``series`` (bars and their
validation), ``csv_format`` (reading one file), ``files`` (the naming rule), ``replay_dir``
(a directory of instruments) and ``perp_series`` (mark and funding); this module keeps the
public names in one place.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np

from execution.clock import from_iso
from execution.config import SymbolSpec, SyntheticConfig
from execution.market.csv_format import DataError, read_bar_file
from execution.market.files import parse_data_filename, symbol_from_filename
from execution.market.perp_series import PerpData
from execution.market.replay_dir import load_csv_dir
from execution.market.series import (
    _FIELDS,
    REJECT_REASONS,
    BarSeries,
    c_array,
    concat_series,
    timeframe_seconds,
    validate_bars,
)
from execution.market.synthetic import RawBars, SyntheticGenerator, synthetic_perp_data
from execution.types import BarTuple, RejectCounts

__all__ = [
    "DEFAULT_CHUNK_BARS",
    "REJECT_REASONS",
    "BarColumns",
    "BarSeries",
    "DataError",
    "MergedBars",
    "SyntheticStream",
    "concat_series",
    "load_csv_dir",
    "load_csv_file",
    "merge_series",
    "parse_data_filename",
    "symbol_from_filename",
    "synthetic_series",
    "time_group_ends",
    "timeframe_seconds",
    "validate_bars",
]

DEFAULT_CHUNK_BARS = 1024


def load_csv_file(
    path: str | Path, symbol: str | None = None, rejects: RejectCounts | None = None
) -> tuple[BarSeries, RejectCounts]:
    """Load and validate one CSV file; the symbol defaults to the one in the file name."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: CSV file does not exist")
    sym = symbol or symbol_from_filename(p)
    counts = rejects if rejects is not None else RejectCounts()
    cols, malformed = read_bar_file(p)
    counts.add(sym, "malformed_line", malformed)
    return validate_bars(sym, *cols, counts), counts


# --- synthetic --------------------------------------------------------------------------------


def _start_ts(cfg: SyntheticConfig, start_ts: float | None) -> float:
    if start_ts is not None:
        return float(start_ts)
    parsed = from_iso(cfg.start)
    if parsed is None:
        raise ValueError(f"data.synthetic.start: not an ISO-8601 timestamp ({cfg.start!r})")
    return parsed


def _wrap(raw: Mapping[str, RawBars]) -> dict[str, BarSeries]:
    return {sym: BarSeries(sym, *cols) for sym, cols in raw.items()}


def _with_perps(
    raw: Mapping[str, RawBars], cfg: SyntheticConfig, tf: float
) -> dict[str, BarSeries]:
    return {
        sym: BarSeries(sym, *cols, perp=synthetic_perp_data(cfg.seed, sym, cols, tf))
        for sym, cols in raw.items()
    }


def synthetic_series(
    specs: Sequence[SymbolSpec],
    n_bars: int,
    cfg: SyntheticConfig,
    timeframe_seconds: float,
    start_ts: float | None = None,
) -> dict[str, BarSeries]:
    """Generate n_bars correlated synthetic bars per symbol; the same seed gives the same bits.

    The result equals the concatenation of SyntheticStream chunks of any size. With
    ``cfg.funding`` each series also carries a funding series and a mark (``BarSeries.perp``).
    """
    if n_bars < 0:
        raise ValueError(f"n_bars must be >= 0 (got {n_bars})")
    gen = SyntheticGenerator(specs, cfg, timeframe_seconds, _start_ts(cfg, start_ts))
    raw = gen.generate(n_bars)
    return _with_perps(raw, cfg, timeframe_seconds) if cfg.funding else _wrap(raw)


class SyntheticStream:
    """Endless synthetic bars in fixed-size chunks, continuing exactly where the last one ended."""

    def __init__(
        self,
        specs: Sequence[SymbolSpec],
        cfg: SyntheticConfig,
        timeframe_seconds: float,
        start_ts: float | None = None,
        chunk_bars: int = DEFAULT_CHUNK_BARS,
    ) -> None:
        if chunk_bars < 1:
            raise ValueError(f"chunk_bars must be >= 1 (got {chunk_bars})")
        self.chunk_bars = chunk_bars
        self._gen = SyntheticGenerator(specs, cfg, timeframe_seconds, _start_ts(cfg, start_ts))

    @property
    def bars_emitted(self) -> int:
        """Return how many bars per symbol the stream has produced so far."""
        return self._gen.bars_emitted

    def next_chunk(self) -> dict[str, BarSeries]:
        """Generate the next chunk_bars bars of every symbol."""
        return _wrap(self._gen.generate(self.chunk_bars))


# --- merge ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MergedBars:
    """All symbols' bars in (ts, symbol order) order, as flat columns for the engine's hot loop.

    ``merge_series`` builds them as C arrays (``array('d')``, ``array('q')``): 8 bytes a value,
    no Python object per bar, nothing for the cyclic GC to walk (a list of 4.5M floats is 32
    bytes a value and is walked at every full collection); iterating one yields plain floats.
    """

    symbols: list[str]
    ts: Sequence[float]
    sym_idx: Sequence[int]
    open: Sequence[float]
    high: Sequence[float]
    low: Sequence[float]
    close: Sequence[float]
    volume: Sequence[float]
    # The end (exclusive) of each run of bars that share a time: one engine loop each (a C
    # array of 8-byte ints, not a list of int objects: a replay of 2M bars has 2M loops).
    group_ends: Sequence[int] = field(default_factory=list)
    # Mark and funding series by symbol, for the symbols whose data has them.
    perps: Mapping[str, PerpData] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ts)

    def rows(self) -> Iterator[BarTuple]:
        """The bars in order as ``(idx, ts, open, high, low, close, volume)`` tuples."""
        return zip(
            self.sym_idx, self.ts, self.open, self.high, self.low, self.close, self.volume,
            strict=True,
        )  # fmt: skip

    @property
    def first_ts(self) -> float:
        """The first bar's time (0.0 when there is none)."""
        return self.ts[0] if self.ts else 0.0

    def loops(self, start: int = 0) -> Iterator[Sequence[BarTuple]]:
        """The bars from bar ``start`` on, one list per time (one engine loop each).

        A resume point inside a time's bars starts there.
        """
        ends = self.loop_ends()
        g = bisect_right(ends, start)
        rows = self.rows()
        if start:
            next(islice(rows, start, start), None)
        i = start
        next_row = rows.__next__
        for j in islice(ends, g, None):
            yield [next_row()] if j - i == 1 else list(islice(rows, j - i))
            i = j

    def loop_ends(self) -> Sequence[int]:
        """``group_ends``, computed here when the bars were built without them."""
        if self.group_ends or not self.ts:
            return self.group_ends
        return time_group_ends(np.asarray(self.ts))


@dataclass(frozen=True, slots=True)
class BarColumns:
    """A window of a one-symbol block of merged bars (each loop one bar), as numpy arrays over
    the block's C arrays (views, no copy), with what passing over quiet bars reads computed once
    for bars ``[first, end)`` (indexed from ``first``); ``merged`` keeps the C arrays, which a
    Python loop reads faster than numpy's."""

    merged: MergedBars
    ts: np.ndarray
    close: np.ndarray
    high: np.ndarray
    low: np.ndarray
    first: int
    end: int
    reach_high: list[float]  # max(open, high): the exit scanner's upward tests in one
    reach_low: list[float]  # min(open, low)
    returns: np.ndarray  # close[j] / close[j - 1] - 1.0 (the book's return); NaN at bar 0
    returns_finite: bool  # every one but bar 0's

    @classmethod
    def window(cls, merged: MergedBars, first: int, size: int) -> BarColumns:
        """Bars ``[first, first + size)`` of ``merged`` (fewer at its end)."""
        m, end = merged, min(len(merged), first + size)
        ts, op, high, low, close = (_view(c) for c in (m.ts, m.open, m.high, m.low, m.close))
        base = max(first, 1)
        returns = np.empty(end - first)
        returns[: base - first] = math.nan
        np.subtract(close[base:end] / close[base - 1 : end - 1], 1.0, out=returns[base - first :])
        finite = bool(np.isfinite(returns[base - first :]).all())
        # Lists: a Python loop reads them (a numpy scalar per read would cost more).
        reach_high = np.maximum(op[first:end], high[first:end]).tolist()
        reach_low = np.minimum(op[first:end], low[first:end]).tolist()
        return cls(m, ts, close, high, low, first, end, reach_high, reach_low, returns, finite)


def one_symbol_loops(merged: MergedBars) -> bool:
    """Whether each loop of ``merged`` is one bar, all of symbol 0 (a one-symbol replay)."""
    m = merged
    return len(m.loop_ends()) == len(m) and not np.any(_view(m.sym_idx, np.int64))


def _view(values: Sequence[float] | Sequence[int], dtype: type = np.float64) -> np.ndarray:
    if isinstance(values, array):
        return np.frombuffer(values, dtype=dtype)
    return np.asarray(values, dtype=dtype)


def time_group_ends(ts: np.ndarray) -> array[int]:
    """End indices (exclusive) of the runs of equal values in the sorted ``ts``."""
    ends = array("q")
    if len(ts):
        ends.frombytes((np.flatnonzero(ts[1:] != ts[:-1]) + 1).astype(np.int64).tobytes())
        ends.append(len(ts))
    return ends


def merge_series(series: Mapping[str, BarSeries], symbols_order: Sequence[str]) -> MergedBars:
    """Merge per-symbol series into one stream sorted by (ts, symbol position), stably.

    Symbols missing from symbols_order are appended in sorted order; sym_idx indexes symbols.
    """
    order = list(symbols_order)
    if len(set(order)) != len(order):
        raise ValueError("merge_series: symbols_order has duplicates")
    known = set(order)
    symbols = order + sorted(s for s in series if s not in known)
    parts = [(i, series[s]) for i, s in enumerate(symbols) if s in series]
    if not parts:
        return MergedBars(symbols, [], [], [], [], [], [], [])
    idx = np.concatenate([np.full(len(bs), i, dtype=np.int64) for i, bs in parts])
    ts_all = np.concatenate([bs.ts for _, bs in parts])
    perm = np.lexsort((idx, ts_all))  # last key is primary; lexsort is stable
    ends = time_group_ends(ts_all[perm])
    del ts_all
    # One column at a time, joined, sorted and copied out: peak memory holds one column's
    # temporaries, not six (a 4.5M-bar replay's columns are 36 MB each).
    ts, op, hi, lo, cl, vo = (
        c_array("d", np.concatenate([getattr(bs, f) for _, bs in parts])[perm]) for f in _FIELDS
    )
    perps = {s: p for s, bs in series.items() if (p := bs.perp) is not None}
    return MergedBars(symbols, ts, c_array("q", idx[perm]), op, hi, lo, cl, vo, ends, perps)
