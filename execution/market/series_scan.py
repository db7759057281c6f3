"""One series' files checked in passes over chunks: what ``validate_bars`` keeps, never all held.

The value checks look at one bar at a time; the time checks need the whole file (the median
spacing, a bar's neighbours, the running maximum), so a first pass counts the value checks and
the steps between value-valid times (as a histogram: the median is exact), and a second pass
runs the time checks over the value-valid times in order, carrying the times around each
chunk boundary. It leaves one bit per value-valid bar (kept or not); the replay reads the
chunks a third time and keeps the bars those bits keep. Counts, errors and kept bars are
those of ``_read_bars`` in ``replay_dir`` (the whole-file reader), bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from execution.market.csv_chunks import CHUNK_ROWS, NotClean, bar_chunks, fast_layout
from execution.market.csv_format import BoolArray, DataError, FloatArray, RawBars
from execution.market.files import DataFile
from execution.market.series import FAR_AHEAD_SPACINGS, REJECT_REASONS, value_checks
from execution.types import RejectCounts


class Histogram:
    """Counts of distinct float values (steps between bar times: a handful in real data)."""

    def __init__(self) -> None:
        self.values: FloatArray = np.empty(0)
        self.counts = np.empty(0, dtype=np.int64)

    def add(self, x: FloatArray) -> None:
        if len(x):
            self._combine(*np.unique(x, return_counts=True))

    def merge(self, other: Histogram) -> None:
        if len(other.values):
            self._combine(other.values, other.counts)

    def _combine(self, v: FloatArray, c: np.ndarray) -> None:
        values, inv = np.unique(np.concatenate([self.values, v]), return_inverse=True)
        counts = np.zeros(len(values), dtype=np.int64)
        np.add.at(counts, inv, np.concatenate([self.counts, c]))
        self.values, self.counts = values, counts

    def __len__(self) -> int:
        return int(self.counts.sum())

    def median(self) -> float:
        """``np.median`` of the values counted (NaN when none)."""
        n = len(self)
        if not n:
            return math.nan
        cum = np.cumsum(self.counts)

        def at(k: int) -> float:
            return float(self.values[np.searchsorted(cum, k, side="right")])

        return at(n // 2) if n % 2 else float((np.float64(at(n // 2 - 1)) + at(n // 2)) / 2)


@dataclass(frozen=True, slots=True)
class FileRead:
    """One file and the reader the first pass chose for it."""

    path: Path
    fast: bool
    blank_volume_ok: bool

    def chunks(self, rows: int) -> Iterator[tuple[RawBars, int]]:
        return bar_chunks(self.path, self.blank_volume_ok, self.fast, rows)


@dataclass(slots=True)
class _FileValues:
    read: FileRead
    counts: dict[str, int]
    steps: Histogram
    n_alive: int = 0
    first: float | None = None
    last: float | None = None
    backward_steps: int = 0  # steps between value-valid times that are not forward


def _value_pass(read: FileRead, rows: int) -> _FileValues:
    out = _FileValues(read, {"malformed_line": 0}, Histogram())
    for cols, malformed in read.chunks(rows):
        out.counts["malformed_line"] += malformed
        alive, rejected = value_checks(*cols)
        for reason, n in rejected:
            out.counts[reason] = out.counts.get(reason, 0) + n
        tv = cols[0][alive]
        if not len(tv):
            continue
        steps = np.diff(tv if out.last is None else np.r_[out.last, tv])
        forward = steps > 0
        out.steps.add(steps[forward])
        out.backward_steps += len(steps) - int(forward.sum())
        out.first = float(tv[0]) if out.first is None else out.first
        out.last = float(tv[-1])
        out.n_alive += len(tv)
    return out


def _file_values(symbol: str, f: DataFile, rows: int) -> _FileValues:
    """The first pass over one file; a file with lines but no usable one is an error."""
    blank_ok = f.kind == "mark"
    scan = None
    if fast_layout(f.path, blank_ok) is not None:
        try:
            scan = _value_pass(FileRead(f.path, True, blank_ok), rows)
        except NotClean:
            scan = None  # not clean after all: line by line decides what is malformed
    if scan is None:
        scan = _value_pass(FileRead(f.path, False, blank_ok), rows)
    rejected = {r: n for r, n in scan.counts.items() if n > 0}
    if not scan.n_alive and rejected:
        why = ", ".join(f"{n} {r}" for r, n in rejected.items())
        raise DataError(
            f"{f.path}: no valid bar: all {sum(rejected.values())} line(s) rejected ({why}); "
            f"nothing of {symbol} can be replayed"
        )
    return scan


class BitWriter:
    """Bits appended in order, packed (one byte per 8 bars)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._tail: BoolArray = np.empty(0, dtype=np.bool_)

    def append(self, bits: BoolArray) -> None:
        tail = np.concatenate([self._tail, bits])
        whole = len(tail) // 8 * 8
        if whole >= 1 << 16:
            self._parts.append(np.packbits(tail[:whole]).tobytes())
            tail = tail[whole:]
        self._tail = tail

    def getvalue(self) -> bytes:
        return b"".join([*self._parts, np.packbits(self._tail).tobytes()])


class BitReader:
    """Reads back what a BitWriter wrote, ``take(n)`` bits at a time."""

    def __init__(self, data: bytes) -> None:
        self._data = np.frombuffer(data, dtype=np.uint8)
        self._pos = 0

    def take(self, n: int) -> BoolArray:
        lo, hi = self._pos // 8, (self._pos + n + 7) // 8
        bits = np.unpackbits(self._data[lo:hi])
        off = self._pos - lo * 8
        self._pos += n
        return bits[off : off + n].astype(np.bool_)


class TimeChecks:
    """``validate_bars``' time checks over value-valid times fed in order, chunk by chunk.

    A time's far-ahead verdict needs the time after it, so each feed decides the time held
    back from the last feed and all of its own but the last.
    """

    def __init__(self, n_alive: int, spacing: float) -> None:
        self.threshold = FAR_AHEAD_SPACINGS * spacing
        self.far_check = n_alive >= 3 and spacing > 0
        self.before = -math.inf  # the time before the held one (-inf: it is the first)
        self.held: float | None = None
        self.run_max = -math.inf
        self.last_kept: float | None = None
        self.counts = {"ts_far_ahead": 0, "duplicate_ts": 0, "out_of_order_ts": 0}
        self.kept_steps = Histogram()
        self.n_kept = 0
        self.first_kept: float | None = None

    def feed(self, tv: FloatArray) -> BoolArray:
        """Keep flags of the times decided now (the held one first), in order."""
        seq = tv if self.held is None else np.r_[self.held, tv]
        if len(seq) < 2:
            self.held = float(seq[0]) if len(seq) else self.held
            return np.empty(0, dtype=np.bool_)
        decide = seq[:-1]
        far = np.zeros(len(decide), dtype=np.bool_)
        if self.far_check:
            before = np.r_[self.before, seq[:-2]]
            far = (decide - seq[1:] > self.threshold) & (before < seq[1:])
        self.before, self.held = float(seq[-2]), float(seq[-1])
        return self._order(decide, far)

    def finish(self) -> BoolArray:
        """The keep flag of the last time (never far ahead: no time follows it)."""
        if self.held is None:
            return np.empty(0, dtype=np.bool_)
        held, self.held = self.held, None
        return self._order(np.array([held]), np.zeros(1, dtype=np.bool_))

    def _order(self, vals: FloatArray, far: BoolArray) -> BoolArray:
        self.counts["ts_far_ahead"] += int(far.sum())
        v = vals[~far]
        keep = np.zeros(len(vals), dtype=np.bool_)
        if not len(v):
            return keep
        running = np.maximum.accumulate(np.r_[self.run_max, v])
        prev_max = running[:-1]
        self.run_max = float(running[-1])
        self.counts["duplicate_ts"] += int((v == prev_max).sum())
        self.counts["out_of_order_ts"] += int((v < prev_max).sum())
        ok = v > prev_max
        keep[~far] = ok
        kept = v[ok]
        if len(kept):
            steps = np.diff(kept if self.last_kept is None else np.r_[self.last_kept, kept])
            self.kept_steps.add(steps)
            self.first_kept = float(kept[0]) if self.first_kept is None else self.first_kept
            self.last_kept = float(kept[-1])
            self.n_kept += len(kept)
        return keep


@dataclass(frozen=True, slots=True)
class SeriesPlan:
    """What the replay needs to read one series again: its files, the bits, what they keep."""

    symbol: str
    reads: tuple[FileRead, ...]
    keep_bits: bytes | None  # None: every value-valid bar is kept
    n_bars: int
    first_ts: float
    median_spacing: float  # of the kept bars (NaN with fewer than two)
    rows: int = CHUNK_ROWS

    def chunks(self) -> Iterator[RawBars]:
        """The kept bars, chunk by chunk, in file order."""
        bits = BitReader(self.keep_bits) if self.keep_bits is not None else None
        for read in self.reads:
            for cols, _ in read.chunks(self.rows):
                alive, _ = value_checks(*cols)
                idx = np.flatnonzero(alive)
                if bits is not None:
                    idx = idx[bits.take(len(idx))]
                if not len(idx):
                    continue
                if len(idx) == len(alive):
                    yield cols
                else:
                    t, o, h, lo, c, v = (col[idx] for col in cols)
                    yield t, o, h, lo, c, v


def _time_pass(
    scans: Sequence[_FileValues], n_alive: int, spacing: float, rows: int
) -> tuple[TimeChecks, BitWriter]:
    checks, bits = TimeChecks(n_alive, spacing), BitWriter()
    for scan in scans:
        for cols, _ in scan.read.chunks(rows):
            alive, _ = value_checks(*cols)
            bits.append(checks.feed(cols[0][alive]))
    bits.append(checks.finish())
    return checks, bits


def scan_series(
    symbol: str, files: Sequence[DataFile], rejects: RejectCounts, rows: int = CHUNK_ROWS
) -> SeriesPlan:
    """Check one series' files (joined in order) as ``validate_bars`` would, counting rejects."""
    scans = [_file_values(symbol, f, rows) for f in files]
    steps, last, backward = Histogram(), None, sum(s.backward_steps for s in scans)
    for s in scans:
        steps.merge(s.steps)
        if s.first is not None and last is not None:
            if s.first > last:
                steps.add(np.array([s.first - last]))
            else:
                backward += 1
        last = s.last if s.last is not None else last
    n_alive = sum(s.n_alive for s in scans)
    counts = {"malformed_line": sum(s.counts["malformed_line"] for s in scans)}
    for reason in REJECT_REASONS[1:6]:
        counts[reason] = sum(s.counts.get(reason, 0) for s in scans)
    for reason, n in counts.items():
        rejects.add(symbol, reason, n)
    reads = tuple(s.read for s in scans)
    first = next((s.first for s in scans if s.first is not None), math.nan)
    if not backward:  # every time after the one before: no time check can reject a bar
        return SeriesPlan(symbol, reads, None, n_alive, first, steps.median(), rows)
    checks, bits = _time_pass(scans, n_alive, steps.median() if len(steps) else 0.0, rows)
    for reason, n in checks.counts.items():
        rejects.add(symbol, reason, n)
    return SeriesPlan(
        symbol, reads, None if checks.n_kept == n_alive else bits.getvalue(), checks.n_kept,
        checks.first_kept if checks.first_kept is not None else math.nan,
        checks.kept_steps.median(), rows,
    )  # fmt: skip
