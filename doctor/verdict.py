"""One verdict for the operator's two questions, decided in one place.

"Why is it not trading?" and "is anything unprotected?" each get one answer — a status, the
root cause, since when, what clears it — decided by :func:`decide_verdict`, a pure function of
the state files. `v7 doctor`, the dashboard and `/metrics` all render this one object, so the
three surfaces can never disagree (docs/v7.5_Incident_Playbook_Positions_Stuck.md).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from doctor.model import CRITICAL, OK, WARN, DoctorSettings, reference_now
from doctor.verdict_protection import decide_protection
from doctor.verdict_trading import decide_trading, engine_alive
from execution.state_io import JsonRead
from execution.state_v7 import INTEL_FILE, read_all_state_files, resolve_state_dir

# Trading statuses, best first.
TRADING = "trading"
SLOWED = "slowed"
NOT_TRADING = "not_trading"
ENGINE_DOWN = "engine_down"
UNKNOWN = "unknown"
TRADING_STATUSES = (TRADING, SLOWED, NOT_TRADING, ENGINE_DOWN, UNKNOWN)

# Protection statuses.
PROTECTED = "protected"
UNPROTECTED = "unprotected"
PROTECTION_STATUSES = (PROTECTED, UNPROTECTED, UNKNOWN)

QUESTIONS = ("trading", "protection")
HALT_FILE = "HALT"  # execution.run.runner.HALT_FILE (not imported: the runner is the engine)
SEVERITIES = (OK, WARN, CRITICAL)
_RANK = {OK: 0, WARN: 1, CRITICAL: 2}


@dataclass(frozen=True)
class TradingVerdict:
    """Is it trading, and if not, the one reason that blocks most signals on its own."""

    status: str
    reason: str | None
    since: str | None
    symbols_blocked: int
    detail: str
    hint: str
    severity: str
    # Symbols held back now, by gating reason (what /metrics exposes as v7_blocked_symbols).
    blocked_by_reason: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ProtectionVerdict:
    """Does every open position have TP and SL, a live exit scanner and a live engine?"""

    status: str
    unprotected: tuple[str, ...]
    detail: str
    hint: str
    severity: str
    open_positions: int = 0


@dataclass(frozen=True)
class Verdict:
    """The answer to both questions; ``severity`` is the worse of the two."""

    trading: TradingVerdict
    protection: ProtectionVerdict

    @property
    def severity(self) -> str:
        return max(self.trading.severity, self.protection.severity, key=_RANK.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        """The ``verdict`` object of `v7 doctor --json` (docs/state_files.md shape)."""
        trading = asdict(self.trading)
        trading["blocked_by_reason"] = dict(self.trading.blocked_by_reason)
        protection = asdict(self.protection)
        protection["unprotected"] = list(self.protection.unprotected)
        return {"trading": trading, "protection": protection, "severity": self.severity}

    def lines(self) -> list[str]:
        """Two lines for people: one answer per question."""
        t, p = self.trading, self.protection
        why = f" ({t.reason})" if t.reason else ""
        since = f" since {t.since}" if t.since else ""
        return [
            f"{t.severity.upper():<9}trading: {t.status}{why}{since} — {t.detail}",
            f"{p.severity.upper():<9}protection: {p.status} — {p.detail}",
        ]


def severity_rank(severity: str) -> int:
    """0 ok, 1 warn, 2 critical (unknown values rank as critical)."""
    return _RANK.get(severity, 2)


def decide_verdict(
    files: Mapping[str, JsonRead],
    now: float,
    cfg: DoctorSettings | None = None,
    *,
    halt_file: bool = False,
) -> Verdict:
    """Decide both answers from the state files as read at ``now`` (the reference time).

    ``halt_file`` says whether the state dir holds a HALT file (the files cannot tell it
    apart from ``risk.trading_halted`` in the config).
    """
    cfg = cfg or DoctorSettings()
    alive = engine_alive(files, now, cfg)
    trading = TradingVerdict(**decide_trading(files, now, cfg, alive, halt_file))
    protection = ProtectionVerdict(**decide_protection(files, now, cfg, alive))
    return Verdict(trading, protection)


def read_verdict(
    state_dir: str | Path | None,
    cfg: DoctorSettings | None = None,
    wall: float | None = None,
) -> Verdict:
    """Read the state dir and decide its verdict (what the dashboard and /metrics call)."""
    from doctor.cli import resolve_settings  # the CLI builds on this module, not the reverse

    directory = resolve_state_dir(state_dir)
    files = read_all_state_files(directory)
    intel = files[INTEL_FILE].data
    settings = cfg or resolve_settings(intel, None)
    now, _ = reference_now(intel, time.time() if wall is None else wall)
    return decide_verdict(files, now, settings, halt_file=(directory / HALT_FILE).exists())
