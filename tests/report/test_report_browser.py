"""The HTML report of a real replay opens in headless Chromium with the network cut, and every
chart draws (Debian's /usr/bin/chromium via playwright; skipped when it is absent).

Run as a script to refresh the README's picture from a run's state dir:
``.venv/bin/python tests/report/test_report_browser.py STATE_DIR docs/img/report.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def open_report(html: Path, png: Path | None = None) -> dict[str, Any]:
    """Open the file offline; return which charts rendered and what the page asked the network."""
    from playwright.sync_api import sync_playwright

    asked: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})

            def refuse(route: Any) -> None:
                asked.append(route.request.url)
                route.abort()

            page.route("http*://**", refuse)  # a self-contained page asks for nothing
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(html.resolve().as_uri())
            ids = page.eval_on_selector_all(".chart", "els => els.map(e => e.id)")
            page.wait_for_function(
                "() => [...document.querySelectorAll('.chart')].every(e => e.dataset.rendered)",
                timeout=60_000,
            )
            drawn = page.eval_on_selector_all(
                ".chart",
                "els => els.filter(e => e.querySelector('svg path, svg rect')).map(e => e.id)",
            )
            if png is not None:
                page.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()
    return {"ids": ids, "drawn": drawn, "asked": asked, "errors": errors}


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (make chromium)")
def test_the_report_of_a_replay_draws_every_chart_offline(tmp_path: Path) -> None:
    pytest.importorskip("playwright", reason="playwright (dev) not installed")
    from execution.cli import main

    state = tmp_path / "state"
    assert main(["run", "--fast", "--state-dir", str(state), "--max-bars", "14000",
                 "--no-progress"]) == 0  # fmt: skip
    html = tmp_path / "report.html"
    assert main(["report", "--state-dir", str(state), "--html", str(html)]) == 0
    text = html.read_text(encoding="utf-8")
    assert "<script src" not in text  # no external script: the JS is inlined
    seen = open_report(html, tmp_path / "report.png")
    assert {"equity", "vetoes", "exits"} <= set(seen["ids"])
    assert any(i.startswith("price") for i in seen["ids"])
    assert seen["drawn"] == seen["ids"], seen
    assert seen["asked"] == [] and seen["errors"] == []


if __name__ == "__main__":
    from execution.report import build_report, load_inputs
    from execution.report.html import write_html

    state_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    inputs = load_inputs(state_dir)
    page = write_html(out.with_suffix(".html"), build_report(inputs), inputs)
    print(open_report(page, out))
