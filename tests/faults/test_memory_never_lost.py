"""The engine never forgets a position: every case an adversary found, as a test.

Each test drives the real `v7 run` (a subprocess) or the real runner over a real state dir, then
reads the store the way a restart would. A start that must not happen exits 2 and leaves the
state dir byte-identical.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from execution.store import read_memory
from faults.helpers import PACE, REPO, digest, fast, paced, run_v7, v7_command, write_config


@pytest.fixture(scope="module")
def paced_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A paced paper engine's state dir after a clean stop, holding orders and a balance."""
    state = tmp_path_factory.mktemp("paced") / "state"
    out = paced(state, 1400)
    assert out.returncode == 0, out.stderr
    return state


def _copy(src: Path, dst: Path) -> Path:
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
    return dst


# --- restarts keep everything --------------------------------------------------------------


def test_a_paced_paper_engine_keeps_its_account_orders_and_positions_on_restart(
    paced_state: Path, tmp_path: Path
) -> None:
    state = _copy(paced_state, tmp_path / "state")
    before = read_memory(state)
    assert before is not None and before.paper_orders, "the run placed orders"
    proc = subprocess.Popen(
        [*v7_command(), "run", "--state-dir", str(state), "--pace", PACE], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(4.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    after = read_memory(state)
    assert after is not None
    assert set(before.paper_orders) <= set(after.paper_orders)
    assert after.progress["bars_processed"] > before.progress["bars_processed"]
    # Every position the first run held was either still held or closed by a fill since.
    still = set(before.ledger["positions"]) & set(after.ledger["positions"])
    for symbol in still:
        assert (
            after.ledger["positions"][symbol]["entry_ts"]
            == (before.ledger["positions"][symbol]["entry_ts"])
            or after.ledger["positions"][symbol]["entry_ts"] > before.progress["last_ts"]
        )


def _damage(kind: str, db: Path) -> None:
    if kind == "truncated":
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 3])
    elif kind == "empty":
        db.write_bytes(b"")
    elif kind == "garbage":
        db.write_bytes(b"\x00not a database\xff" * 100)
    elif kind == "directory":
        db.unlink()
        db.mkdir()
    elif kind == "symlink_loop":
        db.unlink()
        db.symlink_to(db.name)
    elif kind == "fifo":
        db.unlink()
        os.mkfifo(db)


@pytest.mark.parametrize(
    "kind", ["truncated", "empty", "garbage", "directory", "symlink_loop", "fifo"]
)
def test_a_damaged_store_is_refused_naming_the_file_and_left_byte_identical(
    paced_state: Path, tmp_path: Path, kind: str
) -> None:
    state = _copy(paced_state, tmp_path / "state")
    _damage(kind, state / "engine.db")
    before = digest(state)
    out = paced(state, 10)
    assert out.returncode == 2, out.stderr
    assert "engine.db" in out.stderr and "--fresh" in out.stderr
    assert digest(state) == before


def test_fresh_moves_the_old_memory_aside_and_deletes_nothing(
    paced_state: Path, tmp_path: Path
) -> None:
    state = _copy(paced_state, tmp_path / "state")
    _damage("garbage", state / "engine.db")
    damaged = (state / "engine.db").read_bytes()
    out = paced(state, 50, "--fresh")
    assert out.returncode == 0, out.stderr
    backups = list(state.glob("backup-*"))
    assert len(backups) == 1 and (backups[0] / "engine.db").read_bytes() == damaged
    assert (backups[0] / "paper_exchange.json").exists()
    fresh = read_memory(state)
    assert fresh is not None and fresh.progress["bars_processed"] >= 50


def _plugin(tmp_path: Path, body: str) -> tuple[Path, dict[str, str]]:
    pkg = tmp_path / "plug"
    pkg.mkdir()
    (pkg / "badstrategy.py").write_text(body)
    env = {**os.environ, "PYTHONPATH": f"{pkg}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cfg = write_config(tmp_path / "cfg.json", strategy={"name": "badstrategy:Strategy"})
    return cfg, env


@pytest.mark.parametrize(
    "case",
    ["import_error", "init_raises", "exit_zero_at_import", "huge_lookback", "port_in_use"],
)
def test_a_start_that_fails_leaves_the_state_dir_byte_identical(
    paced_state: Path, tmp_path: Path, case: str
) -> None:
    state = _copy(paced_state, tmp_path / "state")
    env = dict(os.environ)
    sock: socket.socket | None = None
    if case == "import_error":
        cfg, env = _plugin(tmp_path, "import no_such_module_anywhere\n")
    elif case == "init_raises":
        body = (
            "class Strategy:\n    def __init__(self, n, cfg):\n        raise RuntimeError('boom')\n"
        )
        cfg, env = _plugin(tmp_path, body)
    elif case == "exit_zero_at_import":
        cfg, env = _plugin(tmp_path, "import sys\nsys.exit(0)\n")
    elif case == "huge_lookback":
        cfg = write_config(tmp_path / "cfg.json", risk={"lookback_bars": 100_000_000})
    else:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        cfg = write_config(tmp_path / "cfg.json", metrics_port=sock.getsockname()[1])
    before = digest(state)
    try:
        out = subprocess.run(
            [*v7_command(), "run", "--state-dir", str(state), "--pace", PACE, "--max-bars", "5",
             "--config", str(cfg)],
            capture_output=True, text=True, timeout=120, cwd=REPO, env=env,
        )  # fmt: skip
    finally:
        if sock is not None:
            sock.close()
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert digest(state) == before


def test_a_backtest_on_a_paced_paper_state_dir_is_refused(
    paced_state: Path, tmp_path: Path
) -> None:
    state = _copy(paced_state, tmp_path / "state")
    before = digest(state)
    out = fast(state, 500)
    assert out.returncode == 2
    assert "paced paper engine" in out.stderr and "engine.db" in out.stderr
    assert digest(state) == before


def test_a_paced_run_on_a_replays_memory_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    cfg = write_config(tmp_path / "cfg.json", publish={"min_interval_seconds": 0.0})
    out = subprocess.run(
        [*v7_command(), "run", "--fast", "--no-progress", "--state-dir", str(state),
         "--max-bars", "4000", "--config", str(cfg)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    memory = read_memory(state)
    assert memory is not None and memory.progress["completed"] is True
    before = digest(state)
    out = paced(state, 5)
    assert out.returncode == 2 and "a replay" in out.stderr
    assert digest(state) == before


def test_a_finished_replay_run_again_keeps_the_old_one_in_a_backup(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert fast(state, 700).returncode == 0
    first = read_memory(state)
    again = fast(state, 700)
    assert again.returncode == 0, again.stderr
    assert "moved to" in again.stderr
    (backup,) = state.glob("backup-*")
    assert (backup / "engine.db").exists()
    second = read_memory(state)
    assert first is not None and second is not None
    assert first.ledger["positions"] == second.ledger["positions"]  # same replay, same end


# --- one engine per state dir --------------------------------------------------------------


@pytest.fixture
def running_engine(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [*v7_command(), "run", "--state-dir", str(state), "--pace", "0.05"], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (state / "intel.json").exists():
        time.sleep(0.1)
    yield proc, state
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)


def test_a_second_engine_on_the_same_state_dir_exits_2_naming_the_pid(
    running_engine: tuple[subprocess.Popen[str], Path],
) -> None:
    proc, state = running_engine
    out = paced(state, 5)
    assert out.returncode == 2
    assert f"pid {proc.pid}" in out.stderr
    out = fast(state, 100, "--seed", "4")
    assert out.returncode == 2 and f"pid {proc.pid}" in out.stderr
    assert proc.poll() is None  # the first engine runs on, untouched


def test_readers_never_need_the_lock(running_engine: tuple[subprocess.Popen[str], Path]) -> None:
    _, state = running_engine
    time.sleep(1.0)
    memory = read_memory(state)
    assert memory is not None and memory.identity["mode"] == "realtime"
    out = run_v7(["doctor", "--state-dir", str(state), "--json"], timeout=60)
    assert out.returncode in (0, 1, 2) and json.loads(out.stdout)
