"""Damaged state files: loaders give {}, the doctor names the file, the dashboard shows why,
and the engine neither crashes nor replaces the last good copy by nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.state import load_dashboard_state
from doctor.cli import run_doctor
from execution import state_v7
from execution.clock import ReplayClock
from execution.config import load_config
from execution.run.runner import EngineRunner, RunOptions
from execution.state_io import MAX_STATE_FILE_BYTES
from execution.state_v7 import (
    POSITIONS_LEDGER_FILE,
    STATE_FILES,
    TP_SL_REGISTRY_FILE,
)
from execution.store import DB_FILE, JournalBatch, Store, read_memory
from execution.venues.paper import PaperExchange

from .helpers import (
    BASE_CONFIG,
    FIGURES,
    REPO,
    diff_keys,
    final_outcome,
    frequent_publish_config,
    load,
    run_args,
    run_v7,
)

pytestmark = pytest.mark.timeout(120)

LOADERS: dict[str, Callable[[Path], dict[str, Any]]] = {
    state_v7.INTEL_FILE: state_v7.load_intel_state,
    state_v7.POSITIONS_STATE_FILE: state_v7.load_positions_state,
    state_v7.POSITIONS_LEDGER_FILE: state_v7.load_positions_ledger,
    state_v7.TP_SL_REGISTRY_FILE: state_v7.load_tp_sl_registry,
    state_v7.RISK_SNAPSHOT_FILE: state_v7.load_risk_snapshot,
}


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _as_directory(p: Path) -> None:
    p.unlink()
    p.mkdir()


# damage -> (what it does, the status a defensive read reports)
UNREADABLE: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (_truncate, "corrupt"),
    "empty": (lambda p: p.write_bytes(b""), "empty"),
    "whitespace": (lambda p: p.write_text(" \n\t"), "empty"),
    "garbage_bytes": (lambda p: p.write_bytes(bytes(range(256)) * 4), "corrupt"),
    "zero_bytes": (lambda p: p.write_bytes(b"\x00" * 512), "corrupt"),
    "json_array": (lambda p: p.write_text("[1, 2, 3]"), "corrupt"),
    "json_null": (lambda p: p.write_text("null"), "corrupt"),
    "json_string": (lambda p: p.write_text('"intel"'), "corrupt"),
    "json_number": (lambda p: p.write_text("42"), "corrupt"),
    "a_directory": (_as_directory, "corrupt"),
}

# Valid JSON objects whose sections have the wrong types.
MISTYPED: dict[str, dict[str, Any]] = {
    state_v7.INTEL_FILE: {"schema_version": 1, "updated_ts": 5, "engine": "x",
                          "runtime_diagnostics": [1], "bad_bars": "many"},
    state_v7.POSITIONS_STATE_FILE: {"schema_version": 1, "updated_ts": None,
                                    "positions": {"a": 1}},
    state_v7.POSITIONS_LEDGER_FILE: {"schema_version": 1, "positions": [1, 2],
                                     "closed_count": "x", "realized_pnl": "y"},
    state_v7.TP_SL_REGISTRY_FILE: {"schema_version": 1, "entries": 5},
    state_v7.RISK_SNAPSHOT_FILE: {"schema_version": 1, "nav": "high", "limits": [],
                                  "drawdown_pct": "x", "risk_mode": 3},
}  # fmt: skip


def _copy(good: Path, tmp: Path) -> Path:
    d = tmp / "state"
    shutil.copytree(good, d)
    return d


def _doctor(d: Path) -> tuple[int, dict[str, Any]]:
    code, text = run_doctor(d, as_json=True, config_path=None)
    report: dict[str, Any] = json.loads(text)
    crashed = [f for f in report["findings"] if "check failed" in f["summary"]]
    assert not crashed, crashed
    return code, report


@pytest.mark.parametrize("damage", sorted(UNREADABLE))
@pytest.mark.parametrize("name", STATE_FILES)
def test_unreadable_state_file_loads_as_empty_and_doctor_and_dashboard_name_it(
    name: str, damage: str, good_state: Path, tmp_path: Path
) -> None:
    d = _copy(good_state, tmp_path)
    action, status = UNREADABLE[damage]
    action(d / name)
    assert LOADERS[name](d) == {}
    read = state_v7.read_state_file(name, d)
    assert (read.status, read.data) == (status, {}) and read.error
    others = [n for n in STATE_FILES if n != name]
    assert all(state_v7.read_state_file(n, d).ok for n in others), "one file hid the others"
    code, report = _doctor(d)
    files = next(f for f in report["findings"] if f["check"] == "state_files")
    assert code == 2 and files["status"] == "critical" and name in files["summary"]
    shown = load_dashboard_state(d).files[name]
    assert shown.status == status and name in shown.message() and str(d) in shown.path
    FIGURES["inputs.state_files"] += 1


@pytest.mark.parametrize("name", STATE_FILES)
def test_mistyped_state_file_is_partial_on_the_dashboard_and_never_crashes_the_doctor(
    name: str, good_state: Path, tmp_path: Path
) -> None:
    d = _copy(good_state, tmp_path)
    (d / name).write_text(json.dumps(MISTYPED[name]))
    shown = load_dashboard_state(d).files[name]
    assert shown.status == "partial" and shown.error and name in shown.message()
    _doctor(d)
    FIGURES["inputs.state_files"] += 1


def test_doctor_flags_a_mistyped_risk_snapshot(good_state: Path, tmp_path: Path) -> None:
    d = _copy(good_state, tmp_path)
    (d / state_v7.RISK_SNAPSHOT_FILE).write_text(json.dumps(MISTYPED[state_v7.RISK_SNAPSHOT_FILE]))
    code, _ = _doctor(d)
    assert code >= 1


@pytest.mark.timeout(90)
def test_dashboard_page_renders_every_damaged_file_as_a_notice(
    good_state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _copy(good_state, tmp_path)
    damages = ["truncated", "garbage_bytes", "empty", "json_array"]
    for name, damage in zip(STATE_FILES, damages, strict=False):
        UNREADABLE[damage][0](d / name)
    mistyped = STATE_FILES[len(damages)]
    (d / mistyped).write_text(json.dumps(MISTYPED[mistyped]))
    monkeypatch.setenv("V7_STATE_DIR", str(d))
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    notices = "\n".join(str(w.value) for w in at.warning)
    for name in STATE_FILES:
        assert name in notices, f"no notice for {name}: {notices}"
    FIGURES["inputs.dashboard_renders"] += 1


# --- hostile files: things that are not state files at all --------------------------------------


def _fifo(p: Path) -> None:
    p.unlink()
    os.mkfifo(p)


def _symlink_loop(p: Path) -> None:
    p.unlink()
    p.symlink_to(p.name + ".other")
    p.with_name(p.name + ".other").symlink_to(p.name)


def _socket(p: Path) -> None:
    p.unlink()
    with contextlib.chdir(p.parent), socket.socket(socket.AF_UNIX) as sock:
        sock.bind(p.name)  # relative: a unix socket path is limited to ~108 bytes


def _device(p: Path) -> None:
    p.unlink()
    p.symlink_to("/dev/zero")  # endless: a reader without a bound never returns


def _huge(p: Path) -> None:
    os.truncate(p, MAX_STATE_FILE_BYTES + 1)  # sparse: costs no disk


# damage -> (what it does, what the error must say)
HOSTILE: dict[str, tuple[Callable[[Path], None], str]] = {
    "fifo": (_fifo, "not a regular file: a FIFO"),
    "symlink_loop": (_symlink_loop, "symlink loop"),
    "unix_socket": (_socket, "not a regular file: a socket"),
    "char_device": (_device, "not a regular file: a character device"),
    "directory": (_as_directory, "not a regular file: a directory"),
    "nesting_past_recursion": (lambda p: p.write_text('{"a":' + "[" * 100_000 + "]" * 100_000 + "}"),
                               "nested deeper than"),
    "nesting_past_the_bound": (lambda p: p.write_text('{"a":' + "[" * 500 + "]" * 500 + "}"),
                               "nested deeper than"),
    "integer_of_5000_digits": (lambda p: p.write_text('{"nav": 1' + "0" * 5000 + "}"), "digits"),
    "integer_beyond_float": (lambda p: p.write_text('{"nav": 1' + "0" * 400 + "}"), "digits"),
    "over_the_size_bound": (_huge, "bound"),
    "invalid_utf8": (lambda p: p.write_bytes(b'{"engine": "\xff\xfe"}'), "not UTF-8"),
}  # fmt: skip


def within(seconds: float, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` on a daemon thread: a call that blocks fails the test instead of hanging it."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn(*args)
        except BaseException as err:  # handed back to the test thread
            out["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{getattr(fn, '__name__', fn)} still running after {seconds}s"
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.mark.parametrize("damage", sorted(HOSTILE))
@pytest.mark.parametrize("name", STATE_FILES)
def test_hostile_state_file_is_refused_quickly_and_the_doctor_and_dashboard_name_it(
    name: str, damage: str, good_state: Path, tmp_path: Path
) -> None:
    d = _copy(good_state, tmp_path)
    action, says = HOSTILE[damage]
    action(d / name)
    started = time.monotonic()
    read = within(5, state_v7.read_state_file, name, d)
    assert (read.status, read.data) == ("corrupt", {}) and says in (read.error or ""), read.error
    assert time.monotonic() - started < 2, "refused, but only after reading it"
    assert within(5, LOADERS[name], d) == {}
    code, report = within(20, _doctor, d)
    files = next(f for f in report["findings"] if f["check"] == "state_files")
    assert code == 2 and files["status"] == "critical" and name in files["summary"]
    shown = within(5, load_dashboard_state, d).files[name]
    assert shown.status == "corrupt" and says in shown.message() and name in shown.message()
    FIGURES["inputs.state_files"] += 1


# --- the engine on damaged files ----------------------------------------------------------------


def test_damaged_files_while_down_do_not_change_how_a_replay_resumes(tmp_path: Path) -> None:
    """The store is the resume point: wrecked published views are simply republished."""
    cfg = frequent_publish_config(tmp_path / "config.json")
    ref = run_v7(run_args(cfg, tmp_path / "ref", 7_000))
    assert ref.returncode == 0, ref.stderr
    d = tmp_path / "cut"
    _interrupted(cfg, d, 7_000)
    for name, damage in zip(STATE_FILES, UNREADABLE, strict=False):
        UNREADABLE[damage][0](d / name)
    again = run_v7(run_args(cfg, d, 7_000))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["resumed"] is True
    assert diff_keys(final_outcome(d), final_outcome(tmp_path / "ref")) == []
    FIGURES["inputs.state_files"] += len(STATE_FILES)


def _interrupted(cfg: Path, d: Path, max_bars: int) -> None:
    """Run the command in-process and stop it a third of the way (as SIGINT would)."""
    from execution.cli.run import paper_exchange_factory
    from execution.market.bars import merge_series, synthetic_series

    config = load_config(cfg)
    per_symbol = -(-max_bars // len(config.symbols))
    merged = merge_series(
        synthetic_series(config.universe, per_symbol, config.data.synthetic, 60), config.symbols
    )
    clock = ReplayClock(merged.ts[0])
    source = f"synthetic:seed={config.data.synthetic.seed}:tf=1m:n={per_symbol}"
    runner = EngineRunner(config, RunOptions("replay", source, max_bars, False), d, clock,
                          paper_exchange_factory(config, clock))  # fmt: skip
    step = runner.executor.step

    def stop_at_a_third(bars: Any) -> None:
        step(bars)
        if runner.bars_done >= max_bars // 3:
            runner.stop_requested = True

    runner.executor.step = stop_at_a_third  # type: ignore[method-assign]
    runner.run_replay(merged)
    runner.finish()
    memory = read_memory(d)
    assert memory is not None and memory.progress["completed"] is False


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage_bytes", "json_array"])
def test_a_damaged_store_refuses_the_resume_and_fresh_starts_the_replay_over(
    damage: str, tmp_path: Path
) -> None:
    cfg = frequent_publish_config(tmp_path / "config.json")
    d = tmp_path / "state"
    _interrupted(cfg, d, 7_000)
    UNREADABLE[damage][0](d / DB_FILE)
    wrecked = (d / DB_FILE).read_bytes()
    out = run_v7(run_args(cfg, d, 7_000))
    assert out.returncode == 2 and DB_FILE in out.stderr and "--fresh" in out.stderr
    assert (d / DB_FILE).read_bytes() == wrecked  # refused, untouched
    out = run_v7(run_args(cfg, d, 7_000, "--fresh"))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["resumed"] is False
    (backup,) = d.glob("backup-*")
    assert (backup / DB_FILE).read_bytes() == wrecked  # kept aside, never deleted
    ref = run_v7(run_args(cfg, tmp_path / "ref", 7_000))
    assert ref.returncode == 0
    assert diff_keys(final_outcome(d), final_outcome(tmp_path / "ref")) == []
    FIGURES["inputs.state_files"] += 1


@pytest.mark.parametrize("damaged", [POSITIONS_LEDGER_FILE, TP_SL_REGISTRY_FILE])
def test_live_restart_with_an_unreadable_view_resumes_from_the_store(
    damaged: str, tmp_path: Path
) -> None:
    """The ledger and registry files are views: a live restart takes its memory from the store."""
    cfg_path = frequent_publish_config(tmp_path / "config.json")
    d = tmp_path / "state"
    _interrupted(cfg_path, d, 7_000)
    with Store.open(d, durable=True) as store:
        memory = store.load()
        assert memory is not None
        memory.identity = {"mode": "live", "source": "live:test", "account": "paper"}
        store.commit(memory, JournalBatch())  # make it the memory of a live run
    held = set(memory.ledger["positions"])
    assert held, "the cut should leave positions open"
    UNREADABLE["truncated"][0](d / damaged)
    config = load_config(BASE_CONFIG)
    clock = ReplayClock(memory.progress["last_ts"])

    def venue(saved: dict[str, Any] | None) -> PaperExchange:
        assert saved is not None
        fresh = PaperExchange.from_config(config, clock)
        rules = {s: fresh.market_rules(s) for s in config.symbols}
        ex = config.exchange
        return PaperExchange.restore(saved, rules, ex.starting_balance, ex.taker_fee_bps,
                                     ex.slippage_bps, clock)  # fmt: skip

    runner = EngineRunner(config, RunOptions("live", "live:test"), d, clock, venue)
    ex = runner.executor
    assert set(ex.ledger.positions) == held
    assert not any(p.adopted for p in ex.ledger.positions.values()), "memory lost: adopted"
    assert set(ex.registry.entries) == set(memory.registry["entries"])
    runner.finish()
    assert set(load(d / POSITIONS_LEDGER_FILE)["positions"]) == held  # the view, republished
    FIGURES["inputs.state_files"] += 1
