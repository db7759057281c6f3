"""The one engine clock. Live: wall clock (UTC). Replay: the current bar's time."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Where the engine reads the time: every timestamp it writes comes from one of these."""

    def now(self) -> float:
        """Return epoch seconds (UTC)."""
        ...


class WallClock:
    """The live engine's clock: the system's wall clock."""

    def now(self) -> float:
        """Return epoch seconds (UTC)."""
        return time.time()


class ReplayClock:
    """Set by the engine to each bar's timestamp; tests drive it by hand."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        """Return the time last set (epoch seconds, UTC)."""
        return self._now

    def set(self, ts: float) -> None:
        """Move the clock to ``ts`` (epoch seconds), forward or back."""
        self._now = ts

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward."""
        self._now += seconds


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
