"""`v7 data fetch`: argument parsing only; ccxt is imported when the command runs."""

from __future__ import annotations

import argparse
from typing import Any


def _fetch(args: argparse.Namespace) -> int:
    from execution.market.fetch import fetch_command

    return fetch_command(args)


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add `data fetch SYMBOLS... --timeframe 1m --since DATE --out DIR` to the v7 CLI."""
    data: argparse.ArgumentParser = subparsers.add_parser("data", help="market data tools")
    sub = data.add_subparsers(dest="data_command", required=True)
    fetch = sub.add_parser(
        "fetch",
        help="download OHLCV into replay CSVs (public endpoints, no keys)",
        description=(
            "Download OHLCV bars into the replay CSV format: one SYMBOL-TIMEFRAME.csv per symbol,"
            " header timestamp,open,high,low,close,volume, open time in epoch ms, closed bars"
            " only. Uses public endpoints: no API keys are needed or read."
        ),
    )
    fetch.add_argument("symbols", nargs="+", metavar="SYMBOL", help="e.g. BTCUSDT ETHUSDT")
    fetch.add_argument("--timeframe", default="1m", help="bar length (default 1m)")
    fetch.add_argument("--since", required=True, metavar="DATE", help="first bar, UTC date or ISO")
    fetch.add_argument("--until", default=None, metavar="DATE", help="end, exclusive (default now)")
    fetch.add_argument("--out", required=True, metavar="DIR", help="directory for the CSV files")
    fetch.add_argument("--exchange", default="binanceusdm", help="ccxt exchange id")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bar")
    fetch.add_argument(
        "--perps", action="store_true",
        help="also the mark-price bars and the funding-rate history (docs/perpetuals.md)",
    )  # fmt: skip
    fetch.set_defaults(func=_fetch)
    return data
