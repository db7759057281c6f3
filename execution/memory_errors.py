"""The one error of the strict memory loaders, and the checks they share.

The engine's memory (ledger, TP/SL registry, pending intents, paper account) is reloaded on
restart. A value the engine never writes (NaN, a string, a list for a dict) means the file is
not what the engine left, and trading on a guess is worse than stopping: the strict loaders
raise :class:`MemoryCorrupt` naming the key instead. It is a ``ValueError``, so callers that
already treat a malformed file as ``ValueError`` keep working.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from execution.clock import from_iso
from execution.types import Side

_SIDES = frozenset(s.value for s in Side)


class MemoryCorrupt(ValueError):
    """A memory value the engine never writes: ``component.key: reason``."""

    def __init__(self, component: str, key: str, reason: str) -> None:
        self.component = component
        self.key = key
        self.reason = reason
        where = f"{component}.{key}" if key else component
        super().__init__(f"{where}: {reason}")


def _shown(value: object) -> str:
    # A 5000-digit int cannot even be printed (the int digit limit): say what it is instead.
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def mapping(component: str, key: str, value: object) -> Mapping[str, Any]:
    """Return ``value`` if it is a JSON object, else raise (null, lists and strings are not)."""
    if not isinstance(value, dict):
        raise MemoryCorrupt(component, key, f"expected an object, got {_type_name(value)}")
    return value


def finite(component: str, key: str, value: object, *, positive: bool = False) -> float:
    """Return ``value`` as a float if it is a finite JSON number (positive if asked), else raise."""
    what = "a finite positive number" if positive else "a finite number"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MemoryCorrupt(component, key, f"{_shown(value)} is not {what}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        raise MemoryCorrupt(component, key, f"{_shown(value)} is not {what}") from None
    if not math.isfinite(number) or (positive and number <= 0):
        raise MemoryCorrupt(component, key, f"{_shown(value)} is not {what}")
    return number


def price(component: str, key: str, value: object) -> float:
    """Return a finite, positive price, else raise ``'n/a' is not a finite price``."""
    try:
        return finite(component, key, value, positive=True)
    except MemoryCorrupt:
        raise MemoryCorrupt(component, key, f"{_shown(value)} is not a finite price") from None


def count(component: str, key: str, value: object) -> int:
    """Return a non-negative JSON integer, else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise MemoryCorrupt(component, key, f"{_shown(value)} is not a count")
    return value


def side(component: str, key: str, value: object) -> Side:
    """Return the Side named by ``value`` ("long" / "short"), else raise."""
    if isinstance(value, str) and value in _SIDES:
        return Side(value)
    raise MemoryCorrupt(component, key, f"{_shown(value)} is not a side")


def text(component: str, key: str, value: object) -> str:
    """Return ``value`` if it is a string, else raise."""
    if not isinstance(value, str):
        raise MemoryCorrupt(component, key, f"{_shown(value)} is not a string")
    return value


def timestamp(component: str, key: str, value: object, *, optional: bool = False) -> float | None:
    """Return the epoch seconds of an ISO-8601 string (None allowed if ``optional``), else raise."""
    if value is None and optional:
        return None
    parsed = from_iso(value) if isinstance(value, str) else None
    if parsed is None:
        raise MemoryCorrupt(component, key, f"{_shown(value)} is not an ISO-8601 time")
    return parsed


_ABSENT = object()


class Fields:
    """The fields of one JSON object in the memory, each checked and named ``key.field``."""

    __slots__ = ("component", "key", "doc")

    def __init__(self, component: str, key: str, raw: object) -> None:
        self.component, self.key = component, key
        self.doc = mapping(component, key, raw)

    def name(self, field_name: str) -> str:
        """Return the field's name as an error names it (``key.field``)."""
        return _join(self.key, field_name)

    def value(self, field_name: str, default: object = _ABSENT) -> Any:
        """Return the raw field; a missing one raises unless a default is given."""
        if field_name in self.doc:
            return self.doc[field_name]
        if default is _ABSENT:
            raise MemoryCorrupt(self.component, self.name(field_name), "is missing")
        return default

    def price(self, field_name: str) -> float:
        """Return the field as a finite positive price."""
        return price(self.component, self.name(field_name), self.value(field_name))

    def number(self, field_name: str, *, positive: bool = False, default: Any = _ABSENT) -> float:
        """Return the field as a finite float; ``default`` (as a float) when it is absent."""
        if field_name not in self.doc and default is not _ABSENT:
            return float(default)
        raw = self.value(field_name)
        return finite(self.component, self.name(field_name), raw, positive=positive)

    def count(self, field_name: str, default: int | None = None) -> int:
        """Return the field as a non-negative int; ``default`` when it is absent and given."""
        if field_name not in self.doc and default is not None:
            return default
        return count(self.component, self.name(field_name), self.value(field_name))

    def side(self, field_name: str = "side") -> Side:
        """Return the field as a :class:`Side`."""
        return side(self.component, self.name(field_name), self.value(field_name))

    def text(self, field_name: str, default: object = _ABSENT) -> str:
        """Return the field as a string (``default`` when it is absent and given)."""
        return text(self.component, self.name(field_name), self.value(field_name, default))

    def timestamp(self, field_name: str, *, optional: bool = False) -> float | None:
        """Return the field's ISO-8601 time as epoch seconds (None allowed if ``optional``)."""
        raw = self.value(field_name)
        return timestamp(self.component, self.name(field_name), raw, optional=optional)

    def flag(self, field_name: str, default: bool) -> bool:
        """Return the field as a bool (``default`` when it is absent)."""
        raw = self.value(field_name, default)
        if not isinstance(raw, bool):
            raise MemoryCorrupt(
                self.component, self.name(field_name), f"{_shown(raw)} is not true/false"
            )
        return raw

    def same_symbol(self, symbol: str) -> None:
        """Raise if the object names another symbol than the key it is stored under."""
        named = self.text("symbol", symbol)
        if named != symbol:
            raise MemoryCorrupt(
                self.component, self.name("symbol"), f"{named!r} differs from its key"
            )


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name
