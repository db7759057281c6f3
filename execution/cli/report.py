"""`v7 report`: the run's performance from the store's journal, as text, JSON or an HTML file."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from execution.report import build_report, load_inputs, render_text
from execution.state_v7 import resolve_state_dir
from execution.store import NoStore, StoreError


def report_command(args: argparse.Namespace) -> int:
    """Print the report (text or --json), optionally write --html; 2 without a usable store."""
    state_dir = resolve_state_dir(args.state_dir)
    try:
        inputs = load_inputs(state_dir)
    except NoStore:
        print(f"v7 report: no store in {state_dir} (no engine with a store has run there; "
              "pass --state-dir or set $V7_STATE_DIR)", file=sys.stderr)  # fmt: skip
        return 2
    except StoreError as err:
        print(f"v7 report: {err}", file=sys.stderr)
        return 2
    report = build_report(inputs)
    if args.html:
        from execution.report.html import write_html

        path = write_html(args.html, report, inputs)
        print(f"v7 report: wrote {path}", file=sys.stderr)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, allow_nan=False) + "\n")
    elif not args.html:
        sys.stdout.write(render_text(report))
    return 0


def register_report(subparsers: Any) -> argparse.ArgumentParser:
    """Add `report [--state-dir DIR] [--json] [--html PATH]` to the v7 CLI."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="the run's performance from the journal (text, --json, --html FILE)",
        description="Trades, win rate, profit factor, drawdown, Sharpe/Sortino/Calmar, per-symbol,"
        " exit-reason and veto-reason tables, from the state dir's store (read-only: safe while "
        "the engine runs). Metric definitions: docs/performance.md.",
    )
    p.add_argument(
        "--state-dir", default=None, help="state dir (default $V7_STATE_DIR or logs/state)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--html", default=None, metavar="PATH", help="write a self-contained HTML file")
    p.set_defaults(func=report_command)
    return p
