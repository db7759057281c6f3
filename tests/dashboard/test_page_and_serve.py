"""Script arguments of app.py and the streamlit command line that serve() runs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dashboard.page import APP_PATH, ScriptArgs, parse_script_args
from dashboard.serve import REPO_ROOT, build_command, child_env, url


def test_script_args_after_the_double_dash_are_read() -> None:
    args = parse_script_args([str(APP_PATH), "--state-dir", "/x", "--refresh", "5"])
    assert args == ScriptArgs("/x", 5.0)


def test_pytest_argv_is_ignored_under_apptest() -> None:
    assert parse_script_args(["/usr/bin/pytest", "--state-dir", "/x"]) == ScriptArgs()
    assert parse_script_args([]) == ScriptArgs()


def test_bad_script_args_are_reported_not_raised() -> None:
    args = parse_script_args([str(APP_PATH), "--refresh", "soon"])
    assert args.state_dir is None and args.error and "soon" in args.error
    assert parse_script_args([str(APP_PATH), "--refresh", "-1"]).refresh is None
    assert parse_script_args([str(APP_PATH), "--unknown", "1"]) == ScriptArgs()


def test_the_command_is_headless_on_localhost_without_usage_stats(tmp_path: Path) -> None:
    cmd = build_command(str(tmp_path), 8599, refresh=2.5, python="py")
    assert cmd[:5] == ["py", "-m", "streamlit", "run", str(APP_PATH)]
    flags = dict(zip(cmd[5 : cmd.index("--") : 2], cmd[6 : cmd.index("--") : 2], strict=True))
    assert flags["--server.headless"] == "true"
    assert flags["--server.address"] == "127.0.0.1"
    assert flags["--server.port"] == "8599"
    assert flags["--browser.gatherUsageStats"] == "false"
    assert cmd[cmd.index("--") + 1 :] == [
        "--state-dir",
        str(tmp_path.resolve()),
        "--refresh",
        "2.5",
    ]


def test_without_a_state_dir_the_app_falls_back_to_its_own_default() -> None:
    cmd = build_command(None, 8501)
    assert cmd[-1] == "--" and cmd[0] == sys.executable
    assert url("127.0.0.1", 8501) == "http://127.0.0.1:8501"


def test_the_child_can_import_the_repo_and_keeps_the_callers_path() -> None:
    env = child_env({"PYTHONPATH": "/extra"})
    assert env["PYTHONPATH"].split(os.pathsep) == [str(REPO_ROOT), "/extra"]
    assert env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] == "false"
