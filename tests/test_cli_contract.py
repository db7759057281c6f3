"""`v7`'s contract with its user: --version, help on every option, refused contradictions,
exit codes 0 / 1 / 2, a quiet closed pipe, a taken port, exactly --max-bars bars (130 / 143
for an interrupted replay: tests/faults/test_crash_kill.py)."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from csv_kit import csv_dir

from execution.cli import build_parser, main, version
from execution.config import default_config_text
from tests.firstrun.cli_helpers import v7


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: dict[str, argparse.ArgumentParser] = {"v7": parser}
    for name, p in sub.choices.items():
        found[name] = p
        for a in p._actions:  # nested (v7 data fetch)
            if isinstance(a, argparse._SubParsersAction):
                found.update({f"{name} {n}": q for n, q in a.choices.items()})
    return found


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"v7 {version()}"


def test_every_option_of_every_subcommand_has_help() -> None:
    missing = [
        f"{cmd} {a.option_strings or a.dest}"
        for cmd, p in _subcommands().items()
        for a in p._actions
        if not isinstance(a, argparse._SubParsersAction) and not (a.help and a.help.strip())
    ]
    assert missing == []


@pytest.mark.parametrize(
    "argv",
    [
        ["--fast", "--live"],
        ["--live", "--data", "somewhere"],
        ["--live", "--max-bars", "10"],
        ["--testnet"],
        ["--poll", "2"],
        ["--max-loops", "3"],
        ["--fast", "--pace", "1"],
        ["--json-summary"],
    ],
)
def test_contradictory_run_flags_are_refused_with_exit_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", *argv, "--state-dir", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err.startswith("v7 run: --")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "argv", [["run", "--max-bars", "-1"], ["run", "--pace", "-1"], ["dashboard", "--port", "0"]]
)
def test_out_of_range_numbers_are_argument_errors(argv: list[str]) -> None:
    assert main(argv) == 2


def _summary(out: str) -> dict[str, object]:
    return json.loads(out)


def test_data_without_fast_says_it_replays_as_fast_as_possible(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = csv_dir(tmp_path, 300)
    code = main(["run", "--data", str(data), "--state-dir", str(tmp_path / "s"), "--no-progress",
                 "--json-summary"])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "as fast as possible" in out.err
    assert _summary(out.out)["bars"] == 300


def test_csv_timestamps_in_nanoseconds_replay_to_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = csv_dir(tmp_path, 300, scale=1e9)
    code = main(["run", "--fast", "--data", str(data), "--state-dir", str(tmp_path / "s"),
                 "--no-progress", "--json-summary"])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    summary = _summary(out.out)
    assert summary["bars"] == 300


def test_csv_times_past_year_2200_are_rejected_rows_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = csv_dir(tmp_path, 300)
    with (data / "BTCUSDT.csv").open("a", encoding="utf-8") as f:
        f.write("253402214400000,100,101,99,100,10\n")  # 9999-12-31 in ms
    code = main(["run", "--fast", "--data", str(data), "--state-dir", str(tmp_path / "s"),
                 "--no-progress", "--json-summary"])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    assert _summary(out.out)["bars"] == 300


@pytest.mark.parametrize("n", [1, 20_000])
def test_max_bars_runs_exactly_that_many_bars(
    n: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--fast", "--max-bars", str(n), "--state-dir", str(tmp_path / "s"),
                 "--no-progress", "--json-summary"])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    assert _summary(out.out)["bars"] == n


def _config(tmp_path: Path, **changes: object) -> str:
    cfg = json.loads(default_config_text())
    for dotted, value in changes.items():
        node = cfg
        *parents, key = dotted.split("__")
        for part in parents:
            node = node[part]
        node[key] = value
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    return str(path)


def test_a_plugin_that_does_not_import_is_exit_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, strategy__name="no_such_package_v7.mod:Strategy")
    code = main(["run", "--fast", "--max-bars", "10", "--config", cfg, "--state-dir",
                 str(tmp_path / "s")])  # fmt: skip
    assert code == 2
    assert "no_such_package_v7" in capsys.readouterr().err


def test_a_starting_balance_of_1e308_is_refused_at_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, exchange__starting_balance=1e308)
    assert main(["run", "--fast", "--config", cfg, "--state-dir", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "exchange.starting_balance" in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()


def test_a_synthetic_start_in_year_9999_is_refused_at_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, data__synthetic__start="9999-12-31T00:00:00Z")
    assert main(["run", "--fast", "--config", cfg, "--state-dir", str(tmp_path / "s")]) == 2
    assert "data.synthetic" in capsys.readouterr().err


def test_a_key_pasted_into_api_key_env_is_never_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "aB3xY9kLmN0pQ7rS8tUvWzC1dE2fG4hJ5iK6lM7nO8pQ9rS0tUvW1xY2zA3bC4dE"
    cfg = _config(tmp_path, exchange__api_key_env=secret)
    assert main(["run", "--live", "--yes", "--config", cfg, "--state-dir", str(tmp_path)]) == 2
    assert main(["run", "--fast", "--config", cfg, "--state-dir", str(tmp_path)]) == 2
    out = capsys.readouterr()
    assert "exchange.api_key_env" in out.err
    assert secret not in out.err + out.out
    assert secret[:12] not in out.err + out.out


def test_paper_exchange_updated_ts_is_iso_like_every_state_file(tmp_path: Path) -> None:
    assert main(["run", "--fast", "--max-bars", "70", "--state-dir", str(tmp_path),
                 "--no-progress"]) == 0  # fmt: skip
    stamp = json.loads((tmp_path / "paper_exchange.json").read_text())["updated_ts"]
    assert isinstance(stamp, str) and stamp.endswith("Z")


def test_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    from tests.firstrun.cli_helpers import REPO

    proc = subprocess.Popen(
        [sys.executable, "-m", "execution.cli", "doctor", "--state-dir", str(tmp_path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.close()  # the reader (`head -3`) went away before anything was written
    _, err = proc.communicate(timeout=60)
    assert err.decode() == ""
    assert proc.returncode == 1


def test_a_port_in_use_is_exit_2_with_a_port_hint_and_no_url(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["dashboard", "--port", str(port)]) == 2
    out = capsys.readouterr()
    assert "--port" in out.err and str(port) in out.err
    assert "http://" not in out.out + out.err


def test_unknown_subcommand_and_missing_config_are_exit_2(tmp_path: Path) -> None:
    assert v7("nonsense", cwd=tmp_path).returncode == 2
    missing = v7("run", "--fast", "--config", "nope.json", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.json" in missing.stderr
