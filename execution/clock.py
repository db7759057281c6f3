"""The one engine clock. Live: wall clock (UTC). Replay: the current bar's time."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Return epoch seconds (UTC)."""
        ...


class WallClock:
    def now(self) -> float:
        return time.time()


class ReplayClock:
    """Set by the engine to each bar's timestamp; tests drive it by hand."""

    def __init__(self, start: float = 0.0) -> None:
        self._t = start

    def now(self) -> float:
        return self._t

    def set(self, t: float) -> None:
        self._t = t

    def advance(self, seconds: float) -> None:
        self._t += seconds


def to_iso(ts: float | None) -> str | None:
    """Format epoch seconds as ISO-8601 UTC with a trailing Z (None stays None)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).replace(tzinfo=None).isoformat() + "Z"


def from_iso(value: str | None) -> float | None:
    """Parse an ISO-8601 timestamp (Z or offset) to epoch seconds; None or garbage -> None."""
    if not value or not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
