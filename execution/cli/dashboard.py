"""`v7 dashboard`: the Streamlit dashboard on 127.0.0.1, reading only the state files."""

from __future__ import annotations

import argparse
from typing import Any

from execution.cli.args import port_number


def register_cli(sub: Any) -> None:
    """Add the `dashboard` subcommand."""
    p = sub.add_parser("dashboard", help="serve the Streamlit dashboard on 127.0.0.1")
    p.add_argument(
        "--state-dir", default=None, help="state dir (default $V7_STATE_DIR or logs/state)"
    )
    p.add_argument(
        "--port", type=port_number, default=8501, help="TCP port on 127.0.0.1 (default 8501)"
    )
    p.add_argument(
        "--refresh", type=float, default=None,
        help="auto-refresh every S seconds (default: the config's dashboard.refresh_seconds)",
    )  # fmt: skip
    p.set_defaults(func=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; exit 2 when the port is taken."""
    from dashboard.serve import serve

    return serve(args.state_dir, args.port, refresh=args.refresh)
