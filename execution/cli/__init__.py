"""`v7` command line: run, dashboard, doctor, init, data fetch, trades."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from importlib import metadata

from doctor.cli import register_cli as register_doctor
from execution.cli.dashboard import register_cli as register_dashboard
from execution.cli.data import register_cli as register_data
from execution.cli.init import register_cli as register_init
from execution.cli.report import register_report
from execution.cli.run import add_run_parser
from execution.cli.trades import register_cli as register_trades


def version() -> str:
    """The installed package's version ("unknown" when run from a bare source tree)."""
    try:
        return metadata.version("v7-engine")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="v7",
        description="v7: a perpetual-futures engine that shows why it is (not) trading.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"v7 {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_parser(sub)
    register_dashboard(sub)
    register_init(sub)
    register_doctor(sub)
    register_data(sub)
    register_trades(sub)
    register_report(sub)
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
        sys.stdout.flush()  # inside the guard: a closed pipe surfaces here, not at exit
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`v7 doctor | head -3`): nothing to say
        _silence_stdout()
        return 1
    except Exception as err:  # a runtime failure: one line for people, the trace for -v
        logging.getLogger("v7").debug("runtime failure", exc_info=True)
        print(f"v7: runtime failure: {type(err).__name__}: {err} (run with -v for the trace)",
              file=sys.stderr)  # fmt: skip
        return 1
    return code


def _silence_stdout() -> None:
    # Python flushes stdout again at exit; pointing it at /dev/null keeps that flush quiet too.
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
