"""The bars a run traded on, found again from its recorded source (for buy & hold and charts).

The journal keeps trades and equity, not bars. A replay's source names its data: a CSV dir
(read again) or the synthetic generator's seed (generated again with the current config). A
symbol is kept only when its last close equals the close the engine's memory recorded, so a
changed file or config gives no prices rather than wrong ones.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from execution.config import load_config
from execution.market.bars import (
    BarSeries,
    DataError,
    load_csv_dir,
    synthetic_series,
    timeframe_seconds,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prices:
    """One symbol's closes up to the end of the run."""

    ts: np.ndarray
    close: np.ndarray

    @property
    def first_last(self) -> tuple[float, float]:
        return float(self.close[0]), float(self.close[-1])


def _fields(source: str) -> tuple[str, dict[str, str]]:
    kind, _, rest = source.partition(":")
    parts = dict(p.split("=", 1) for p in rest.split(":") if "=" in p)
    return kind, parts


def _csv_path(source: str) -> Path:
    # "csv:/abs/path:max_bars=N": the path may itself hold colons, the suffix never does.
    body = source[len("csv:") :]
    head, sep, tail = body.rpartition(":max_bars=")
    return Path(head if sep else body)


def _series_for(source: str, symbols: list[str]) -> dict[str, BarSeries]:
    kind, parts = _fields(source)
    if kind == "csv":
        return load_csv_dir(_csv_path(source))[0]
    if kind == "synthetic" and {"seed", "tf", "n"} <= parts.keys():
        cfg = load_config()
        syn = cfg.data.synthetic.model_copy(update={"seed": int(parts["seed"])})
        specs = [s for s in cfg.universe if s.symbol in symbols]
        return synthetic_series(specs, int(parts["n"]), syn, timeframe_seconds(parts["tf"]))
    return {}


def load_prices(
    source: str | None, symbols: list[str], end_ts: float | None,
    last_closes: Mapping[str, float],
) -> dict[str, Prices]:  # fmt: skip
    """Closes per symbol up to ``end_ts``, for the symbols whose last close matches memory."""
    if not source or end_ts is None:
        return {}
    try:
        series = _series_for(source, symbols)
    except (OSError, DataError, ValueError) as err:
        log.info("report: no prices from %s (%s)", source, err)
        return {}
    out: dict[str, Prices] = {}
    for sym in symbols:
        bars = series.get(sym)
        if bars is None or not len(bars):
            continue
        keep = bars.ts <= end_ts
        ts, close = bars.ts[keep], bars.close[keep]
        expected = last_closes.get(sym)
        if len(ts) and expected is not None and math.isclose(close[-1], expected, rel_tol=1e-12):
            out[sym] = Prices(ts, close)
        else:
            log.info("report: %s bars from %s do not end where the run did: not shown", sym, source)
    return out
