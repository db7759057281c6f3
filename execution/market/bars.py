"""Market data for the engine: validated OHLCV series from CSV replay files or the synthetic
generator, and their merge into the time-ordered bar stream the engine's loop iterates.

Bad bars are never fatal: they are dropped and counted per symbol and reason in a
``RejectCounts``. Only unusable input (missing directory, no CSV files, a file whose format
cannot be recognised, nothing valid at all) raises ``DataError``, which the CLI maps to exit 2.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from execution.clock import from_iso
from execution.config import SymbolSpec, SyntheticConfig
from execution.market.synthetic import RawBars, SyntheticGenerator
from execution.types import BarTuple, RejectCounts

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# In the order they are tested: a rejected bar is counted once, for the first that applies.
REJECT_REASONS = (
    "malformed_line",
    "nan",
    "non_positive",
    "high_below_low",
    "open_outside_range",
    "close_outside_range",
    "duplicate_ts",
    "out_of_order_ts",
)
DEFAULT_CHUNK_BARS = 1024
_TIMEFRAMES = {"1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600}
_TIMEFRAMES |= {"4h": 14_400, "1d": 86_400}
_FIELDS = ("ts", "open", "high", "low", "close", "volume")
_TS_ALIASES = ("timestamp", "ts", "open_time", "time", "datetime", "date")
_BINANCE_KLINE_FIELDS = 12
_NAN_LITERALS = frozenset({"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity"})
_NAN_LITERALS |= {"+infinity", "-infinity"}
_EPOCH = pd.Timestamp(0, tz="UTC")


class DataError(Exception):
    """Market data that cannot be used at all; the message is one line naming the path."""


def timeframe_seconds(tf: str) -> int:
    """Return the length in seconds of a timeframe such as "1m", "4h" or "1d"."""
    try:
        return _TIMEFRAMES[tf]
    except KeyError:
        raise ValueError(f"unknown timeframe {tf!r} (known: {', '.join(_TIMEFRAMES)})") from None


@dataclass(frozen=True, slots=True, eq=False)
class BarSeries:
    """One symbol's bars as parallel float64 arrays; ts is epoch seconds (UTC) of the bar open."""

    symbol: str
    ts: FloatArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __post_init__(self) -> None:
        n = len(self.ts)
        for name in _FIELDS:
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.float64)
            if arr.ndim != 1 or len(arr) != n:
                raise ValueError(f"BarSeries {self.symbol}: {name} must be 1-D of length {n}")
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls, symbol: str) -> BarSeries:
        """Return a series with no bars."""
        e = np.empty(0, dtype=np.float64)
        return cls(symbol, e, e, e, e, e, e)

    def equals(self, other: BarSeries) -> bool:
        """Return True if both series have the same symbol and bit-identical arrays."""
        return self.symbol == other.symbol and all(
            np.array_equal(getattr(self, f), getattr(other, f), equal_nan=True) for f in _FIELDS
        )


def concat_series(parts: Sequence[BarSeries]) -> BarSeries:
    """Join consecutive pieces of one symbol's series (no validation, no reordering)."""
    if not parts:
        raise ValueError("concat_series needs at least one part")
    symbol = parts[0].symbol
    if any(p.symbol != symbol for p in parts):
        raise ValueError(f"concat_series: parts of different symbols (first is {symbol})")
    cols = [np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS]
    return BarSeries(symbol, *cols)


def validate_bars(
    symbol: str,
    ts: NDArray[np.floating] | Sequence[float],
    o: NDArray[np.floating] | Sequence[float],
    h: NDArray[np.floating] | Sequence[float],
    l: NDArray[np.floating] | Sequence[float],  # noqa: E741 - the conventional OHLC letter
    c: NDArray[np.floating] | Sequence[float],
    v: NDArray[np.floating] | Sequence[float],
    rejects: RejectCounts,
) -> BarSeries:
    """Drop bad bars, count each once under its first failing reason, return the rest.

    Value checks come first; the time checks then see only value-valid bars, keeping bar i iff
    its ts is above every earlier value-valid ts, so the result is strictly increasing in ts.
    """
    t, op, hi, lo, cl, vo = _columns(symbol, (ts, o, h, l, c, v))
    finite = np.isfinite(t) & np.isfinite(op) & np.isfinite(hi) & np.isfinite(lo)
    finite &= np.isfinite(cl) & np.isfinite(vo)
    checks: list[tuple[str, BoolArray]] = [
        ("nan", ~finite),
        ("non_positive", (op <= 0) | (hi <= 0) | (lo <= 0) | (cl <= 0) | (vo < 0)),
        ("high_below_low", hi < lo),
        ("open_outside_range", (op < lo) | (op > hi)),
        ("close_outside_range", (cl < lo) | (cl > hi)),
    ]
    alive = np.ones(len(t), dtype=np.bool_)
    for reason, bad in checks:
        hit = bad & alive
        rejects.add(symbol, reason, int(hit.sum()))
        alive &= ~hit
    idx = np.flatnonzero(alive)
    tv = t[idx]
    prev_max = np.full(len(tv), -np.inf)
    if len(tv) > 1:
        prev_max[1:] = np.maximum.accumulate(tv)[:-1]
    rejects.add(symbol, "duplicate_ts", int((tv == prev_max).sum()))
    rejects.add(symbol, "out_of_order_ts", int((tv < prev_max).sum()))
    keep = idx[tv > prev_max]
    return BarSeries(symbol, t[keep], op[keep], hi[keep], lo[keep], cl[keep], vo[keep])


def _columns(symbol: str, cols: Sequence[object]) -> list[FloatArray]:
    arrs = [np.asarray(col, dtype=np.float64) for col in cols]
    n = len(arrs[0])
    if any(a.ndim != 1 or len(a) != n for a in arrs):
        raise ValueError(f"validate_bars {symbol}: ts/o/h/l/c/v must be 1-D of equal length")
    return arrs


# --- CSV replay -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the fields are: header line present?, fields per line, column of ts/o/h/l/c/v."""

    header: bool
    n_fields: int
    cols: tuple[int, int, int, int, int, int | None]  # volume may be absent (-> 0)


def symbol_from_filename(path: str | Path) -> str:
    """Return the symbol a CSV file holds: its stem up to the first '-' (ADABTC-1m-... -> ADABTC)."""
    stem = Path(path).stem
    return stem.split("-", 1)[0] or stem


def _header_layout(names: list[str]) -> _Layout | None:
    ts_col = next((names.index(a) for a in _TS_ALIASES if a in names), None)
    if ts_col is None or not {"open", "high", "low", "close"} <= set(names):
        return None
    ohlc = (names.index("open"), names.index("high"), names.index("low"), names.index("close"))
    vol = names.index("volume") if "volume" in names else None
    return _Layout(True, len(names), (ts_col, *ohlc, vol))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _detect_layout(path: Path, lines: list[str]) -> _Layout:
    first = [f.strip().strip("\"'").lower() for f in lines[0].split(",")]
    headered = _header_layout(first)
    if headered is not None:
        return headered
    counts = Counter(ln.count(",") + 1 for ln in lines[:50])
    if counts.most_common(1)[0][0] == _BINANCE_KLINE_FIELDS:
        # Binance bulk klines; tolerate any header line (its first field is not a number).
        return _Layout(not _is_number(first[0]), _BINANCE_KLINE_FIELDS, (0, 1, 2, 3, 4, 5))
    raise DataError(
        f"{path}: unrecognised CSV format (want a timestamp,open,high,low,close,volume header "
        f"or 12-column Binance klines; first line {lines[0][:60]!r})"
    )


def _parse_floats(col: Sequence[str]) -> tuple[FloatArray, BoolArray]:
    """Return the values and which fields parsed; a literal "nan"/"inf" parses (it is data)."""
    try:
        return np.array(col, dtype=np.float64), np.ones(len(col), dtype=np.bool_)
    except (ValueError, TypeError):
        pass  # at least one bad field: fall back to the element-wise, forgiving path
    s = pd.Series(col, dtype=object)
    vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    literal = s.str.strip().str.lower().isin(_NAN_LITERALS).to_numpy(dtype=np.bool_)
    return vals, ~np.isnan(vals) | literal


def _epoch_seconds(x: FloatArray) -> FloatArray:
    """Scale epoch numbers to seconds by magnitude: >= 1e14 is µs, >= 1e11 is ms."""
    a = np.abs(x)
    return np.where(a >= 1e14, x / 1e6, np.where(a >= 1e11, x / 1e3, x))


def _parse_timestamps(col: Sequence[str]) -> tuple[FloatArray, BoolArray]:
    raw, ok = _parse_floats(col)
    secs = _epoch_seconds(raw)
    if ok.all():
        return secs, ok
    bad = np.flatnonzero(~ok)
    text = pd.Series(np.asarray(col, dtype=object)[bad]).str.strip()
    try:
        dt = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        iso = ((dt - _EPOCH) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError, OverflowError):
        iso = np.full(len(bad), np.nan)
    secs[bad] = iso
    ok[bad] = ~np.isnan(iso)
    return secs, ok


def _as_raw(cols: Sequence[FloatArray]) -> RawBars:
    return cols[0], cols[1], cols[2], cols[3], cols[4], cols[5]


def _empty_raw() -> RawBars:
    return _as_raw([np.empty(0, dtype=np.float64) for _ in _FIELDS])


def _read_raw(path: Path) -> tuple[RawBars, int]:
    """Return the six parsed columns of one file and how many lines were malformed."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None
    lines = [ln for ln in text.lstrip("\ufeff").splitlines() if ln.strip()]
    if not lines:
        return _empty_raw(), 0
    layout = _detect_layout(path, lines)
    rows = [ln.split(",") for ln in (lines[1:] if layout.header else lines)]
    good = [r for r in rows if len(r) == layout.n_fields]
    malformed = len(rows) - len(good)
    if not good:
        return _empty_raw(), malformed
    fields = list(zip(*good, strict=True))
    ts_col, *value_cols = layout.cols
    ts, ok = _parse_timestamps(fields[ts_col])
    cols = [ts]
    for col in value_cols:
        if col is None:
            cols.append(np.zeros(len(good), dtype=np.float64))
            continue
        vals, parsed = _parse_floats(fields[col])
        cols.append(vals)
        ok &= parsed
    return _as_raw([c[ok] for c in cols]), malformed + int((~ok).sum())


def load_csv_file(
    path: str | Path, symbol: str | None = None, rejects: RejectCounts | None = None
) -> tuple[BarSeries, RejectCounts]:
    """Load and validate one CSV file; the symbol defaults to the one in the file name."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: CSV file does not exist")
    sym = symbol or symbol_from_filename(p)
    counts = rejects if rejects is not None else RejectCounts()
    cols, malformed = _read_raw(p)
    counts.add(sym, "malformed_line", malformed)
    return validate_bars(sym, *cols, counts), counts


def load_csv_dir(path: str | Path) -> tuple[dict[str, BarSeries], RejectCounts]:
    """Load every *.csv in a directory (not recursive), one symbol's files joined in name order.

    Symbols left with no valid bar are omitted from the result (their rejects are counted).
    """
    d = Path(path)
    if not d.is_dir():
        what = "is not a directory" if d.exists() else "does not exist"
        raise DataError(f"{d}: data directory {what}")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
    if not files:
        raise DataError(f"{d}: no *.csv files in the data directory")
    by_symbol: dict[str, list[Path]] = {}
    for f in files:
        by_symbol.setdefault(symbol_from_filename(f), []).append(f)
    rejects = RejectCounts()
    out: dict[str, BarSeries] = {}
    for sym, paths in by_symbol.items():
        raws = [_read_raw(p) for p in paths]
        rejects.add(sym, "malformed_line", sum(m for _, m in raws))
        cols = _as_raw([np.concatenate([r[0][i] for r in raws]) for i in range(len(_FIELDS))])
        series = validate_bars(sym, *cols, rejects)
        if len(series):
            out[sym] = series
    if not out:
        raise DataError(
            f"{d}: no valid bar in {len(files)} CSV file(s) ({rejects.total} lines rejected)"
        )
    return out, rejects


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


def synthetic_series(
    specs: Sequence[SymbolSpec],
    n_bars: int,
    cfg: SyntheticConfig,
    timeframe_seconds: float,
    start_ts: float | None = None,
) -> dict[str, BarSeries]:
    """Generate n_bars correlated synthetic bars per symbol; the same seed gives the same bits.

    The result equals the concatenation of SyntheticStream chunks of any size.
    """
    if n_bars < 0:
        raise ValueError(f"n_bars must be >= 0 (got {n_bars})")
    gen = SyntheticGenerator(specs, cfg, timeframe_seconds, _start_ts(cfg, start_ts))
    return _wrap(gen.generate(n_bars))


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
    """All symbols' bars in (ts, symbol order) order, as plain lists for the engine's hot loop."""

    symbols: list[str]
    ts: list[float]
    sym_idx: list[int]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]
    # The end (exclusive) of each run of bars that share a time: one engine loop each (a C
    # array of 8-byte ints, not a list of int objects: a replay of 2M bars has 2M loops).
    group_ends: Sequence[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ts)

    def rows(self) -> Iterator[BarTuple]:
        """The bars in order as ``(idx, ts, open, high, low, close, volume)`` tuples."""
        return zip(
            self.sym_idx, self.ts, self.open, self.high, self.low, self.close, self.volume,
            strict=True,
        )  # fmt: skip

    def loop_ends(self) -> Sequence[int]:
        """``group_ends``, computed here when the bars were built without them."""
        if self.group_ends or not self.ts:
            return self.group_ends
        return time_group_ends(np.asarray(self.ts))


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
    cols = [np.concatenate([getattr(bs, f) for _, bs in parts]) for f in _FIELDS]
    perm = np.lexsort((idx, cols[0]))  # last key is primary; lexsort is stable
    ends = time_group_ends(cols[0][perm])
    # One sorted column at a time: peak memory holds one temporary array, not six.
    ts, op, hi, lo, cl, vo = (c[perm].tolist() for c in cols)
    return MergedBars(symbols, ts, idx[perm].tolist(), op, hi, lo, cl, vo, ends)
