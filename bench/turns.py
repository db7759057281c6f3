"""Two replays in two processes on one CPU, taking turns every few loops: a paired timing that
this machine's noise does not swamp.

Why: the CPU time of one whole replay here moves by 10-15 % from run to run, on and off the same
code, because the host's load moves from one second to the next and differs between the two
virtual CPUs. Pairs of whole runs taken one after the other (bench/pairs.py) then straddle a 3 %
budget whatever the code does. Here the two replays (say diagnostics on and off) run at the
same time in two processes pinned to the same CPU, and hand the CPU to each other every
``every`` engine loops (~5 ms): both see the same moments of the host's load, and the ratio of
their CPU times keeps only what differs between them. Measured on this machine, a null pair
(the same replay twice) reads within about 1 % (sd), where whole-run pairs read within 10 %.

How: each child builds its engine (untimed), waits for its turn, and times its replay with
``time.process_time`` (a process waiting for its turn uses no CPU). The replay's bars come
through :class:`TakingTurns`, which passes the turn through a pipe every ``every`` loops. When
one replay ends, the other runs on alone. POSIX only (``os.fork``); CPU pinning where the
system has ``os.sched_setaffinity`` (Linux).
"""

from __future__ import annotations

import json
import os
import select
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from execution.market.bars import MergedBars

TURN, DONE = b"t", b"d"
EVERY_LOOPS = 100  # loops per turn: ~5 ms of a 10-symbol replay here


def pinned_cpu() -> int | None:
    """The CPU both processes of a pair run on (None: the system cannot pin)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    return min(os.sched_getaffinity(0))


def available() -> str | None:
    """Why this method cannot run here (None: it can)."""
    if not hasattr(os, "fork"):
        return "needs os.fork (POSIX)"
    return None


class TakingTurns:
    """The bars of a replay (``len``, ``perps``, ``loops``) that hand the CPU to the other
    process every ``every`` loops and wait for it to hand it back."""

    def __init__(self, merged: MergedBars, every: int, mine: int, other: int) -> None:
        self.merged = merged
        self.perps = merged.perps
        self.every = every
        self.mine = mine  # read end: our turn comes through it
        self.other = other  # write end: the other's turn goes through it
        self.other_done = False

    def __len__(self) -> int:
        return len(self.merged)

    def wait(self) -> None:
        """Block until the other hands us the turn (or says it has finished)."""
        if os.read(self.mine, 1) == DONE:
            self.other_done = True

    def hand_over(self) -> None:
        if not self.other_done:
            os.write(self.other, TURN)
            self.wait()

    def finish(self) -> None:
        """Tell the other we are done: it runs on alone."""
        if not self.other_done:
            os.write(self.other, DONE)

    def loops(self, start: int) -> Iterator[Any]:
        every = self.every
        for n, loop in enumerate(self.merged.loops(start)):
            if n and n % every == 0:
                self.hand_over()
            yield loop


# A child's work: given its bars wrapper's maker, build the engine (untimed), then call the
# returned function, which replays and returns what to report (it is timed).
Replay = Callable[[Callable[[MergedBars], TakingTurns]], Callable[[], dict[str, Any]]]


@dataclass(frozen=True)
class TurnResult:
    cpu_s: float
    extra: dict[str, Any]


READY = b"r"


def _child(build: Replay, every: int, cpu: int | None, mine: int, other: int, out: int) -> None:
    """Run in the forked child: build, say READY on ``out``, wait for the first turn, replay,
    then write the result on ``out``. Never returns."""
    status = 0
    turns: TakingTurns | None = None
    try:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

        def wrap(merged: MergedBars) -> TakingTurns:
            nonlocal turns
            turns = TakingTurns(merged, every, mine, other)
            return turns

        replay = build(wrap)
        if turns is None:
            raise RuntimeError("the build did not wrap its bars in TakingTurns")
        os.write(out, READY)
        turns.wait()
        c0 = time.process_time()
        extra = replay()
        cpu_s = time.process_time() - c0
        turns.finish()
        os.write(out, json.dumps({"cpu_s": cpu_s, "extra": extra}).encode())
    except BaseException:
        status = 1
        if turns is None or not turns.other_done:
            os.write(other, DONE)  # the other must not wait for a turn that never comes
        os.write(out, json.dumps({"error": traceback.format_exc()[-2000:]}).encode())
    finally:
        os._exit(status)


def run_pair(
    a: Replay, b: Replay, *, a_first: bool = True, every: int = EVERY_LOOPS
) -> tuple[TurnResult, TurnResult]:
    """Run ``a`` and ``b`` taking turns on one CPU (the first this process may use);
    ``a_first`` says which has the first turn (alternate it between pairs)."""
    cpu = pinned_cpu()
    a_read, a_write = os.pipe()  # a's turn
    b_read, b_write = os.pipe()  # b's turn
    children: list[tuple[int, int]] = []  # (pid, result read end)
    try:
        for build, mine, other in ((a, a_read, b_write), (b, b_read, a_write)):
            out_read, out_write = os.pipe()
            pid = os.fork()
            if pid == 0:
                _child(build, every, cpu, mine, other, out_write)
            os.close(out_write)
            children.append((pid, out_read))
        said = _collect(
            [out for _, out in children], (b_write, a_write), a_write if a_first else b_write
        )
        results = []
        for (pid, _), data in zip(children, said, strict=True):
            os.waitpid(pid, 0)
            payload = json.loads(data.removeprefix(READY) or b'{"error": "died without a word"}')
            if "error" in payload:
                raise RuntimeError(f"a turn-taking replay failed:\n{payload['error']}")
            results.append(TurnResult(payload["cpu_s"], payload["extra"]))
    finally:
        for fd in (a_read, a_write, b_read, b_write, *(out for _, out in children)):
            os.close(fd)
    return results[0], results[1]


def _collect(outs: list[int], others_turn: tuple[int, int], first_turn: int) -> list[bytes]:
    """Read both children's words to the end. The first turn goes out once both have said
    something (READY, or an error). A child whose pipe ends (it exited: done, failed, or killed
    outright) is followed by a DONE to the other, which then never waits for it."""
    said = [b"", b""]
    open_fds = dict(enumerate(outs))
    started = False
    while open_fds:
        readable, _, _ = select.select(list(open_fds.values()), [], [])
        for i, fd in list(open_fds.items()):
            if fd not in readable:
                continue
            chunk = os.read(fd, 65536)
            said[i] += chunk
            if not chunk:
                del open_fds[i]
                os.write(others_turn[i], DONE)
        if not started and all(said):
            started = True
            os.write(first_turn, TURN)
    return said
