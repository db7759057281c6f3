"""TP/SL registry: symbol -> take-profit and stop-loss levels (the one owner of exit levels).

The engine's memory (the store) carries it across restarts (:meth:`TpSlRegistry.from_memory`);
tp_sl_registry.json is a view of it, written atomically for the dashboard and the doctor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from execution import memory_errors as memory
from execution.clock import from_iso, to_iso
from execution.memory_errors import MemoryCorrupt
from execution.state_io import SCHEMA_VERSION, read_json_defensive, write_json_atomic
from execution.types import Side

log = logging.getLogger(__name__)

_COMPONENT = "registry"


def levels_at_fill(
    ref_price: float, tp: float, sl: float, fill_price: float
) -> tuple[float, float]:
    """The TP and SL of an entry sent at ``ref_price`` that filled at ``fill_price``: the same
    distances from the actual fill (slippage moves the levels, not the risk taken)."""
    shift = fill_price - ref_price
    return tp + shift, sl + shift


@dataclass(frozen=True, slots=True)
class TpSlEntry:
    """One position's exit levels; ``created_ts`` is epoch seconds."""

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
    """Symbol -> its TP/SL entry; the executor registers and removes, everyone else reads."""

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
            "entries": {symbol: entry.to_dict() for symbol, entry in self.entries.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TpSlRegistry:
        """Rebuild a registry, leaving out (with a warning) every entry that is not protection.

        An entry whose levels are not finite positive numbers could never trigger; loading it
        would count its position as covered and hide it from the under-water canary.
        """
        registry = cls()
        entries = data.get("entries") if isinstance(data, dict) else data
        if entries is not None and not isinstance(entries, dict):
            log.warning(
                "registry.entries is a %s, not an object: no entry loaded", type(entries).__name__
            )
            return registry
        for symbol, raw in (entries or {}).items():
            try:
                registry.entries[symbol] = _entry(str(symbol), raw, strict=False)
            except MemoryCorrupt as err:
                log.warning("TP/SL entry left out (its position counts as unprotected): %s", err)
        return registry

    @classmethod
    def from_memory(cls, data: object) -> TpSlRegistry:
        """Rebuild the registry the engine saved; raise :class:`MemoryCorrupt` on any bad value."""
        raw_entries = memory.Fields(_COMPONENT, "", data).value("entries")
        entries = memory.mapping(_COMPONENT, "entries", raw_entries)
        registry = cls()
        for symbol, raw in entries.items():
            registry.entries[symbol] = _entry(symbol, raw, strict=True)
        return registry

    def save(self, path: str | Path, now: float) -> None:
        write_json_atomic(path, self.to_dict(now))

    @classmethod
    def load(cls, path: str | Path) -> TpSlRegistry:
        return cls.from_dict(read_json_defensive(path).data)


def has_valid_levels(raw: object) -> bool:
    """Return whether a decoded registry entry is protection: a side, finite positive TP and SL.

    The one rule for "covered" that the engine, the doctor and the dashboard share.
    """
    try:
        _levels("", raw)
    except MemoryCorrupt:
        return False
    return True


def _levels(symbol: str, raw: object) -> tuple[memory.Fields, Side, float, float]:
    fields = memory.Fields(_COMPONENT, symbol, raw)
    side, tp, sl = fields.side(), fields.price("tp_price"), fields.price("sl_price")
    # A long's TP above its SL, a short's below: swapped, both levels are crossed at once and
    # the position closes on the next bar (the engine and the doctor never write them so).
    if (tp <= sl) if side is Side.LONG else (tp >= sl):
        where = "above" if side is Side.LONG else "below"
        key = f"{symbol}.tp_price" if symbol else "tp_price"
        raise MemoryCorrupt(_COMPONENT, key, f"{tp!r} is not {where} the SL {sl!r}")
    return fields, side, tp, sl


def _entry(symbol: str, raw: object, *, strict: bool) -> TpSlEntry:
    fields, side, tp, sl = _levels(symbol, raw)
    if not strict:
        created = from_iso(fields.doc.get("created_ts")) or 0.0
        return TpSlEntry(symbol, side, tp, sl, created, str(fields.doc.get("source", "strategy")))
    fields.same_symbol(symbol)
    created = fields.timestamp("created_ts") or 0.0
    return TpSlEntry(symbol, side, tp, sl, created, fields.text("source", "strategy"))
