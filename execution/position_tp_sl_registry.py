"""TP/SL registry: symbol -> take-profit and stop-loss levels (the one owner of exit levels).

Persisted atomically as tp_sl_registry.json and reloaded on restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from execution.clock import from_iso, to_iso
from execution.state_io import SCHEMA_VERSION, read_json_defensive, write_json_atomic
from execution.types import Side


@dataclass(frozen=True, slots=True)
class TpSlEntry:
    symbol: str
    side: Side
    tp_price: float
    sl_price: float
    created_ts: float
    source: str = "strategy"

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "side": self.side.value,
            "tp_price": self.tp_price,
            "sl_price": self.sl_price,
            "created_ts": to_iso(self.created_ts),
            "source": self.source,
        }


class TpSlRegistry:
    def __init__(self) -> None:
        self.entries: dict[str, TpSlEntry] = {}

    def register(self, entry: TpSlEntry) -> None:
        self.entries[entry.symbol] = entry

    def remove(self, symbol: str) -> TpSlEntry | None:
        return self.entries.pop(symbol, None)

    def get(self, symbol: str) -> TpSlEntry | None:
        return self.entries.get(symbol)

    def get_all_entries(self) -> list[TpSlEntry]:
        """Return every registered entry (the spec's registry accessor)."""
        return list(self.entries.values())

    def to_dict(self, now: float) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "updated_ts": to_iso(now),
            "entries": {s: e.to_dict() for s, e in self.entries.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TpSlRegistry:
        reg = cls()
        entries = data.get("entries")
        if isinstance(entries, dict):
            for symbol, raw in entries.items():
                entry = _entry_from_dict(symbol, raw)
                if entry is not None:
                    reg.entries[symbol] = entry
        return reg

    def save(self, path: str | Path, now: float) -> None:
        write_json_atomic(path, self.to_dict(now))

    @classmethod
    def load(cls, path: str | Path) -> TpSlRegistry:
        return cls.from_dict(read_json_defensive(path).data)


def _entry_from_dict(symbol: str, raw: object) -> TpSlEntry | None:
    if not isinstance(raw, dict):
        return None
    try:
        side = Side(str(raw.get("side")))
        tp = float(raw["tp_price"])
        sl = float(raw["sl_price"])
    except (KeyError, TypeError, ValueError):
        return None
    if tp <= 0 or sl <= 0:
        return None
    created = from_iso(raw.get("created_ts")) or 0.0
    return TpSlEntry(symbol, side, tp, sl, created, str(raw.get("source", "strategy")))
