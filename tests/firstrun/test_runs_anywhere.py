"""`v7` outside the checkout: the packaged default config, `v7 init`, run and doctor anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from execution.config import (
    DEFAULT_CONFIG_PATH,
    PACKAGED_CONFIG,
    default_config_source,
    default_config_text,
    load_config,
)
from tests.firstrun.cli_helpers import REPO, v7


def test_the_repo_config_and_the_packaged_default_are_one_file() -> None:
    assert (REPO / DEFAULT_CONFIG_PATH).read_text(encoding="utf-8") == default_config_text()


def test_outside_a_checkout_the_packaged_default_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_config_source() == PACKAGED_CONFIG
    assert load_config() == load_config(REPO / DEFAULT_CONFIG_PATH)


def test_a_config_dir_in_the_working_directory_wins_over_the_packaged_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = json.loads(default_config_text())
    mine["strategy"]["fast"] = 5
    (tmp_path / "config").mkdir()
    (tmp_path / DEFAULT_CONFIG_PATH).write_text(json.dumps(mine), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_config().strategy.fast == 5


def test_run_and_doctor_work_from_a_directory_outside_the_repo(tmp_path: Path) -> None:
    run = v7("run", "--fast", "--max-bars", "700", "--no-progress", "--state-dir", "s",
             cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "v7 run summary" in run.stdout
    doctor = v7("doctor", "--state-dir", "s", cwd=tmp_path)
    assert doctor.returncode in (0, 1), doctor.stdout + doctor.stderr
    assert "all 5 state files readable" in doctor.stdout


def test_init_writes_an_editable_copy_that_the_next_run_reads(tmp_path: Path) -> None:
    first = v7("init", "proj", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    written = tmp_path / "proj" / DEFAULT_CONFIG_PATH
    assert written.read_text(encoding="utf-8") == default_config_text()
    again = v7("init", "proj", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    assert written.read_text(encoding="utf-8") == default_config_text()
    edited = json.loads(written.read_text(encoding="utf-8"))
    edited["strategy"]["name"] = "nonexistent_strategy"
    written.write_text(json.dumps(edited), encoding="utf-8")
    run = v7("run", "--fast", "--max-bars", "10", "--state-dir", "s", cwd=tmp_path / "proj")
    assert run.returncode == 2 and "strategy.name" in run.stderr  # it read the edited copy
    forced = v7("init", "proj", "--force", cwd=tmp_path)
    assert forced.returncode == 0
    assert written.read_text(encoding="utf-8") == default_config_text()
