"""Every failing check of each vetoed signal, beside the spec's count of the first one.

The decision is the first failing check in the documented order (the spec's ``by_reason``). A
signal often fails others too: a tripped drawdown circuit hides behind the per-trade cap, which
comes first. Counting every failing check (``all_failing``) and the vetoes whose failing check
was the only one (``sole``) lets a reader name the check that blocks signals on its own.

Most vetoes fail one check only, and the heatmap already counts every veto under its first
check by symbol. So only what differs from that is kept, and only a veto with other failing
checks costs anything: ``also`` counts the checks that failed without deciding, ``not_sole``
the deciding checks that were not alone. Then ``all_failing = first + also`` and
``sole = first - not_sole``, cell by cell (reason, symbol).
"""

from __future__ import annotations

from collections.abc import Mapping

Counts = dict[str, dict[str, int]]  # reason -> symbol -> n


def bump(counts: Counts, reason: str, column: str) -> None:
    per_column = counts.get(reason)
    if per_column is None:
        per_column = counts[reason] = {}
    per_column[column] = per_column.get(column, 0) + 1


class VetoCauses:
    """The vetoes that failed more than one check, by reason and symbol."""

    def __init__(self) -> None:
        self.also: Counts = {}  # failed, but an earlier check decided
        self.not_sole: Counts = {}  # decided, and other checks failed too

    def add(self, first: str, column: str, others: tuple[str, ...]) -> None:
        """Count a veto on ``column`` decided by ``first`` that also failed ``others`` (not
        empty: a veto failing one check is counted by its first-failing count alone)."""
        bump(self.not_sole, first, column)
        for reason in others:
            bump(self.also, reason, column)

    def published(self, first: Mapping[str, Mapping[str, int]]) -> dict[str, Counts]:
        """``all_failing`` and ``sole`` given ``first``, the vetoes by deciding check and symbol."""
        all_failing = {r: dict(s) for r, s in first.items()}
        for reason, per_column in self.also.items():
            target = all_failing.setdefault(reason, {})
            for column, n in per_column.items():
                target[column] = target.get(column, 0) + n
        sole: Counts = {}
        for reason, decided in first.items():
            shared = self.not_sole.get(reason, {})
            cells = {c: n - shared.get(c, 0) for c, n in decided.items() if n > shared.get(c, 0)}
            if cells:
                sole[reason] = cells
        return {"all_failing": all_failing, "sole": sole}

    def export(self) -> dict[str, Counts]:
        return {
            "also": {r: dict(s) for r, s in self.also.items()},
            "not_sole": {r: dict(s) for r, s in self.not_sole.items()},
        }

    def replace(self, also: Mapping[str, Mapping[str, int]],
                not_sole: Mapping[str, Mapping[str, int]]) -> None:  # fmt: skip
        self.also = {r: dict(s) for r, s in also.items()}
        self.not_sole = {r: dict(s) for r, s in not_sole.items()}
