"""What the doctor's checks share: the Finding they return, their settings, the reference "now",
and defensive accessors over the state files (a check never raises on a malformed file).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from execution.clock import from_iso
from execution.config import DoctorConfig, ExitPipelineConfig
from execution.state_io import JsonRead
from execution.state_v7 import INTEL_FILE, age_reference

OK = "ok"
WARN = "warn"
CRITICAL = "critical"
_RANK = {OK: 0, WARN: 1, CRITICAL: 2}

_DOCTOR_DEFAULTS = DoctorConfig()
_EXIT_DEFAULTS = ExitPipelineConfig()


@dataclass(frozen=True)
class Finding:
    """One check's verdict, with the numbers behind it and what to do about it."""

    check: str
    status: str  # OK | WARN | CRITICAL
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DoctorSettings:
    """Thresholds of the checks (intel.json engine.config, overridden by --config)."""

    exit_scan_stale_seconds: float = _EXIT_DEFAULTS.exit_scan_stale_seconds
    underwater_threshold_pct: float = _EXIT_DEFAULTS.tp_sl_underwater_threshold_pct
    no_signal_seconds: float = _DOCTOR_DEFAULTS.no_signal_seconds
    no_order_seconds: float = _DOCTOR_DEFAULTS.no_order_seconds
    dominant_veto_share: float = _DOCTOR_DEFAULTS.dominant_veto_share
    default_tp_pct: float = _DOCTOR_DEFAULTS.default_tp_pct
    default_sl_pct: float = _DOCTOR_DEFAULTS.default_sl_pct
    # Below this many signals a veto share says nothing (one veto is 100% of one signal).
    min_signals: int = 10

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def worst_status(findings: Iterable[Finding]) -> str:
    """Return the most severe status among the findings (OK when there are none)."""
    return max((f.status for f in findings), key=lambda s: _RANK.get(s, 2), default=OK)


def exit_code_for(status: str) -> int:
    """0 all ok, 1 worst is warn, 2 worst is critical."""
    return _RANK.get(status, 2)


# Times the doctor can reason about and print (1970 .. 2200): a state file claiming year 1 or
# 9999 is damaged, and measuring ages against it would end in "year 0 is out of range".
PLAUSIBLE_EPOCH = (0.0, 7_258_118_400.0)


def reference_now(intel: Mapping[str, Any], wall: float) -> tuple[float, str]:
    """Return the "now" ages are measured against and where it comes from (state_v7's rule);
    the wall clock when intel.json's updated_ts is not a plausible time."""
    try:
        now, source = age_reference(intel, wall)
    except (ValueError, OverflowError):
        now, source = float("nan"), ""
    if not PLAUSIBLE_EPOCH[0] <= now < PLAUSIBLE_EPOCH[1]:
        return wall, "wall clock (intel.json updated_ts is not a plausible time)"
    return now, source


# --- defensive accessors ----------------------------------------------------------------------


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def dig(data: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """Walk nested objects; any missing or non-object level gives {}."""
    node: dict[str, Any] = dict(data)
    for key in keys:
        node = as_dict(node.get(key))
    return node


def num(value: object) -> float | None:
    """A finite number, or None (bools, strings, NaN and null are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def json_safe(value: object) -> object:
    """Replace NaN/inf (which json.loads accepts from a bad file) by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def count(value: object) -> int:
    n = num(value)
    return int(n) if n is not None else 0


def age_seconds(ts: object, now: float) -> float | None:
    """Seconds from an ISO timestamp to now (None when the timestamp is absent or garbage)."""
    try:
        t = from_iso(ts) if isinstance(ts, str) else None
    except (ValueError, OverflowError):  # an offset that moves year 1 to year 0
        return None
    return None if t is None else round(now - t, 3)


def fmt_age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    s = abs(seconds)
    text = f"{s:.0f}s" if s < 120 else f"{s / 60:.0f}m" if s < 7200 else f"{s / 3600:.1f}h"
    return text if seconds >= 0 else f"in {text}"


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def problem(files: Mapping[str, JsonRead], name: str) -> str | None:
    """Why a state file cannot be used ("missing", "corrupt: ..."), or None if it is fine."""
    read = files.get(name)
    if read is None:
        return "not read"
    if read.ok:
        return None
    return read.status if read.status == "missing" else f"{read.status}: {read.error}"


def file_data(files: Mapping[str, JsonRead], name: str) -> dict[str, Any]:
    read = files.get(name)
    return read.data if read is not None else {}


def diagnostics(files: Mapping[str, JsonRead]) -> dict[str, Any]:
    """intel.json's runtime_diagnostics block ({} when absent)."""
    return dig(file_data(files, INTEL_FILE), "runtime_diagnostics")


def skipped(check: str, files: Mapping[str, JsonRead], *names: str) -> Finding | None:
    """A WARN "cannot check" finding when an input file is unusable; None when all are fine."""
    bad = {n: p for n in names if (p := problem(files, n)) is not None}
    if not bad:
        return None
    summary = "cannot check: " + ", ".join(f"{n} {p.split(':')[0]}" for n, p in bad.items())
    return Finding(check, WARN, summary, {"unusable_files": bad}, "see the state_files finding")


def diagnostics_off(check: str, files: Mapping[str, JsonRead]) -> Finding | None:
    """A WARN finding when runtime diagnostics are disabled or absent (nothing to check)."""
    diag = diagnostics(files)
    if diag.get("enabled") is False:
        return Finding(
            check,
            WARN,
            "cannot check: runtime diagnostics are disabled",
            {"intel.json runtime_diagnostics.enabled": False},
            'set "diagnostics": {"enabled": true} in config/strategy_config.json and restart',
        )
    if not diag:
        return Finding(
            check,
            WARN,
            "cannot check: intel.json has no runtime_diagnostics block",
            {"intel.json keys": sorted(file_data(files, INTEL_FILE))},
            "the engine publishes runtime_diagnostics with intel.json; is it a v7.5 engine?",
        )
    return None
