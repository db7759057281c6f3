"""The replay directory's naming rule: which instrument, timeframe and series a file holds.

``<SYMBOL>[_-]<TIMEFRAME>[[_-]<KIND>][[_-]<PART>].csv`` where TIMEFRAME is like ``1m``/``8h``,
KIND is ``mark`` (mark-price bars) or ``funding_rate`` / ``funding`` (a ``ts,funding_rate``
series) and absent for trade bars, and PART is any label (a date, ``futures``...) that splits
one series over several files, joined in name order. The symbol is everything before the
timeframe, kept whole (``BTC-PERP_1m.csv`` is ``BTC-PERP``). A name without a timeframe is all
symbol (``BTCUSDT.csv``), or ``<SYMBOL>_mark`` / ``<SYMBOL>_funding_rate``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_TF = r"\d+[mhdwM]"
_KINDS = {"mark": "mark", "funding_rate": "funding", "funding": "funding"}
_WITH_TF = re.compile(rf"^(?P<symbol>.+?)[_-](?P<tf>{_TF})(?:[_-](?P<rest>.+))?$")
_KIND_RE = re.compile(r"^(?P<kind>mark|funding_rate|funding)(?:[_-](?P<part>.+))?$")
_NO_TF = re.compile(r"^(?P<symbol>.+?)[_-](?P<kind>mark|funding_rate|funding)$")


@dataclass(frozen=True, slots=True)
class DataFile:
    """What one replay file holds: ``kind`` is "bars", "mark" or "funding"."""

    path: Path
    symbol: str
    kind: str
    timeframe: str | None
    part: str

    @property
    def series_key(self) -> tuple[str, str, str | None]:
        return self.symbol, self.kind, self.timeframe


def parse_data_filename(path: str | Path) -> DataFile:
    """Return what the file named ``path`` holds under the naming rule (module docstring)."""
    p = Path(path)
    stem = p.stem
    m = _WITH_TF.match(stem)
    if m is not None:
        rest = m["rest"] or ""
        k = _KIND_RE.match(rest)
        if k is not None:
            return DataFile(p, m["symbol"], _KINDS[k["kind"]], m["tf"], k["part"] or "")
        return DataFile(p, m["symbol"], "bars", m["tf"], rest)
    m = _NO_TF.match(stem)
    if m is not None:
        return DataFile(p, m["symbol"], _KINDS[m["kind"]], None, "")
    return DataFile(p, stem, "bars", None, "")


def symbol_from_filename(path: str | Path) -> str:
    """Return the symbol a CSV file holds (``ADABTC-1m-2021-11-27.csv`` -> ``ADABTC``)."""
    return parse_data_filename(path).symbol
