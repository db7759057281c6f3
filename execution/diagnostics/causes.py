"""Every failing check of each vetoed signal, beside the spec's count of the first one.

The decision is the first failing check in the documented order (the spec's ``by_reason``). A
signal often fails others too: a tripped drawdown circuit hides behind the per-trade cap, which
comes first. Counting every failing check (``all_failing``) and the vetoes whose failing check
was the only one (``sole``) lets a reader name the check that blocks signals on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def bump(counts: dict[str, dict[str, int]], reason: str, column: str) -> None:
    per_column = counts.get(reason)
    if per_column is None:
        per_column = counts[reason] = {}
    per_column[column] = per_column.get(column, 0) + 1


class VetoCauses:
    """Vetoed signals by failing check and symbol: under every check that failed, and under the
    first check when it was the only one."""

    def __init__(self) -> None:
        self.all_failing: dict[str, dict[str, int]] = {}
        self.sole: dict[str, dict[str, int]] = {}

    def add(self, first: str, column: str, others: tuple[str, ...]) -> None:
        """Count a veto on ``column`` decided by ``first`` that also failed ``others``."""
        all_failing = self.all_failing
        bump(all_failing, first, column)
        if not others:
            bump(self.sole, first, column)
            return
        for reason in others:
            bump(all_failing, reason, column)

    def export(self) -> dict[str, Any]:
        """A JSON-ready copy: {"all_failing": {reason: {symbol: n}}, "sole": {...}}."""
        return {
            "all_failing": {r: dict(s) for r, s in self.all_failing.items()},
            "sole": {r: dict(s) for r, s in self.sole.items()},
        }

    def replace(self, all_failing: Mapping[str, Mapping[str, int]],
                sole: Mapping[str, Mapping[str, int]]) -> None:  # fmt: skip
        self.all_failing = {r: dict(s) for r, s in all_failing.items()}
        self.sole = {r: dict(s) for r, s in sole.items()}
