"""The built wheel, installed on its own, gives a working `v7` from any directory."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dashboard.serve import port_free
from tests.firstrun.cli_helpers import REPO

_SKIP = ("logs", "build", "bench/results", ".git")


def _copy_sources(dest: Path) -> None:
    # Build from a copy: an in-tree build would leave build/ and *.egg-info in the checkout.
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
        text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    for rel in filter(None, files):
        src = REPO / rel
        if rel.startswith(_SKIP) or not src.exists():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel, follow_symlinks=False)


def _free_port() -> int:
    for port in range(8650, 8700):
        if port_free("127.0.0.1", port):
            return port
    raise RuntimeError("no free port")


def _wait_for_http(url: str, proc: subprocess.Popen[bytes], seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return int(response.status)
        except OSError:
            time.sleep(0.3)
    return 0


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("wheel") is None or shutil.which("git") is None,
    reason="building the wheel offline needs the `wheel` package (dev extra) and git",
)
def test_the_installed_wheel_runs_doctors_and_serves_from_any_directory(tmp_path: Path) -> None:
    src, dist, target, away = (tmp_path / d for d in ("src", "dist", "site", "away"))
    for d in (src, away):
        d.mkdir()
    _copy_sources(src)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)],
                   check=True, timeout=300)  # fmt: skip
    (wheel,) = dist.glob("v7_engine-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, timeout=300)  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(target)}  # the wheel's packages, not the checkout's
    env.pop("V7_STATE_DIR", None)
    v7 = [str(target / "bin" / "v7")]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*v7, *args], cwd=away, env=env, capture_output=True, text=True,
                              timeout=300)  # fmt: skip

    where = subprocess.run(
        [sys.executable, "-c", "import execution, dashboard; print(execution.__file__)"],
        cwd=away, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(target)
    assert run("--version").stdout.startswith("v7 0.")
    replay = run("run", "--fast", "--max-bars", "700", "--no-progress", "--state-dir", "s")
    assert replay.returncode == 0, replay.stderr
    doctor = run("doctor", "--state-dir", "s")
    assert doctor.returncode in (0, 1) and "all 5 state files readable" in doctor.stdout
    assert run("init").returncode == 0 and (away / "config" / "strategy_config.json").is_file()
    port = _free_port()
    server = subprocess.Popen([*v7, "dashboard", "--state-dir", "s", "--port", str(port)],
                              cwd=away, env=env, start_new_session=True)  # fmt: skip
    try:
        assert _wait_for_http(f"http://127.0.0.1:{port}/", server, 90) == 200
    finally:
        from dashboard.serve import stop

        stop(server)
