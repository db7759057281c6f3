"""End to end: serve the dashboard on a free localhost port, open it in headless Chromium.

Uses Debian's /usr/bin/chromium through playwright (never a downloaded browser); skips when
it is not installed (`make chromium` installs it). Saves docs/img/dashboard.png for the README.
"""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from state_factory import REASONS, Shape, build_state_dir

from dashboard import serve

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard.png"
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


def screenshot(page: Any) -> None:
    """Save the whole page: Streamlit scrolls inside its own container, so grow the viewport."""
    height = page.evaluate(SCROLL_HEIGHT_JS)
    page.set_viewport_size({"width": 1400, "height": min(max(int(height), 1000), 6000)})
    page.wait_for_timeout(1000)  # let Vega repaint at the new size
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_dashboard_renders_the_veto_heatmap_in_headless_chromium(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (run `make chromium` as root)")
    sync_api = pytest.importorskip("playwright.sync_api")
    state_dir = build_state_dir(tmp_path / "state", Shape())
    port = free_port()
    url = serve.url("127.0.0.1", port)
    proc = serve.start(str(state_dir), port, refresh=0, new_session=True)
    try:
        wait_healthy(url, time.monotonic() + 30)
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url, timeout=20_000)
                page.wait_for_selector(HEATMAP, state="visible", timeout=25_000)
                text = page.inner_text("body")
                screenshot(page)
            finally:
                browser.close()
    finally:
        serve.stop(proc)
    assert "Risk Diagnostics" in text
    assert "Traceback" not in text
    for reason in REASONS[:6]:
        assert reason in text, f"veto reason {reason} not on the page"
    assert SCREENSHOT.stat().st_size > 10_000
