"""A replay directory: each instrument's trade bars, mark-price bars and funding series.

Files are named by the rule in :mod:`execution.market.files`. Unusable input raises
``DataError`` (exit 2) naming the files: two files for one series, a file whose every line is
rejected, several bar timeframes none of which is ``data.timeframe``, a mark or funding series
without bars. Softer surprises (other timeframes ignored, bar spacing that is not
``data.timeframe``) are logged as warnings with what was measured.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import numpy as np

from execution.market.csv_format import DataError, read_bar_file, read_funding_file
from execution.market.files import DataFile, parse_data_filename
from execution.market.perp_series import FundingSeries, MarkSeries, PerpData, validate_funding
from execution.market.series import BarSeries, c_array, timeframe_seconds_or_none, validate_bars
from execution.types import RejectCounts

log = logging.getLogger("v7.data")
T = TypeVar("T")
SPACING_TOLERANCE = 0.01  # relative: a median spacing this close to the timeframe is the timeframe


def _csv_files(d: Path) -> list[Path]:
    if not d.is_dir():
        what = "is not a directory" if d.exists() else "does not exist"
        raise DataError(f"{d}: data directory {what}")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
    if not files:
        raise DataError(f"{d}: no *.csv files in the data directory")
    return files


def _check_unique(files: Sequence[DataFile]) -> None:
    seen: dict[tuple[object, ...], Path] = {}
    for f in files:
        key = (*f.series_key, f.part.lower())
        other = seen.setdefault(key, f.path)
        if other != f.path:
            raise DataError(
                f"{other.name} and {f.path.name} both hold {f.kind} of {f.symbol}"
                f"{' ' + f.timeframe if f.timeframe else ''}: keep one of them"
            )


def _pick_timeframe(
    symbol: str, kind: str, tfs: Sequence[str | None], wanted: str | None
) -> str | None:
    """Return which of the instrument's timeframes to read (the configured one when present)."""
    if len(tfs) == 1:
        return tfs[0]
    if wanted in tfs:
        return wanted
    shown = ", ".join(t or "(none)" for t in tfs)
    raise DataError(
        f"{symbol}: {kind} in several timeframes ({shown}) and none is data.timeframe={wanted}"
    )


def _read_bars(symbol: str, files: Sequence[DataFile], rejects: RejectCounts) -> BarSeries:
    """Read and validate one series' files; a file with no usable line is an error."""
    parts = []
    for f in files:
        cols, malformed = read_bar_file(f.path, blank_volume_ok=f.kind == "mark")
        scratch = RejectCounts()
        scratch.add(symbol, "malformed_line", malformed)
        if not len(validate_bars(symbol, *cols, scratch)) and scratch.total:
            why = ", ".join(f"{n} {r}" for r, n in scratch.by_symbol[symbol].items())
            raise DataError(
                f"{f.path}: no valid bar: all {scratch.total} line(s) rejected ({why}); nothing "
                f"of {symbol} can be replayed"
            )
        rejects.add(symbol, "malformed_line", malformed)
        parts.append(cols)
    ts, o, h, lo, c, v = (np.concatenate([p[i] for p in parts]) for i in range(6))
    return validate_bars(symbol, ts, o, h, lo, c, v, rejects)


def warn_spacing(measured: float, files: Sequence[DataFile], want: float | None) -> None:
    """Warn when the bars' median spacing is not ``data.timeframe``'s (``want`` seconds)."""
    if want is not None and abs(measured - want) > SPACING_TOLERANCE * want:
        log.warning(
            "%s: bars are %gs apart (median) but data.timeframe is %gs; the strategy's periods "
            "count bars, not time", files[0].path.name, measured, want,
        )  # fmt: skip


def _read_funding(symbol: str, files: Sequence[DataFile], rejects: RejectCounts) -> FundingSeries:
    ts_parts, rate_parts = [], []
    for f in files:
        ts, rate, malformed = read_funding_file(f.path)
        if not len(ts) and malformed:
            raise DataError(f"{f.path}: all {malformed} funding line(s) rejected")
        rejects.add(symbol, "malformed_line", malformed)
        ts_parts.append(ts)
        rate_parts.append(rate)
    return validate_funding(symbol, np.concatenate(ts_parts), np.concatenate(rate_parts), rejects)


def _as_mark(series: BarSeries, tf: str | None) -> MarkSeries:
    secs = timeframe_seconds_or_none(tf)
    if secs is None:
        secs = float(np.median(np.diff(series.ts))) if len(series) > 1 else 0.0
    # C arrays, not tuples of floats: a 1m mark file of millions of bars is held whole.
    return MarkSeries(
        c_array("d", series.ts), c_array("d", series.open), c_array("d", series.high),
        c_array("d", series.low), c_array("d", series.close), secs,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class InstrumentFiles:
    """One instrument's files to read: its bars (of the picked timeframe), marks and funding."""

    bars: list[DataFile]
    bars_timeframe: str | None
    marks: dict[str | None, list[DataFile]]  # every mark timeframe: a coarse one fills gaps
    funding: list[DataFile] | None


def instrument_files(
    symbol: str, files: Sequence[DataFile], timeframe: str | None
) -> InstrumentFiles:
    """Sort one instrument's files by kind, pick the timeframes, warn of the ones ignored."""
    by_kind: dict[str, dict[str | None, list[DataFile]]] = {}
    for f in files:
        by_kind.setdefault(f.kind, {}).setdefault(f.timeframe, []).append(f)
    if "bars" not in by_kind:
        names = ", ".join(f.path.name for f in files)
        raise DataError(f"{names}: {symbol} has mark/funding data but no bars file")
    picked = {
        k: _pick_timeframe(symbol, k, list(tfs), timeframe)
        for k, tfs in by_kind.items()
        if k != "mark"
    }
    for kind, tfs in by_kind.items():
        if kind == "mark":
            continue
        ignored = [f.path.name for tf, fs in tfs.items() if tf != picked[kind] for f in fs]
        if ignored:
            log.warning("%s: %s of other timeframes ignored: %s", symbol, kind, ", ".join(ignored))
    funding = by_kind["funding"][picked["funding"]] if "funding" in by_kind else None
    return InstrumentFiles(
        by_kind["bars"][picked["bars"]], picked["bars"], by_kind.get("mark", {}), funding
    )


def perp_data(symbol: str, files: InstrumentFiles, rejects: RejectCounts) -> PerpData | None:
    """The instrument's mark and funding series (read whole), None when it has neither."""
    marks = [
        _as_mark(_read_bars(f"{symbol}:mark", fs, rejects), tf) for tf, fs in files.marks.items()
    ]
    marks.sort(key=lambda m: m.timeframe_seconds)
    funding = None
    if files.funding is not None:
        funding = _read_funding(f"{symbol}:funding", files.funding, rejects)
    if not marks and funding is None:
        return None
    return PerpData(tuple(marks), funding)


def _load_instrument(
    symbol: str, files: Sequence[DataFile], timeframe: str | None, rejects: RejectCounts
) -> BarSeries | None:
    picked = instrument_files(symbol, files, timeframe)
    bars = _read_bars(symbol, picked.bars, rejects)
    if not len(bars):
        return None
    if len(bars) >= 3:
        spacing = float(np.median(np.diff(bars.ts)))
        warn_spacing(spacing, picked.bars, timeframe_seconds_or_none(timeframe))
    perp = perp_data(symbol, picked, rejects)
    return bars if perp is None else replace(bars, perp=perp)


def load_dir(
    path: str | Path,
    timeframe: str | None,
    load: Callable[[str, Sequence[DataFile], str | None, RejectCounts], T | None],
) -> tuple[dict[str, T], RejectCounts]:
    """Load each instrument of a replay directory with ``load`` (None: nothing to replay)."""
    d = Path(path)
    files = [parse_data_filename(p) for p in _csv_files(d)]
    _check_unique(files)
    by_symbol: dict[str, list[DataFile]] = {}
    for f in files:
        by_symbol.setdefault(f.symbol, []).append(f)
    rejects = RejectCounts()
    out: dict[str, T] = {}
    for sym, sym_files in by_symbol.items():
        series = load(sym, sym_files, timeframe, rejects)
        if series is not None:
            out[sym] = series
        elif any(f.path.stat().st_size for f in sym_files):
            log.warning("%s: no bar to replay", sym)
    if not out:
        raise DataError(
            f"{d}: no valid bar in {len(files)} CSV file(s) ({rejects.total} lines rejected)"
        )
    return out, rejects


def load_csv_dir(
    path: str | Path, timeframe: str | None = None
) -> tuple[dict[str, BarSeries], RejectCounts]:
    """Load a replay directory (not recursive): per instrument its bars, mark and funding.

    ``timeframe`` (``data.timeframe``) picks among several bar files of one instrument and is
    what the bars' spacing is checked against.
    """
    return load_dir(path, timeframe, _load_instrument)


def data_fingerprint(path: str | Path) -> str:
    """A short digest of a replay directory's CSV files: their names and their whole contents.

    An unfinished replay resumes only over the data it began with: a file replaced or edited at
    the same path gives another digest, so the resume is refused instead of mixing two data
    sets. Hashing runs at about a GB/s, several times faster than the check that already reads
    every file before a replay starts.
    """
    digest = hashlib.blake2b(digest_size=8)
    for file in _csv_files(Path(path)):
        digest.update(file.name.encode() + b"\0")
        with open(file, "rb") as fh:
            digest.update(hashlib.file_digest(fh, "blake2b").digest())
    return digest.hexdigest()
