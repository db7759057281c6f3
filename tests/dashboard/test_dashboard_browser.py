"""End to end: `v7 dashboard` on a free localhost port, opened in headless Chromium.

Uses Debian's /usr/bin/chromium through playwright (never a downloaded browser); skips when
it is not installed (`make chromium` installs it). Saves docs/img/dashboard.png for the README.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from state_factory import REASONS, Shape, build_state_dir, write_json

from dashboard import serve

ROOT = Path(__file__).resolve().parents[2]
V7 = ROOT / ".venv" / "bin" / "v7"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCROLL_HEIGHT_JS = """() => Math.max(...Array.from(
    document.querySelectorAll("[data-testid='stMain'], [data-testid='stAppViewContainer'], body"),
    (el) => el.scrollHeight))"""
HEATMAP = "[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg"

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"dashboard at {url} did not become healthy")


def screenshot(page: Any, path: Path) -> None:
    """Save the whole page: Streamlit scrolls inside its own container, so grow the viewport.

    Tests save into their tmp dir: the README's picture comes from a real engine run
    (docs/dashboard.md says how), never from a hand-made fixture.
    """
    for _ in range(3):  # resizing re-flows the page, so measure again until it settles
        height = min(max(int(page.evaluate(SCROLL_HEIGHT_JS)), 1000), 8000)
        if height == page.viewport_size["height"]:
            break
        page.set_viewport_size({"width": 1400, "height": height})
        page.wait_for_timeout(800)  # let Vega repaint at the new size
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)


@contextmanager
def dashboard(state_dir: Path, refresh: float) -> Iterator[str]:
    """Serve ``state_dir`` with `v7 dashboard` (or dashboard.serve) on a free port; yield the URL."""
    port = free_port()
    args = ["--state-dir", str(state_dir), "--port", str(port), "--refresh", f"{refresh:g}"]
    base = [str(V7), "dashboard"] if V7.exists() else [sys.executable, "-m", "dashboard.serve"]
    proc = subprocess.Popen([*base, *args], cwd=ROOT, start_new_session=True)
    url = serve.url("127.0.0.1", port)
    try:
        wait_healthy(url, time.monotonic() + 30)
        yield url
    finally:
        serve.stop(proc)  # SIGINT: `v7 dashboard` stops its streamlit child, then exits
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # our own session, if anything outlived it


@contextmanager
def chromium_page() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (run `make chromium` as root)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


def test_dashboard_renders_the_veto_heatmap_in_headless_chromium(tmp_path: Path) -> None:
    state_dir = build_state_dir(tmp_path / "state", Shape())
    with chromium_page() as page, dashboard(state_dir, refresh=0) as url:
        page.goto(url, timeout=20_000)
        page.wait_for_selector(HEATMAP, state="visible", timeout=25_000)
        text = page.inner_text("body")
        screenshot(page, tmp_path / "dashboard.png")
    assert "Trading:" in text and "Protection:" in text
    assert "Risk Diagnostics" in text
    assert "Traceback" not in text
    for reason in REASONS[:6]:
        assert reason in text, f"veto reason {reason} not on the page"
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000


def test_the_page_refreshes_itself_when_the_state_changes(tmp_path: Path) -> None:
    state_dir = build_state_dir(tmp_path / "state", Shape())
    with chromium_page() as page, dashboard(state_dir, refresh=1) as url:
        page.goto(url, timeout=20_000)
        page.wait_for_selector(HEATMAP, state="visible", timeout=25_000)
        data = json.loads((state_dir / "intel.json").read_text())
        data["runtime_diagnostics"]["veto_counters"]["by_reason"]["refresh_probe_reason"] = 7
        write_json(state_dir / "intel.json", data)
        page.wait_for_selector("text=refresh_probe_reason", timeout=15_000)
