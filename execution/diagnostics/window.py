"""The outcome window: the last ``window_signals`` signal outcomes, read within ``window_seconds``."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from execution.diagnostics.causes import bump

# Outcome kinds: one per entry signal.
VETO = "veto"
ORDER = "order"
FAILED = "failed"
OUTCOME_KINDS = (VETO, ORDER, FAILED)

# (kind, veto reason or None, engine time, the veto's other failing checks (empty otherwise))
Outcome = tuple[str, str | None, float, tuple[str, ...]]
NONE_OTHER: tuple[str, ...] = ()


class OutcomeWindow:
    """The last ``max_signals`` outcomes; the age bound is applied when they are read (by the
    reader's clock), so an idle engine's window empties without anyone recording.

    An outcome is held as two plain values in two aligned deques: its time (a float) and what
    it was: ORDER, FAILED, a veto's reason, or (reason, *other failing checks) for a veto that
    failed more than one check. A tuple per outcome would be a garbage-collected container
    that lives long enough to reach the oldest generation: thousands of them over a replay
    brought on an extra full collection, which cost more than every record together.
    """

    __slots__ = ("max_signals", "max_age_seconds", "times", "what")

    def __init__(self, max_signals: int, max_age_seconds: float) -> None:
        self.max_signals = max_signals
        self.max_age_seconds = max_age_seconds
        self.times: deque[float] = deque(maxlen=max_signals)
        self.what: deque[str | tuple[str, ...]] = deque(maxlen=max_signals)

    def held(self) -> list[Outcome]:
        """Every outcome held, oldest first, as (kind, reason, time, other failing checks)."""
        outcomes: list[Outcome] = []
        for what, t in zip(self.what, self.times, strict=True):
            if isinstance(what, tuple):
                outcomes.append((VETO, what[0], t, what[1:]))
            elif what in (ORDER, FAILED):
                outcomes.append((what, None, t, NONE_OTHER))
            else:
                outcomes.append((VETO, what, t, NONE_OTHER))
        return outcomes

    def recent(self, now: float) -> list[Outcome]:
        """The outcomes within both bounds (count and age), oldest first: what both the summary
        and the causes aggregate, built once per snapshot."""
        cutoff = now - self.max_age_seconds
        return [outcome for outcome in self.held() if outcome[2] >= cutoff]

    def summary(self, recent: Iterable[Outcome]) -> dict[str, Any]:
        """Aggregate ``recent`` (from :meth:`recent`) by kind and veto reason."""
        by_reason: dict[str, int] = {}
        vetoes = orders = failures = 0
        for kind, reason, _, _ in recent:
            if kind == VETO:
                vetoes += 1
                key = reason or "unknown"
                by_reason[key] = by_reason.get(key, 0) + 1
            elif kind == ORDER:
                orders += 1
            else:
                failures += 1
        return {
            "window_signals": self.max_signals,
            "window_seconds": self.max_age_seconds,
            "signals": vetoes + orders + failures,
            "vetoes": vetoes,
            "orders": orders,
            "order_failures": failures,
            "by_reason": by_reason,
        }

    @staticmethod
    def causes(recent: Iterable[Outcome]) -> dict[str, Any]:
        """The vetoes of ``recent`` by every failing check, and by their check when alone."""
        counts: dict[str, dict[str, int]] = {}
        vetoed = 0
        for kind, reason, _, others in recent:
            if kind != VETO or reason is None:
                continue
            vetoed += 1
            for failing in (reason, *others):
                bump(counts, "all_failing", failing)
            if not others:
                bump(counts, "sole", reason)
        return {
            "all_failing": counts.get("all_failing", {}),
            "sole": counts.get("sole", {}),
            "vetoed": vetoed,
        }

    def export(self) -> list[list[Any]]:
        return [[kind, reason, ts, list(others)] for kind, reason, ts, others in self.held()]

    def replace(self, outcomes: Iterable[Outcome]) -> None:
        """Hold ``outcomes`` (oldest first; beyond max_signals the oldest fall out)."""
        self.times.clear()
        self.what.clear()
        for kind, reason, ts, others in outcomes:
            self.times.append(ts)
            if kind != VETO:
                self.what.append(kind)
            elif others:
                self.what.append((reason or "", *others))
            else:
                self.what.append(reason or "")
