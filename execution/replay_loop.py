"""The replay hot loop: group merged bars by time, step the executor, publish when due."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tqdm import tqdm

from execution.clock import ReplayClock
from execution.market_data import MergedBars

if TYPE_CHECKING:
    from execution.runner import EngineRunner

_PROGRESS_EVERY = 4096


def _resume_index(merged: MergedBars, bars_done: int) -> int:
    return min(max(bars_done, 0), len(merged.ts))


def replay(runner: EngineRunner, merged: MergedBars) -> None:
    """Run the executor over ``merged`` from where the runner left off."""
    clock = runner.clock
    if not isinstance(clock, ReplayClock):
        raise TypeError("replay needs a ReplayClock")
    ts, sym, o, h, lo, c, v = (
        merged.ts, merged.sym_idx, merged.open, merged.high, merged.low, merged.close,
        merged.volume,
    )  # fmt: skip
    n = len(ts)
    limit = n if runner.opts.max_bars is None else min(n, runner.opts.max_bars)
    i = _resume_index(merged, runner.bars_done)
    step = runner.executor.step
    due = runner.throttle.due
    set_time = clock.set
    bar = tqdm(
        total=limit, initial=i, unit="bar", unit_scale=True, delay=2.0, mininterval=0.5,
        disable=not runner.opts.progress, leave=False,
    )  # fmt: skip
    next_tick = i + _PROGRESS_EVERY
    while i < limit and not runner.stop_requested:
        t = ts[i]
        j = i + 1
        while j < n and ts[j] == t:
            j += 1
        set_time(t)
        step([(sym[k], t, o[k], h[k], lo[k], c[k], v[k]) for k in range(i, j)])
        i = j
        runner.bars_done = i
        if due(i):
            runner.publish()
        if i >= next_tick:
            bar.update(i - bar.n)
            next_tick = i + _PROGRESS_EVERY
    bar.close()
    # Done when the requested range is exhausted; a stop request leaves it resumable.
    runner.completed = i >= limit
