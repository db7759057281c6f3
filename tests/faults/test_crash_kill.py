"""Crash safety: `v7 run --fast` SIGKILLed at seeded random moments and at every write of a publish.

After each kill every state file parses, the checkpoint's ledger, registry and paper account
agree, no client order id maps to two exchange orders, counters never go backwards and keep
their identity; the same command then resumes, and the replay that finally completes is
identical (ledger, account, orders, counters, summary) to one that was never interrupted.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from execution.state_v7 import PAPER_EXCHANGE_FILE
from execution.store import read_memory

from .helpers import (
    FIGURES,
    REPO,
    KillSnapshot,
    assert_not_behind,
    diff_keys,
    final_outcome,
    frequent_publish_config,
    inspect_after_kill,
    load,
    run_args,
    summary_core,
    timed_run,
    v7_command,
)

pytestmark = pytest.mark.slow

RANDOM_KILLS = 30  # SIGKILLs at random moments, over as many chains as it takes
MAX_KILLS_PER_CHAIN = 10
SEED = 20_241_124
REPLAY_BARS = 60_000  # ~2 s of replay: long enough to be killed anywhere


@dataclass
class Reference:
    """An uninterrupted run of one command: what every interrupted chain must end with."""

    cfg: Path
    max_bars: int
    outcome: dict[str, Any]
    summary: dict[str, Any]
    startup: float  # wall seconds before the replay starts (imports, data, restore)
    bars_per_s: float  # replay speed; both re-estimated from every completed run

    def learn(self, wall: float, summary: dict[str, Any]) -> None:
        """Track the machine's current speed, so kill times keep spanning a run's life."""
        elapsed = float(summary["elapsed_s"])
        self.startup = 0.5 * self.startup + 0.5 * max(0.05, wall - elapsed)
        if summary["bars_this_run"] > 1000 and elapsed > 0:
            self.bars_per_s = 0.5 * self.bars_per_s + 0.5 * summary["bars_this_run"] / elapsed


def _reference(root: Path, max_bars: int, every_bars: int = 500, interval: float = 3600.0):
    root.mkdir(parents=True, exist_ok=True)
    cfg = frequent_publish_config(root / "config.json", every_bars, interval)
    ref = timed_run(run_args(cfg, root / "reference", max_bars))
    summary = ref.summary
    elapsed = max(float(summary["elapsed_s"]), 1e-3)
    startup = max(0.05, ref.seconds - elapsed)
    outcome = final_outcome(root / "reference")
    return Reference(cfg, max_bars, outcome, summary, startup, summary["bars"] / elapsed)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    return _reference(tmp_path_factory.mktemp("ref60k"), REPLAY_BARS)


def _assert_same_end(ref: Reference, state_dir: Path, summary: dict[str, Any], how: str) -> None:
    got = final_outcome(state_dir)
    differ = diff_keys(got, ref.outcome)
    assert differ == [], f"{state_dir.name} ended elsewhere than the uninterrupted run: {how}"
    assert diff_keys(summary_core(summary), summary_core(ref.summary)) == [], how


@dataclass
class Chain:
    """Run one command again and again in one state dir, killing it, until it completes."""

    ref: Reference
    state_dir: Path
    rng: random.Random
    max_kills: int
    kills: int = 0
    kills_mid_replay: int = 0  # kills after a checkpoint of an unfinished replay: real resumes
    last: KillSnapshot | None = None
    log: list[str] = field(default_factory=list)

    def remaining_life(self) -> float:
        left = self.ref.max_bars - (self.last.bars if self.last else 0)
        return self.ref.startup + max(0, left) / self.ref.bars_per_s

    def run(self) -> dict[str, Any]:
        args = run_args(self.ref.cfg, self.state_dir, self.ref.max_bars)
        while True:
            delay = self.rng.uniform(0.02, self.remaining_life())
            if self.kills >= self.max_kills:
                delay = 120.0
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [*v7_command(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, cwd=REPO,
            )  # fmt: skip
            try:
                out, err = proc.communicate(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                self._after_kill(delay)
                continue
            assert proc.returncode == 0, err[-2000:]
            return self._after_completion(out, time.perf_counter() - t0)

    def _after_kill(self, delay: float) -> None:
        snap = inspect_after_kill(self.state_dir)
        prev = self.last
        if prev is not None and not prev.completed:
            assert snap.bars >= prev.bars, "the memory went backwards: not a resume"
            assert_not_behind(snap.counters, prev.counters, "memory after restart")
        for cid, oid in snap.orders.items():  # same client id -> same exchange order as ever
            assert self.ref.outcome["account"]["orders"][cid]["exchange_order_id"] == oid
        progressed = snap.bars != (prev.bars if prev else 0)
        phase = (
            "mid_write" if snap.temp_files  # the runner clears them at start: this run's
            else "startup_or_first_stretch" if not progressed
            else "between_writes_of_a_publish" if snap.ahead_of_memory
            else "in_replay"
        )  # fmt: skip
        self.log.append(f"kill@{delay:.2f}s:{phase}:bars={snap.bars}:done={snap.completed}")
        FIGURES[f"kills.sigkill_random.{phase}"] += 1
        FIGURES["kills.total"] += 1
        FIGURES["kills.temp_files_left"] += len(snap.temp_files)
        self.kills += 1
        if snap.bars > 0 and not snap.completed:
            self.kills_mid_replay += 1
        self.last = snap

    def _after_completion(self, stdout: str, wall: float) -> dict[str, Any]:
        summary: dict[str, Any] = json.loads(stdout)
        self.ref.learn(wall, summary)
        prev = self.last
        resumable = prev is not None and prev.bars > 0 and not prev.completed
        how = " ".join(self.log) + f" then completed (resumed={summary['resumed']})"
        assert summary["resumed"] is resumable, how
        if resumable:
            assert prev is not None
            assert summary["bars_this_run"] == summary["bars"] - prev.bars, how
        assert not list(self.state_dir.glob(".*.tmp")), "temp files of killed writes remain"
        _assert_same_end(self.ref, self.state_dir, summary, how)
        return summary


def _run_chains(
    ref: Reference, root: Path, rng: random.Random, kills: int, per_chain: int
) -> list[Chain]:
    """Run chains (each ends with a completed, checked replay) until ``kills`` kills happened."""
    done, chains = 0, []
    deadline = time.monotonic() + 150
    while done < kills:
        assert time.monotonic() < deadline, f"only {done} kills in the time budget"
        chain = Chain(ref, root / f"chain{len(chains)}", rng, min(per_chain, kills - done))
        chain.run()
        done += chain.kills
        chains.append(chain)
        FIGURES["chains.completed_identical_to_uninterrupted"] += 1
    return chains


@pytest.mark.timeout(240)
def test_sigkill_at_random_moments_loses_nothing_and_fills_nothing_twice(
    reference: Reference, tmp_path: Path
) -> None:
    chains = _run_chains(
        reference, tmp_path, random.Random(SEED), RANDOM_KILLS, MAX_KILLS_PER_CHAIN
    )
    assert sum(c.kills for c in chains) == RANDOM_KILLS
    # Only a kill that cut a replay after a checkpoint makes the next run resume from it: without
    # one, "loses nothing" would hold merely because every run started over.
    resumed = sum(c.kills_mid_replay for c in chains)
    assert resumed > 0, [c.log for c in chains]
    reference_account = reference.outcome["account"]
    for chain in chains:
        account = load(chain.state_dir / PAPER_EXCHANGE_FILE)
        # Every fill and order the uninterrupted run made, each exactly once: none lost to a
        # kill, none repeated by a resume.
        assert account["fill_seq"] == reference_account["fill_seq"], chain.log
        assert account["order_seq"] == reference_account["order_seq"], chain.log
        assert account["orders"] == reference_account["orders"], chain.log
    FIGURES["kills.sigkill_random.resumed_mid_replay"] += resumed


@pytest.mark.timeout(180)
def test_kill_when_every_loop_publishes_resumes_to_the_same_end(tmp_path: Path) -> None:
    """min_interval_seconds 0 publishes after every loop: most kills land inside a publish."""
    every_loop = _reference(tmp_path / "every", 2_000, every_bars=100_000, interval=0.0)
    rarely = _reference(tmp_path / "rare", 2_000, every_bars=100_000)
    # How often the engine publishes never changes what it trades.
    assert diff_keys(every_loop.outcome, rarely.outcome) == []
    _run_chains(every_loop, tmp_path, random.Random(SEED + 1), 4, 4)


@pytest.fixture(scope="module")
def short_reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    return _reference(tmp_path_factory.mktemp("ref7k"), 7_000)


WRITES = ("paper_exchange.json", "positions_ledger.json", "tp_sl_registry.json",
          "positions_state.json", "risk_snapshot.json", "intel.json", "engine.db")  # fmt: skip
KILL_POINTS = [(w, mode) for w in range(len(WRITES)) for mode in ("mid", "after")]


def _kill_at(ref: Reference, state_dir: Path, nth_replace: int, mode: str) -> str:
    env = dict(os.environ, V7_KILL_AT_REPLACE=str(nth_replace), V7_KILL_MODE=mode)
    script = Path(__file__).with_name("killpoint.py")
    args = run_args(ref.cfg, state_dir, ref.max_bars)
    out = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=60,
        env=env, cwd=REPO,
    )  # fmt: skip
    assert out.returncode == -signal.SIGKILL, out.stderr[-2000:]
    return out.stderr.strip().splitlines()[-1]


@pytest.mark.timeout(180)
def test_kill_at_every_write_of_a_publish_resumes_to_the_same_end(
    short_reference: Reference, tmp_path: Path
) -> None:
    ref = short_reference
    publish = 3  # the third publish of the run: positions and orders exist by then

    def one(point: tuple[int, str]) -> str:
        write, mode = point
        state_dir = tmp_path / f"{WRITES[write]}-{mode}"
        # The store's creation is the run's first os.replace; then seven writes a publish.
        label = _kill_at(ref, state_dir, 1 + 7 * (publish - 1) + write + 1, mode)
        assert label == f"killpoint: {mode} {WRITES[write]}"
        snap = inspect_after_kill(state_dir)
        # A view cut mid-write leaves its temp file; a commit leaves none, whole or not at all.
        assert bool(snap.temp_files) is (mode == "mid" and WRITES[write] != "engine.db")
        again = timed_run(run_args(ref.cfg, state_dir, ref.max_bars))
        summary = again.summary
        assert summary["resumed"] is True
        _assert_same_end(ref, state_dir, summary, label)
        return label

    with ThreadPoolExecutor(max_workers=2) as pool:
        labels = list(pool.map(one, KILL_POINTS))
    assert len(set(labels)) == len(KILL_POINTS)
    FIGURES["kills.total"] += len(labels)
    FIGURES["kills.at_each_publish_write"] += len(labels)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigint_and_sigterm_stop_cleanly_and_resume(
    sig: signal.Signals, reference: Reference, tmp_path: Path
) -> None:
    args = run_args(reference.cfg, tmp_path, reference.max_bars)
    proc = subprocess.Popen(
        [*v7_command(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    published = tmp_path / "intel.json"
    deadline = time.monotonic() + 60
    while not published.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err  # 130 / 143: interrupted, not finished
    assert "run the same command to resume" in err
    first = json.loads(out)
    assert first["completed"] is False
    assert load(tmp_path / "intel.json")["engine"]["running"] is False
    memory = read_memory(tmp_path)
    assert memory is not None and memory.progress["completed"] is False
    again = timed_run(args)
    assert again.summary["resumed"] is True
    _assert_same_end(reference, tmp_path, again.summary, sig.name)
    FIGURES[f"stops.{sig.name}"] += 1
