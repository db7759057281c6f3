"""`v7 data fetch --perps`: a perpetual's funding-rate history as a ``ts,funding_rate`` CSV."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

FUNDING_PAGE = 1000  # settlements per request (Binance's maximum)


def funding_history(
    call: Callable[..., Any], exchange: Any, symbol: str, since_ms: int, end_ms: int
) -> list[tuple[int, float]]:
    """Page through ccxt's funding-rate history; return (ms, rate) in [since, end), oldest first."""
    out: dict[int, float] = {}
    cursor = since_ms
    while cursor < end_ms:
        batch = call(exchange.fetch_funding_rate_history, symbol, cursor, FUNDING_PAGE)
        fresh = [
            (int(r["timestamp"]), float(r["fundingRate"]))
            for r in batch
            if r.get("timestamp") is not None and cursor <= int(r["timestamp"]) < end_ms
        ]
        if not fresh:
            break
        out.update(fresh)
        cursor = max(t for t, _ in fresh) + 1
    return sorted(out.items())


def write_funding_csv(path: Path, rows: Sequence[tuple[int, float]]) -> None:
    """Write ``ts,funding_rate`` atomically (temp file in the same directory, then replace)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(("ts", "funding_rate"))
            for t, rate in rows:
                w.writerow((t, repr(rate)))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
