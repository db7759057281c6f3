"""The engine's memory as the store keeps it: named JSON components, encoded strictly.

The payloads are opaque here (the ledger, registry, strategy... produce and validate their
own); the store only insists on strict JSON (no NaN/inf: they would not round-trip through
other readers) and on the container type of each component when it reads one back.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from execution.state_io import strict_json_text
from execution.store.errors import StoreError

# A paced-paper memory of 10 symbols is ~130 KB; a component this large was not written by us,
# and reading it would only exhaust memory.
MAX_COMPONENT_BYTES = 64 * 1024 * 1024


@dataclass
class Memory:
    """Everything a restart needs, one field per stored component.

    ``strategy`` and the per-symbol parts of ``book`` are keyed by symbol, so a restart with a
    different symbol list keeps the state of the symbols that remain.
    """

    identity: dict[str, Any] = field(default_factory=dict)  # mode, source, account
    progress: dict[str, Any] = field(default_factory=dict)  # bars_processed, completed, last_ts
    ledger: dict[str, Any] = field(default_factory=dict)
    registry: dict[str, Any] = field(default_factory=dict)
    pending_intents: list[Any] = field(default_factory=list)
    open_orders: list[Any] = field(default_factory=list)
    paper_account: dict[str, Any] = field(default_factory=dict)  # {} on a live venue
    # The paper account's order history, apart: the account changes every loop (its last
    # prices), the history only when an order does, and only a changed component is rewritten.
    paper_orders: dict[str, Any] = field(default_factory=dict)
    strategy: dict[str, Any] = field(default_factory=dict)
    book: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)


COMPONENTS: tuple[str, ...] = tuple(f.name for f in fields(Memory))
_LIST_COMPONENTS = frozenset({"pending_intents", "open_orders"})


def _container(name: str) -> type:
    return list if name in _LIST_COMPONENTS else dict


def encode_memory(memory: Memory) -> dict[str, str]:
    """Return each component as compact strict JSON; ValueError/TypeError name the component."""
    out: dict[str, str] = {}
    for name in COMPONENTS:
        value = getattr(memory, name)
        if not isinstance(value, _container(name)):
            raise TypeError(f"memory.{name} must be a {_container(name).__name__}, "
                            f"not {type(value).__name__}")  # fmt: skip
        try:
            out[name] = strict_json_text(value)  # a PreEncoded value spliced as it is
        except ValueError as err:
            raise ValueError(f"memory.{name}: {err} (NaN and infinity are not stored)") from err
        except TypeError as err:
            raise TypeError(f"memory.{name}: {err}") from err
    return out


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"non-finite number {token}")


def _finite_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):  # 1e999 is valid JSON, and reads as an infinity
        raise ValueError(f"number {token} is beyond the float range")
    return value


def decode_component(path: Path, name: str, text: str | None) -> Any:
    """Parse one stored component; StoreError when it is oversized, not JSON or the wrong type."""
    if text is None:
        raise StoreError(path, f"memory component {name!r} is larger than "
                               f"{MAX_COMPONENT_BYTES} bytes")  # fmt: skip
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as err:
        raise StoreError(path, f"memory component {name!r} is not strict JSON: {err}") from err
    expected = _container(name)
    if not isinstance(value, expected):
        raise StoreError(
            path,
            f"memory component {name!r} is a {type(value).__name__}, not a {expected.__name__}",
        )
    return value
