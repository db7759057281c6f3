"""`v7` command line: run, dashboard, doctor, data fetch."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from doctor.cli import register_cli as register_doctor
from execution.cli.data import register_cli as register_data
from execution.cli.run import add_run_parser
from execution.cli.trades import register_cli as register_trades


def _add_dashboard_parser(sub: Any) -> None:
    p = sub.add_parser("dashboard", help="serve the Streamlit dashboard on 127.0.0.1")
    p.add_argument(
        "--state-dir", default=None, help="state dir (default $V7_STATE_DIR or logs/state)"
    )
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--refresh", type=float, default=None, help="auto-refresh seconds")

    def run(args: argparse.Namespace) -> int:
        from dashboard.serve import serve

        return serve(args.state_dir, args.port, refresh=args.refresh)

    p.set_defaults(func=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="v7",
        description="v7: a perpetual-futures engine that shows why it is (not) trading.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_parser(sub)
    _add_dashboard_parser(sub)
    register_doctor(sub)
    register_data(sub)
    register_trades(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments already
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # a runtime failure: one line for people, the trace for -v
        logging.getLogger("v7").debug("runtime failure", exc_info=True)
        print(f"v7: runtime failure: {type(err).__name__}: {err} (run with -v for the trace)",
              file=sys.stderr)  # fmt: skip
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
