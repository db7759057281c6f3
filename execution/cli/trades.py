"""`v7 trades`: the closed trades of the store's journal, as a table, JSON or CSV.

Positions that ended outside the engine (closed by hand, liquidated while it was down) are
listed among them with the exit reason ``external_close``, the time the engine saw them gone
as their exit time, and no exit price or PnL: the engine never saw that exit.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from execution.clock import to_iso
from execution.state_v7 import resolve_state_dir
from execution.store import NoStore, StoreError, read_closed_trades, read_external_closes

COLUMNS = ("symbol", "side", "entry_ts", "entry_price", "exit_ts", "exit_price", "qty", "tp",
           "sl", "exit_reason", "pnl", "fees")  # fmt: skip
_TIMES = ("entry_ts", "exit_ts")
_WORDS = frozenset({"symbol", "side", "exit_reason", *_TIMES})
EXTERNAL_CLOSE = "external_close"


def as_trade(row: dict[str, Any]) -> dict[str, Any]:
    """An external close (a row of the store's external_closes) with a closed trade's keys."""
    return {
        "symbol": row["symbol"], "side": row["side"], "entry_ts": row["entry_ts"],
        "entry_price": row["entry_price"], "exit_ts": row["seen_ts"], "exit_price": None,
        "qty": row["qty"], "tp": row["tp"], "sl": row["sl"], "exit_reason": EXTERNAL_CLOSE,
        "pnl": None, "fees": row["entry_fees"],
    }  # fmt: skip


def read_trades(state_dir: Any, symbol: str | None = None) -> list[dict[str, Any]]:
    """Every position that ended, by exit time (newest last): the engine's closed trades and
    the external closes it saw."""
    closed = read_closed_trades(state_dir, symbol=symbol)
    external = [as_trade(r) for r in read_external_closes(state_dir, symbol=symbol)]
    if not external:
        return closed
    return sorted(closed + external, key=lambda r: float(r["exit_ts"]))


def trade_records(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The printed keys of each closed trade, times as ISO-8601 UTC with Z."""
    return [
        {k: to_iso(row[k]) if k in _TIMES else row[k] for k in COLUMNS}
        for row in rows
    ]  # fmt: skip


def render_json(records: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(records), indent=2, allow_nan=False) + "\n"


def render_csv(records: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.8g}" if abs(value) < 1e6 else f"{value:,.2f}"
    return str(value)


def _aligned(row: Sequence[str], widths: Sequence[int]) -> str:
    # Numbers right-aligned so their digits line up, words left-aligned.
    cells = (
        v.ljust(w) if c in _WORDS else v.rjust(w)
        for c, v, w in zip(COLUMNS, row, widths, strict=True)
    )
    return "  ".join(cells).rstrip()


def render_table(records: Sequence[dict[str, Any]]) -> str:
    """Aligned columns for people, with a count and the summed net PnL."""
    if not records:
        return "no closed trades\n"
    cells = [[_cell(r[c]) for c in COLUMNS] for r in records]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(COLUMNS)]
    lines = [_aligned([c.upper() for c in COLUMNS], widths)]
    for row in cells:
        lines.append(_aligned(row, widths))
    known = [r for r in records if r["pnl"] is not None]
    net = sum(float(r["pnl"]) - float(r["fees"]) for r in known)
    unknown = len(records) - len(known)
    outside = (
        f" ({unknown} closed outside the engine: exit unseen, not in the net)" if unknown else ""
    )
    lines.append(f"{len(records)} closed trades{outside}, net PnL {net:,.2f}")
    return "\n".join(lines) + "\n"


def trades_command(args: argparse.Namespace) -> int:
    """Print the closed trades; 2 when the state dir has no usable store."""
    state_dir = resolve_state_dir(args.state_dir)
    try:
        rows = read_trades(state_dir, symbol=args.symbol)
    except NoStore:
        print(f"v7 trades: no store in {state_dir} (no engine with a store has run there; "
              "pass --state-dir or set $V7_STATE_DIR)", file=sys.stderr)  # fmt: skip
        return 2
    except StoreError as err:
        print(f"v7 trades: {err}", file=sys.stderr)
        return 2
    records = trade_records(rows)
    render = render_json if args.json else render_csv if args.csv else render_table
    try:
        sys.stdout.write(render(records))
        sys.stdout.flush()
    except BrokenPipeError:
        # `v7 trades | head -1`: the reader has what it wanted. Point stdout at /dev/null so the
        # interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 0


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add `trades [--state-dir DIR] [--symbol S] [--json | --csv]` to the v7 CLI."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "trades",
        help="the closed trades of the engine's journal (table, --json or --csv)",
        description="Print the closed trades recorded in the state dir's store, newest last. "
        "Reads the store read-only: safe while the engine runs.",
    )
    p.add_argument(
        "--state-dir", default=None, help="state dir (default $V7_STATE_DIR or logs/state)"
    )
    p.add_argument("--symbol", default=None, help="only this symbol's trades")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="a JSON list of objects")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header (pandas.read_csv)")
    p.set_defaults(func=trades_command)
    return p
