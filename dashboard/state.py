"""One frozen snapshot of the five state files per render: the panels' only input.

Files are read with ``execution.state_v7.read_all_state_files`` (never raises); on top of its
ok / missing / empty / corrupt this adds "partial": valid JSON whose expected sections are
absent or of the wrong type, so the page can name the file and the key instead of crashing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashboard.coerce import as_dict, as_float, as_str, parse_ts
from doctor.cli import resolve_settings
from doctor.verdict import HALT_FILE, Verdict, decide_verdict
from execution.state_io import SCHEMA_VERSION
from execution.state_v7 import (
    INTEL_FILE,
    POSITIONS_LEDGER_FILE,
    POSITIONS_STATE_FILE,
    RISK_SNAPSHOT_FILE,
    STATE_FILES,
    TP_SL_REGISTRY_FILE,
    age_reference,
    read_all_state_files,
    resolve_state_dir,
)

DEFAULT_EXIT_SCAN_STALE_SECONDS = 300.0
DEFAULT_REFRESH_SECONDS = 3.0
DEFAULT_UNDERWATER_THRESHOLD_PCT = -0.02

# Top-level keys each file must carry, with the JSON type the dashboard needs.
_EXPECTED: dict[str, dict[str, type | tuple[type, ...]]] = {
    INTEL_FILE: {"engine": dict, "runtime_diagnostics": dict},
    POSITIONS_STATE_FILE: {"positions": list},
    POSITIONS_LEDGER_FILE: {"positions": dict},
    TP_SL_REGISTRY_FILE: {"entries": dict},
    RISK_SNAPSHOT_FILE: {"nav": (int, float), "limits": dict},
}
_DIAG_SECTIONS = ("veto_counters", "exit_pipeline", "window", "heatmap", "liveness", "accounting")
_JSON_NAMES = {dict: "an object", list: "a list", str: "a string", int: "a number"}


@dataclass(frozen=True, slots=True)
class FileStatus:
    """How one state file read: ok | missing | empty | corrupt | partial, and why."""

    name: str
    path: str
    status: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def usable(self) -> bool:
        """True when the file has data to show (ok or partial)."""
        return self.status in ("ok", "partial")

    def message(self) -> str:
        """One line for the operator, naming the file."""
        if self.ok:
            return f"{self.name}: ok"
        return f"{self.name}: {self.status} — {self.error or 'no detail'} ({self.path})"


@dataclass(frozen=True)
class Settings:
    """Thresholds the engine published in intel.json ``engine.config`` (with defaults)."""

    exit_scan_stale_seconds: float = DEFAULT_EXIT_SCAN_STALE_SECONDS
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS
    underwater_threshold_pct: float = DEFAULT_UNDERWATER_THRESHOLD_PCT


@dataclass(frozen=True)
class DashboardState:
    """The five state files as read at ``now`` (wall-clock epoch seconds)."""

    state_dir: str
    now: float
    files: Mapping[str, FileStatus]
    data: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    # The one answer to both questions (doctor.verdict), decided from the same read.
    verdict: Verdict | None = None

    def get(self, name: str) -> dict[str, Any]:
        return self.data.get(name, {})

    @property
    def intel(self) -> dict[str, Any]:
        return self.get(INTEL_FILE)

    @property
    def diagnostics(self) -> dict[str, Any]:
        return as_dict(self.intel.get("runtime_diagnostics"))

    @property
    def engine(self) -> dict[str, Any]:
        return as_dict(self.intel.get("engine"))

    @property
    def positions_state(self) -> dict[str, Any]:
        return self.get(POSITIONS_STATE_FILE)

    @property
    def positions_ledger(self) -> dict[str, Any]:
        return self.get(POSITIONS_LEDGER_FILE)

    @property
    def tp_sl_registry(self) -> dict[str, Any]:
        return self.get(TP_SL_REGISTRY_FILE)

    @property
    def risk_snapshot(self) -> dict[str, Any]:
        return self.get(RISK_SNAPSHOT_FILE)

    @property
    def reference_time(self) -> float:
        return reference_time(self.intel, self.now)

    @property
    def settings(self) -> Settings:
        return settings_from_intel(self.intel)

    def problems(self) -> list[FileStatus]:
        return [f for f in self.files.values() if not f.ok]


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def shape_problems(name: str, data: Mapping[str, Any]) -> list[str]:
    """List what is missing or mistyped in a decoded state file (empty when it looks right)."""
    problems: list[str] = []
    version = data.get("schema_version")
    if version is not None and version != SCHEMA_VERSION:
        problems.append(f"schema_version {version!r}, dashboard reads {SCHEMA_VERSION}")
    for key, expected in _EXPECTED.get(name, {}).items():
        value = data.get(key)
        if key not in data:
            problems.append(f"'{key}' is missing")
        elif isinstance(value, bool) or not isinstance(value, expected):
            want = _JSON_NAMES.get(expected if isinstance(expected, type) else int, "valid")
            problems.append(f"'{key}' should be {want}, got {_type_name(value)}")
    if name == INTEL_FILE:
        problems.extend(_diagnostics_problems(data.get("runtime_diagnostics")))
    return problems


def _diagnostics_problems(diag: Any) -> list[str]:
    if not isinstance(diag, dict) or diag.get("enabled") is False:
        return []
    return [
        f"'runtime_diagnostics.{key}' should be an object, got {_type_name(diag.get(key))}"
        for key in _DIAG_SECTIONS
        if key in diag and not isinstance(diag.get(key), dict)
    ]


def load_dashboard_state(
    state_dir: str | Path | None = None, clock: Callable[[], float] = time.time
) -> DashboardState:
    """Read the five state files (never raises) and classify each one."""
    directory = resolve_state_dir(state_dir)
    reads = read_all_state_files(directory)
    files: dict[str, FileStatus] = {}
    data: dict[str, dict[str, Any]] = {}
    for name in STATE_FILES:
        read = reads[name]
        status, error = read.status, read.error
        if read.ok:
            problems = shape_problems(name, read.data)
            if problems:
                status, error = "partial", "; ".join(problems)
        files[name] = FileStatus(name, read.path, status, error)
        data[name] = read.data
    now = clock()
    intel = reads[INTEL_FILE].data
    verdict = decide_verdict(
        reads,
        reference_time(intel, now),
        resolve_settings(intel, None),
        halt_file=(directory / HALT_FILE).exists(),
    )
    return DashboardState(str(directory), now, files, data, verdict)


def reference_time(intel: Mapping[str, Any], wall_now: float) -> float:
    """Return the "now" that state ages are measured against (execution.state_v7's rule)."""
    return age_reference(intel, wall_now)[0]


def age_seconds(ts: Any, reference: float) -> float | None:
    """Seconds from an ISO timestamp to ``reference`` (never negative); None when unknown."""
    parsed = parse_ts(ts)
    return None if parsed is None else max(0.0, reference - parsed)


def _positive(value: Any, default: float) -> float:
    number = as_float(value)
    return number if number is not None and number > 0 else default


def settings_from_intel(intel: Mapping[str, Any]) -> Settings:
    """Read thresholds from intel.json ``engine.config``, falling back to defaults."""
    config = as_dict(as_dict(intel.get("engine")).get("config"))
    refresh = as_float(config.get("dashboard_refresh_seconds"))
    underwater = as_float(config.get("tp_sl_underwater_threshold_pct"))
    return Settings(
        exit_scan_stale_seconds=_positive(
            config.get("exit_scan_stale_seconds"), DEFAULT_EXIT_SCAN_STALE_SECONDS
        ),
        refresh_seconds=refresh
        if refresh is not None and refresh >= 0
        else DEFAULT_REFRESH_SECONDS,
        underwater_threshold_pct=underwater
        if underwater is not None and underwater <= 0
        else DEFAULT_UNDERWATER_THRESHOLD_PCT,
    )


def refresh_interval(override: float | None, settings: Settings) -> float | None:
    """Seconds between auto-refreshes (script arg wins over intel.json); None disables it."""
    seconds = override if override is not None else settings.refresh_seconds
    return seconds if seconds > 0 else None


def engine_mode(state: DashboardState) -> str:
    """The engine's mode ("replay", "realtime", "live") or "unknown"."""
    return as_str(state.engine.get("mode")) or "unknown"


def publish_age(intel: Mapping[str, Any], wall_now: float) -> float | None:
    """Seconds since the engine last published, on the wall clock; None in a replay.

    A replay stamps bar times, so its publish age says nothing about whether it is alive.
    """
    if as_dict(intel.get("engine")).get("mode") == "replay":
        return None
    return age_seconds(intel.get("updated_ts"), wall_now)
