"""bench/turns.py: two replays taking turns on one CPU finish, report their CPU time, and a
failing one is reported instead of leaving the other waiting for its turn forever."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bench import turns

pytestmark = pytest.mark.skipif(turns.available() is not None, reason=str(turns.available()))


class FakeBars:
    """What TakingTurns needs of MergedBars: len, perps and loops(start)."""

    perps: dict[str, Any] = {}

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def loops(self, start: int) -> Iterator[int]:
        return iter(range(start, self.n))


def counting(n: int, log: str | None = None) -> turns.Replay:
    def build(wrap: Callable[[Any], turns.TakingTurns]) -> Callable[[], dict[str, Any]]:
        bars = wrap(FakeBars(n))

        def replay() -> dict[str, Any]:
            seen = 0
            for loop in bars.loops(0):
                seen += 1
                if log and loop % 100 == 0:
                    with open(log, "a") as f:
                        f.write(f"{os.getpid()} {loop}\n")
            return {"loops": seen, "pid": os.getpid()}

        return replay

    return build


def failing(wrap: Callable[[Any], turns.TakingTurns]) -> Callable[[], dict[str, Any]]:
    raise ValueError("build failed on purpose")


def test_both_replays_run_to_the_end_and_take_turns(tmp_path) -> None:
    log = str(tmp_path / "turns.log")
    a, b = turns.run_pair(counting(1_000, log), counting(1_000, log), every=100)
    assert a.extra["loops"] == b.extra["loops"] == 1_000
    assert a.cpu_s > 0 and b.cpu_s > 0
    pids = [line.split()[0] for line in (tmp_path / "turns.log").read_text().splitlines()]
    # Every 100 loops the turn passes: the two processes alternate in the log.
    assert pids[:4] == [pids[0], pids[1], pids[0], pids[1]]
    assert pids[0] != pids[1]


def test_a_replay_of_another_length_runs_on_alone() -> None:
    a, b = turns.run_pair(counting(300), counting(2_000), a_first=False, every=50)
    assert (a.extra["loops"], b.extra["loops"]) == (300, 2_000)


def test_a_failing_build_is_reported_and_nothing_hangs() -> None:
    with pytest.raises(RuntimeError, match="build failed on purpose"):
        turns.run_pair(failing, counting(500), every=50)
    with pytest.raises(RuntimeError, match="build failed on purpose"):
        turns.run_pair(counting(500), failing, every=50)


def killed_at(loop: int) -> turns.Replay:
    """A replay whose process is SIGKILLed at ``loop``: no word, no DONE of its own."""

    def build(wrap: Callable[[Any], turns.TakingTurns]) -> Callable[[], dict[str, Any]]:
        bars = wrap(FakeBars(1_000))

        def replay() -> dict[str, Any]:
            for n in bars.loops(0):
                if n == loop:
                    os.kill(os.getpid(), signal.SIGKILL)
            return {}

        return replay

    return build


def killed_while_building(wrap: Callable[[Any], turns.TakingTurns]) -> Callable[[], dict[str, Any]]:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


@pytest.mark.parametrize("a_first", [True, False])
def test_a_replay_killed_outright_is_reported_and_the_other_is_not_left_waiting(
    a_first: bool,
) -> None:
    for a, b in ((killed_at(250), counting(1_000)), (counting(1_000), killed_at(250))):
        with pytest.raises(RuntimeError, match="died without a word"):
            turns.run_pair(a, b, a_first=a_first, every=50)
    with pytest.raises(RuntimeError, match="died without a word"):
        turns.run_pair(killed_while_building, counting(500), a_first=a_first, every=50)
