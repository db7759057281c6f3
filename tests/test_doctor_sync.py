"""`v7 doctor --sync-registry`: a dry run changes nothing; --apply adds exactly the missing TP/SL."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import doctor_state_factory as f
import pytest
from store.helpers import lock_held_by_another_process, loop_batch

from doctor.cli import main, run_doctor
from doctor.sync import levels, sync_registry
from execution.store import (
    JournalBatch,
    Memory,
    Store,
    db_path,
    read_equity,
    read_memory,
)

NOW = f.T_EPOCH + 60


def snapshot(state_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(state_dir.iterdir())}


def two_unprotected(state: f.State) -> None:
    f.add_unprotected_position(state, mark=2850.0, symbol="SOLUSDT")
    f.add_unprotected_position(state, mark=3100.0, symbol="BNBUSDT")
    state["positions_ledger.json"]["positions"]["BNBUSDT"]["side"] = "short"
    state["positions_state.json"]["positions"][-1]["side"] = "short"


def registry(state_dir: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((state_dir / "tp_sl_registry.json").read_text())
    return doc


def test_dry_run_shows_the_plan_and_changes_nothing(tmp_path: Path) -> None:
    state_dir = f.make_state(tmp_path, two_unprotected)
    before = snapshot(state_dir)
    report = sync_registry(state_dir, apply=False, tp_pct=0.03, sl_pct=0.02, now=NOW)
    assert snapshot(state_dir) == before
    assert not report.applied and report.exit_code == 0
    assert run_doctor(state_dir, as_json=False, config_path=None)[0] == 2
    assert [e["symbol"] for e in report.planned] == ["BNBUSDT", "SOLUSDT"]
    assert report.already_registered == ["BTCUSDT", "ETHUSDT"]
    assert "would register SOLUSDT long: entry 3000 -> tp 3090, sl 2940" in report.render()


def test_apply_registers_exactly_the_missing_entries(tmp_path: Path) -> None:
    state_dir = f.make_state(tmp_path, two_unprotected)
    before_files = snapshot(state_dir)
    before = registry(state_dir)
    report = sync_registry(state_dir, apply=True, tp_pct=0.03, sl_pct=0.02, now=NOW)
    after = registry(state_dir)
    assert report.applied and report.exit_code == 0
    assert set(after["entries"]) - set(before["entries"]) == {"SOLUSDT", "BNBUSDT"}
    for symbol, entry in before["entries"].items():
        assert after["entries"][symbol] == entry, "existing entries are untouched"
    assert after["entries"]["SOLUSDT"] == {
        "symbol": "SOLUSDT", "side": "long", "tp_price": 3090.0, "sl_price": 2940.0,
        "created_ts": "2024-01-02T00:01:00Z", "source": "sync",
    }  # fmt: skip
    bnb = after["entries"]["BNBUSDT"]
    assert (bnb["side"], bnb["tp_price"], bnb["sl_price"]) == ("short", 2910.0, 3060.0)
    assert after["schema_version"] == 1 and after["updated_ts"] == "2024-01-02T00:01:00Z"
    changed = {n for n, b in snapshot(state_dir).items() if before_files.get(n) != b}
    assert changed == {"tp_sl_registry.json"}, "no other file is touched, no temp file left"


def test_apply_twice_is_a_no_op(tmp_path: Path) -> None:
    state_dir = f.make_state(tmp_path, f.missing_tp_sl_above_water)
    sync_registry(state_dir, apply=True, tp_pct=0.03, sl_pct=0.02, now=NOW)
    again = sync_registry(state_dir, apply=True, tp_pct=0.03, sl_pct=0.02, now=NOW + 60)
    assert again.planned == [] and not again.applied
    assert registry(state_dir)["updated_ts"] == "2024-01-02T00:01:00Z"


def test_positions_with_bad_side_or_price_are_skipped_with_a_reason(tmp_path: Path) -> None:
    def bad(state: f.State) -> None:
        f.add_unprotected_position(state, symbol="SOLUSDT")
        f.add_unprotected_position(state, symbol="XRPUSDT")
        state["positions_ledger.json"]["positions"]["SOLUSDT"]["entry_price"] = 0
        state["positions_ledger.json"]["positions"]["XRPUSDT"]["side"] = "flat"

    report = sync_registry(
        f.make_state(tmp_path, bad), apply=True, tp_pct=0.03, sl_pct=0.02, now=NOW
    )
    assert report.planned == [] and not report.applied
    assert {s["symbol"] for s in report.skipped} == {"SOLUSDT", "XRPUSDT"}


def test_missing_registry_is_created_but_a_corrupt_one_is_never_overwritten(tmp_path: Path) -> None:
    state_dir = f.make_state(tmp_path / "a")
    (state_dir / "tp_sl_registry.json").unlink()
    report = sync_registry(state_dir, apply=True, tp_pct=0.03, sl_pct=0.02, now=NOW)
    assert report.applied and set(registry(state_dir)["entries"]) == {"BTCUSDT", "ETHUSDT"}

    state_dir = f.make_state(tmp_path / "b", f.underwater_without_tp_sl)
    f.corrupt(state_dir, "tp_sl_registry.json")
    before = snapshot(state_dir)
    report = sync_registry(state_dir, apply=True, tp_pct=0.03, sl_pct=0.02, now=NOW)
    assert report.refused and "corrupt" in report.refused and report.exit_code == 2
    assert snapshot(state_dir) == before


def test_apply_refuses_while_the_engine_process_is_running(tmp_path: Path) -> None:
    def running(state: f.State) -> None:
        state["intel.json"]["engine"].update(mode="live", running=True, pid=os.getpid())

    state_dir = f.make_state(tmp_path, f.underwater_without_tp_sl, running)
    before = snapshot(state_dir)
    report = sync_registry(state_dir, apply=True, tp_pct=0.03, sl_pct=0.02, now=NOW)
    assert report.refused and f"pid {os.getpid()}" in report.refused
    assert snapshot(state_dir) == before


def test_levels_mirror_for_shorts() -> None:
    assert levels("long", 100.0, 0.03, 0.02) == (103.0, 98.0)
    assert levels("short", 100.0, 0.03, 0.02) == (97.0, 102.0)
    assert levels("long", 1e-05, 0.03, 0.02) == (1.03e-05, 9.8e-06)


def test_cli_sync_is_a_dry_run_unless_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = f.make_state(tmp_path, f.underwater_without_tp_sl)
    before = snapshot(state_dir)
    assert main(["--state-dir", str(state_dir), "--sync-registry", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["applied"] is False and [e["symbol"] for e in out["planned"]] == ["SOLUSDT"]
    assert snapshot(state_dir) == before
    args = ["--state-dir", str(state_dir), "--sync-registry", "--apply", "--tp-pct", "0.05"]
    assert main(args) == 0
    assert registry(state_dir)["entries"]["SOLUSDT"]["tp_price"] == 3150.0
    capsys.readouterr()
    # The files are fixed; the engine's own count stays until it republishes (restart).
    assert main(["--state-dir", str(state_dir)]) == 2
    assert "changed after the engine's last publish" in capsys.readouterr().out
    assert main(["--state-dir", str(state_dir), "--sync-registry", "--sl-pct", "2"]) == 2


# --- with a store: the registry is the engine's memory there, the JSON file a view of it ------


def with_store(state_dir: Path) -> Memory:
    """Give the state dir a store whose memory holds the same ledger and registry as the files."""
    memory = Memory(
        progress={"bars_processed": 9, "completed": False},
        ledger=json.loads((state_dir / "positions_ledger.json").read_text()),
        registry=registry(state_dir),
        strategy={"BTCUSDT": {"fast": 1.0}},
    )
    with Store.open(state_dir, durable=True) as store:
        store.commit(memory, loop_batch(3))
    return memory


def test_apply_writes_the_store_registry_and_the_json_file(tmp_path: Path) -> None:
    state_dir = f.make_state(tmp_path, f.underwater_without_tp_sl)
    before = with_store(state_dir)
    report = sync_registry(state_dir, apply=True, tp_pct=0.03, sl_pct=0.02, now=NOW)
    after = read_memory(state_dir)
    assert report.applied and after is not None
    assert set(after.registry["entries"]) - set(before.registry["entries"]) == {"SOLUSDT"}
    assert after.registry["entries"]["SOLUSDT"] == registry(state_dir)["entries"]["SOLUSDT"]
    assert after.registry["entries"]["SOLUSDT"]["tp_price"] == 3090.0
    assert after.registry["updated_ts"] == "2024-01-02T00:01:00Z"
    assert (after.progress, after.ledger, after.strategy) == (
        before.progress, before.ledger, before.strategy,
    ), "only the registry component changes"  # fmt: skip
    assert len(read_equity(state_dir)) == 1, "the journal is untouched"
    # The next engine start loads this memory: the entry survives a restart.
    with Store.open(state_dir, durable=True) as store:
        reloaded = store.load()
    assert reloaded is not None and "SOLUSDT" in reloaded.registry["entries"]


def test_the_store_keeps_an_entry_the_json_file_had_lost(tmp_path: Path) -> None:
    state_dir = f.make_state(tmp_path, f.underwater_without_tp_sl)
    memory = with_store(state_dir)
    kept = {"symbol": "SOLUSDT", "side": "long", "tp_price": 3200.0, "sl_price": 2700.0}
    memory.registry["entries"]["SOLUSDT"] = kept
    with Store.open(state_dir, durable=True) as store:
        store.load()
        store.commit(memory, JournalBatch())
    sync_registry(state_dir, apply=True, tp_pct=0.03, sl_pct=0.02, now=NOW)
    after = read_memory(state_dir)
    assert after is not None and after.registry["entries"]["SOLUSDT"] == kept


def test_apply_refuses_while_another_process_holds_the_engine_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = f.make_state(tmp_path, f.underwater_without_tp_sl)
    before_memory = with_store(state_dir)
    before_json = registry(state_dir)
    with lock_held_by_another_process(state_dir) as engine:
        code = main(["--state-dir", str(state_dir), "--sync-registry", "--apply"])
        out = capsys.readouterr().out
        assert code == 2
        assert f"REFUSED: the engine (pid {engine.pid}) is running" in out
    assert read_memory(state_dir) == before_memory
    assert registry(state_dir) == before_json


def test_a_dry_run_reads_nothing_of_the_store_and_takes_no_lock(tmp_path: Path) -> None:
    state_dir = f.make_state(tmp_path, f.underwater_without_tp_sl)
    with_store(state_dir)
    before = snapshot(state_dir)
    with lock_held_by_another_process(state_dir):
        report = sync_registry(state_dir, apply=False, tp_pct=0.03, sl_pct=0.02, now=NOW)
    assert report.planned and not report.refused
    after = snapshot(state_dir)
    assert {n: b for n, b in after.items() if n != "engine.lock"} == {
        n: b for n, b in before.items() if n != "engine.lock"
    }


def test_an_unusable_store_refuses_and_writes_no_json(tmp_path: Path) -> None:
    state_dir = f.make_state(tmp_path, f.underwater_without_tp_sl)
    db_path(state_dir).write_bytes(b"not a database at all" * 100)
    before = registry(state_dir)
    report = sync_registry(state_dir, apply=True, tp_pct=0.03, sl_pct=0.02, now=NOW)
    assert report.refused and "engine.db" in report.refused and report.exit_code == 2
    assert registry(state_dir) == before
