"""Defensive accessors for decoded state JSON: a wrong type becomes "absent", never an exception.

The state files are written by another process and may be partial, hand-edited or from a newer
schema; every panel reads them through these helpers so a bad value degrades to a clear
"no data" instead of a traceback.
"""

from __future__ import annotations

import math
import re
from typing import Any

from execution.clock import from_iso


def as_dict(value: Any) -> dict[str, Any]:
    """Return ``value`` if it is a dict, else {}."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """Return ``value`` if it is a list, else []."""
    return value if isinstance(value, list) else []


def as_float(value: Any) -> float | None:
    """Return a finite float (bools and strings are not numbers here), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# Past 2**53 a float no longer holds every integer, and pandas and Arrow hold none past 2**63:
# a count or id that large was not written by the engine, and would break the table showing it.
MAX_INT = 2**53


def as_int(value: Any) -> int | None:
    """Return an int for an integral number of at most :data:`MAX_INT`, else None."""
    number = as_float(value)
    if number is None or not number.is_integer() or abs(number) > MAX_INT:
        return None
    return int(number)


def as_count(value: Any) -> int:
    """Return a non-negative integer count; anything else counts as 0."""
    number = as_int(value)
    return number if number is not None and number >= 0 else 0


def as_str(value: Any) -> str | None:
    """Return a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def parse_ts(value: Any) -> float | None:
    """Parse an ISO-8601 state timestamp to epoch seconds; garbage gives None."""
    return from_iso(value) if isinstance(value, str) else None


def count_map(value: Any) -> dict[str, int]:
    """Coerce ``{"name": count}`` keeping only non-negative integral counts."""
    out: dict[str, int] = {}
    for key, raw in as_dict(value).items():
        number = as_int(raw)
        if number is not None and number >= 0:
            out[str(key)] = number
    return out


def nested_count_map(value: Any) -> dict[str, dict[str, int]]:
    """Coerce ``{"outer": {"inner": count}}``; bad inner maps become empty."""
    return {str(key): count_map(inner) for key, inner in as_dict(value).items()}


# Things that could be credentials: query-string secrets and long opaque tokens. Engine error
# strings come from exchange clients, which sometimes echo signed URLs back.
_SECRET_PARAM = re.compile(r"(?i)\b(api[_-]?key|secret|signature|token|password)=([^&\s]+)")
_LONG_TOKEN = re.compile(r"\b[A-Za-z0-9+/_-]{32,}\b")


def redact(text: str) -> str:
    """Mask anything in free text that looks like an API key, secret or signature."""
    masked = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=***", text)
    return _LONG_TOKEN.sub("***", masked)
