"""The replay hot loop: step the executor once per time, publish when due."""

from __future__ import annotations

from bisect import bisect_right
from itertools import islice
from typing import TYPE_CHECKING

from tqdm import tqdm

from execution.clock import ReplayClock
from execution.market.bars import MergedBars

if TYPE_CHECKING:
    from execution.run.runner import EngineRunner

_PROGRESS_EVERY = 4096
# How often (in bars) the loop asks the publish throttle: reading the wall clock every loop
# cost more than the check itself. A bar-count publish interval is still met exactly.
_CHECK_EVERY = 512


def _resume_index(merged: MergedBars, bars_done: int) -> int:
    return min(max(bars_done, 0), len(merged.ts))


def replay(runner: EngineRunner, merged: MergedBars) -> None:
    """Run the executor over ``merged`` from where the runner left off.

    One loop per time: the bars that share it (the merged bars are sorted by time), as tuples
    straight from a zip of the columns. A resume point inside a time's bars starts there.
    """
    clock = runner.clock
    if not isinstance(clock, ReplayClock):
        raise TypeError("replay needs a ReplayClock")
    n = len(merged.ts)
    limit = n if runner.opts.max_bars is None else min(n, runner.opts.max_bars)
    i = _resume_index(merged, runner.bars_done)
    ends = merged.loop_ends()
    g = bisect_right(ends, i)
    rows = merged.rows()
    if i:
        next(islice(rows, i, i), None)  # skip the bars already done
    next_row = rows.__next__
    step = runner.executor.step
    throttle = runner.throttle
    set_time = clock.set
    bar = tqdm(
        total=limit, initial=i, unit="bar", unit_scale=True, delay=2.0, mininterval=0.5,
        disable=not runner.opts.progress, leave=False,
    )  # fmt: skip
    next_tick = i + _PROGRESS_EVERY
    next_check = i
    try:
        while i < limit and not runner.stop_requested:
            j = ends[g]
            g += 1
            group = [next_row()] if j - i == 1 else list(islice(rows, j - i))
            set_time(group[0][1])
            step(group)
            i = j
            if i >= next_check:
                runner.bars_done = i
                if throttle.due(i):
                    runner.publish()
                next_check = throttle.next_check(i, _CHECK_EVERY)
                if i >= next_tick:
                    bar.update(i - bar.n)
                    next_tick = i + _PROGRESS_EVERY
    finally:
        runner.bars_done = i
        bar.close()
    # Done when the requested range is exhausted; a stop request leaves it resumable.
    runner.completed = i >= limit
