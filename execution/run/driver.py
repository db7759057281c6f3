"""Drive the executor over loops of bars: a replay at full speed, or paced bars in real time.

The driver knows nothing of state files or the store: it steps the executor, calls back
``on_check`` at check points (where the runner commits, publishes and reads the HALT switch),
and returns how far it got.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from tqdm import tqdm

from execution.market.bars import (
    BarColumns,
    MergedBars,
    SyntheticStream,
    merge_series,
    one_symbol_loops,
)
from execution.market.stream import StreamedBars
from execution.quiet import MIN_QUIET_BARS
from execution.signal_screener import BarTuple

Loop = Sequence[BarTuple]
# Bars whose quiet-stretch columns are computed at a time: memory bounded whatever the length.
QUIET_WINDOW = 4096


@dataclass(frozen=True, slots=True)
class DriveResult:
    bars_done: int
    completed: bool  # the data (or the --max-bars limit) was exhausted, not stopped early


@dataclass(frozen=True, slots=True)
class DriveHooks:
    step: Callable[[Loop], None]
    # Called with the bars done so far; returns the bar count at which to call it again.
    on_check: Callable[[int], int]
    should_stop: Callable[[], bool]
    set_time: Callable[[float], None] | None = None  # a replay clock follows the bars
    # Called after a loop whose bar time reached the time it returned last (the first time:
    # after the first loop) with that bar time; returns the next time to call it at.
    on_time: Callable[[float], float] | None = None


def replay_loops(merged: MergedBars | StreamedBars, start: int) -> Iterator[Loop]:
    """The bars from bar ``start`` on, one list per time (one engine loop each): from the
    merged arrays, or read from the CSV files as they are consumed (a streamed replay).

    A resume point inside a time's bars starts there.
    """
    return merged.loops(start)


class ReplayCursor:
    """A replay's loops (those of :func:`replay_loops`, block by block) that can also pass over
    quiet bars: :meth:`skip` hands the executor the columns of the bars ahead (one-symbol
    replays, whose loops are one bar each) and drops the bars it passed from the loops."""

    def __init__(
        self,
        merged: MergedBars | StreamedBars,
        start: int,
        skip_quiet: Callable[[BarColumns, int, int, float], int],
    ) -> None:
        self._merged = merged
        self._start = start
        self._skip_quiet = skip_quiet
        self._block: MergedBars | None = None  # the current block, when its loops are one bar
        self._cols: BarColumns | None = None  # a window of it
        self._rows: Iterator[BarTuple] = iter(())
        self._base = 0  # the bar count at the current block's first bar
        self.last_ts = 0.0  # the time of the last bar passed over

    def loops(self) -> Iterator[Loop]:
        """The bars from bar ``start`` on, one list per time (one engine loop each)."""
        merged, start, base = self._merged, self._start, 0
        blocks = merged.blocks() if isinstance(merged, StreamedBars) else iter((merged,))
        for block in blocks:
            n = len(block)
            if start < n:
                if one_symbol_loops(block):
                    self._block, self._cols, self._base = block, None, base
                    self._rows = rows = block.rows()
                    next(islice(rows, start, start), None)
                    for row in rows:  # skip() may take bars from rows between two loops
                        yield [row]
                else:
                    self._block = None
                    yield from block.loops(start)
                start = 0
            else:
                start -= n
            base += n
        self._block = None

    def skip(self, done: int, room: int, through_ts: float) -> int:
        """Pass over up to ``room`` quiet bars from bar count ``done``, up to the first one
        timed at or after ``through_ts`` included; return how many (the executor has advanced
        over them). The driver samples equity after that bar, as after stepping it."""
        block = self._block
        if block is None:
            return 0
        at = done - self._base
        cols = self._cols
        if cols is None or at + MIN_QUIET_BARS > cols.end:
            if at + MIN_QUIET_BARS > len(block):
                return 0
            cols = self._cols = BarColumns.window(block, at, QUIET_WINDOW)
        stop = min(cols.end, at + room)
        if stop - at < MIN_QUIET_BARS:
            return 0
        k = self._skip_quiet(cols, at, stop, through_ts)
        if k:
            next(islice(self._rows, k, k), None)
            self.last_ts = block.ts[at + k - 1]
        return k


def paced_loops(
    stream: SyntheticStream, symbols: Sequence[str], skip: int, pace_seconds: float
) -> Iterator[Loop]:
    """Synthetic loops stamped with the wall clock, ``pace_seconds`` apart, without end.

    The first ``skip`` bars are the ones a resumed run already did: the same price path goes on.
    """
    first = True
    while True:
        for group in _groups(merge_series(stream.next_chunk(), symbols)):
            if skip >= len(group):
                skip -= len(group)
                continue
            group, skip = group[skip:], 0  # a run stopped by --max-bars inside this loop
            if not first:
                time.sleep(pace_seconds)
            first = False
            now = time.time()
            yield [(b[0], now, *b[2:]) for b in group]


def drive(
    loops: Iterator[Loop],
    hooks: DriveHooks,
    *,
    start: int,
    limit: int | None,
    progress_total: int | None = None,
    quiet: ReplayCursor | None = None,
) -> DriveResult:
    """Step every loop until the loops or ``limit`` bars run out, or ``should_stop`` says so.

    ``on_check`` runs after the loop that reaches the bar count it asked for last time (the
    first time: after the first loop). With ``quiet`` (the cursor ``loops`` come from), the
    quiet bars before the next check point and limit are passed over rather than stepped (the
    bar that reaches either is stepped), the bar that reaches the next equity time included.
    """
    i = start
    step, on_check, should_stop, set_time, on_time = (
        hooks.step, hooks.on_check, hooks.should_stop, hooks.set_time, hooks.on_time,
    )  # fmt: skip
    bar = tqdm(
        total=progress_total, initial=i, unit="bar", unit_scale=True, delay=2.0,
        mininterval=0.5, disable=progress_total is None, leave=False,
    )  # fmt: skip
    next_check = i + 1
    next_time = -math.inf
    # The hot loop tests one bar count: the limit, as the next check point does.
    stop_at = math.inf if limit is None else limit
    exhausted = True
    try:
        for group in loops:
            if should_stop() or i >= stop_at:
                exhausted = i >= stop_at
                break
            n = len(group)
            if i + n > stop_at:
                group = group[: int(stop_at) - i]  # --max-bars N is N bars, even inside a loop
                n = len(group)
            ts = group[0][1]
            if set_time is not None:
                set_time(ts)
            step(group)
            i += n
            if on_time is not None and ts >= next_time:
                next_time = on_time(ts)
            if i >= next_check:
                next_check = on_check(i)
                if progress_total is not None:
                    bar.update(i - bar.n)
            # The bar that reaches the check point or the limit is stepped: only the bars
            # before it may be passed over. The bar whose time reaches the next equity time may
            # be passed over too: the equity is sampled right after it, as after a step, and the
            # quiet stretch goes on.
            while quiet is not None and min(next_check, stop_at) - i > MIN_QUIET_BARS:
                room = int(min(next_check, stop_at)) - i - 1
                through = next_time if on_time is not None else math.inf
                if should_stop() or not (k := quiet.skip(i, room, through)):
                    break
                i += k
                ts = quiet.last_ts
                if set_time is not None:  # a stop before the next loop finds the time done
                    set_time(ts)
                if on_time is None or ts < next_time:
                    break  # the stretch ended on a bar that must be stepped
                next_time = on_time(ts)
    finally:
        bar.close()
    if limit is not None and i >= limit:
        exhausted = True
    return DriveResult(i, exhausted and not should_stop())


def _groups(merged: MergedBars) -> Iterator[Loop]:
    rows = merged.rows()
    start = 0
    for end in merged.loop_ends():
        yield list(islice(rows, end - start))
        start = end
