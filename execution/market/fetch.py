"""`v7 data fetch`: download exchange OHLCV into the replay CSV format, with a progress bar.

One file per symbol, ``<SYMBOL>-<timeframe>.csv`` (named by the rule of
:mod:`execution.market.files`), headered ``timestamp,open,high,low,close,volume`` with the bar's
open time in epoch milliseconds, sorted, one row per timestamp, closed bars only. With
``perps``, also ``<SYMBOL>-<timeframe>_mark.csv`` (mark-price bars) and
``<SYMBOL>_8h_funding_rate.csv`` (``ts,funding_rate``). Public endpoints: no keys are needed or
read.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from execution.clock import from_iso
from execution.market.fetch_perps import funding_history, write_funding_csv
from execution.venues.base import ExchangeError, OrderRejected
from execution.venues.ccxt_guard import CallGuard, Redactor, build_client
from execution.venues.ccxt_parse import find_swap_market

HEADER = ("timestamp", "open", "high", "low", "close", "volume")
PAGE_LIMIT = 1000  # bars asked per request (ccxt caps Binance at 1000)


def public_client(exchange_id: str) -> Any:
    """Return a keyless ccxt client for public market data (tests replace this)."""
    return build_client(exchange_id, "", "", testnet=False)


def fetch_ohlcv_to_csv(
    exchange: Any,
    symbols: Sequence[str],
    timeframe: str,
    since_ts: float,
    out_dir: str | Path,
    until_ts: float | None = None,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    perps: bool = False,
) -> dict[str, int]:
    """Download bars in [since_ts, until_ts) (epoch seconds; until: now) into one CSV per symbol.

    Symbols are exchange ids ("BTCUSDT") or unified ones ("BTC/USDT:USDT"); every symbol is
    checked before the first download. Return the number of bars written per exchange id.
    """
    call = CallGuard(Redactor(), lambda: exchange.rateLimit / 1000.0, max_retries=5, sleep=sleep)
    if timeframe not in (exchange.timeframes or {}):
        raise ValueError(f"{exchange.id} has no timeframe {timeframe!r}")
    call(exchange.load_markets)
    markets = []
    for s in symbols:
        m = find_swap_market(exchange.markets or {}, exchange.markets_by_id or {}, s)
        if m is None:
            raise OrderRejected(f"unknown symbol {s!r} on {exchange.id}")
        markets.append(m)
    tf_ms = int(exchange.parse_timeframe(timeframe) * 1000)
    now_ms = int(time.time() * 1000)
    since_ms = int(since_ts * 1000)
    end_ms = min(now_ms, int(until_ts * 1000)) if until_ts is not None else now_ms
    per_symbol = max(0, (end_ms - since_ms) // tf_ms)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    with tqdm(total=per_symbol * len(markets), unit="bar", disable=not progress) as bar:
        for m in markets:
            span = (since_ms, end_ms, now_ms)
            rows = _download(call, exchange.fetch_ohlcv, m["symbol"], timeframe, span, tf_ms, bar)
            _write_csv(out / f"{m['id']}-{timeframe}.csv", rows)
            written[str(m["id"])] = len(rows)
    if perps:
        quiet = tqdm(disable=True)
        for m in markets:
            span = (since_ms, end_ms, now_ms)
            marks = _download(
                call, exchange.fetch_mark_ohlcv, m["symbol"], timeframe, span, tf_ms, quiet
            )
            _write_csv(out / f"{m['id']}-{timeframe}_mark.csv", marks)
            funding = funding_history(call, exchange, m["symbol"], since_ms, end_ms)
            write_funding_csv(out / f"{m['id']}_8h_funding_rate.csv", funding)
    return written


def _download(
    call: CallGuard,
    fetch: Callable[..., Any],
    symbol: str,
    timeframe: str,
    span: tuple[int, int, int],
    tf_ms: int,
    bar: Any,
) -> list[list[Any]]:
    """Page through fetch_ohlcv from ``start``; keep bars opened before ``end`` and closed by
    ``now``, one per timestamp, oldest first."""
    start, end, now = span
    by_ts: dict[int, list[Any]] = {}
    cursor = start
    while cursor < end:
        batch = call(fetch, symbol, timeframe, cursor, PAGE_LIMIT)
        fresh = [r for r in batch if r and r[0] is not None and cursor <= r[0] < end]
        fresh = [r for r in fresh if r[0] + tf_ms <= now]
        if not fresh:
            break  # no more data (or nothing closed yet)
        for r in fresh:
            by_ts[int(r[0])] = r
        nxt = max(int(r[0]) for r in fresh) + tf_ms
        bar.update((nxt - cursor) // tf_ms)
        cursor = nxt
    bar.update(max(0, (end - cursor) // tf_ms))  # the rest of this symbol's span had no data
    return [by_ts[t] for t in sorted(by_ts)]


def _write_csv(path: Path, rows: Sequence[Sequence[Any]]) -> None:
    """Write the headered CSV atomically (temp file in the same directory, then replace)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(HEADER)
            for r in rows:
                w.writerow([int(r[0]), *(repr(float(x)) for x in r[1:5]), repr(float(r[5] or 0))])
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parse_date(text: str | None, flag: str) -> float | None:
    if text is None:
        return None
    ts = from_iso(text.strip())
    if ts is None:
        raise ValueError(f"{flag}: not a date {text!r} (use YYYY-MM-DD or ISO-8601, UTC)")
    return ts


def fetch_command(args: argparse.Namespace) -> int:
    """Run `v7 data fetch`; return 0, 1 on an exchange failure, 2 on bad arguments."""
    try:
        since = _parse_date(args.since, "--since")
        until = _parse_date(args.until, "--until")
        if since is None or (until is not None and until <= since):
            raise ValueError("--until must be after --since")
        client = public_client(args.exchange)
        counts = fetch_ohlcv_to_csv(
            client, args.symbols, args.timeframe, since, args.out, until, not args.no_progress,
            perps=getattr(args, "perps", False),
        )  # fmt: skip
    except (ValueError, OrderRejected) as err:
        print(f"v7 data fetch: {err}", file=sys.stderr)
        return 2
    except ExchangeError as err:
        print(f"v7 data fetch: exchange error: {err}", file=sys.stderr)
        return 2 if "unknown ccxt exchange" in str(err) else 1
    for sym, n in counts.items():
        print(f"{sym}: {n} bars -> {Path(args.out) / f'{sym}-{args.timeframe}.csv'}")
    return 0
