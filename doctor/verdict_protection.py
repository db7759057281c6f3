"""The protection answer: protected | unprotected | unknown, cross-checked on the files.

Never taken from the engine's own counts alone: green only when every open position in the
ledger has finite TP and SL in the registry, the exit scanner ran within its limit, and an
engine is alive to act on them. Anything unprotected is critical, on every surface.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from doctor.model import (
    CRITICAL,
    OK,
    WARN,
    DoctorSettings,
    age_seconds,
    count,
    diagnostics,
    dig,
    fmt_age,
    problem,
)
from doctor.positions import is_protected, ledger_positions, state_positions
from execution.state_io import JsonRead
from execution.state_v7 import POSITIONS_LEDGER_FILE, TP_SL_REGISTRY_FILE

if TYPE_CHECKING:
    from doctor.verdict_trading import EngineLife

Files = Mapping[str, JsonRead]

SYNC_HINT = (
    "register the missing levels: v7 doctor --sync-registry (dry run), then "
    "--sync-registry --apply with the engine stopped, and restart it"
)


def _answer(
    status: str, unprotected: list[str], detail: str, hint: str, severity: str, n_open: int
) -> dict[str, Any]:
    return {
        "status": status, "unprotected": tuple(sorted(unprotected)), "detail": detail,
        "hint": hint, "severity": severity, "open_positions": n_open,
    }  # fmt: skip


def _scan_age(files: Files, now: float) -> float | None:
    diag = diagnostics(files)
    ts = dig(diag, "exit_pipeline").get("last_exit_scan_ts")
    ts = ts or dig(diag, "liveness", "stages", "exit_scanner").get("last_success_ts")
    return age_seconds(ts, now)


def decide_protection(
    files: Files, now: float, cfg: DoctorSettings, life: EngineLife
) -> dict[str, Any]:
    """The protection answer's fields (see doctor.verdict.ProtectionVerdict)."""
    if problem(files, POSITIONS_LEDGER_FILE) is not None:
        why = problem(files, POSITIONS_LEDGER_FILE)
        reported = count(dig(diagnostics(files), "exit_pipeline").get("open_positions_count"))
        return _answer("unknown", [], f"positions_ledger.json {why}", "see the state_files finding",
                       CRITICAL if reported else WARN, reported)  # fmt: skip
    open_symbols = sorted(set(ledger_positions(files)) | set(state_positions(files)))
    if not open_symbols:
        return _answer("protected", [], "no open positions", "", OK, 0)
    n = len(open_symbols)
    if life.known and not life.alive and not life.finished_replay:
        detail = f"{life.detail}: nothing watches {n} open position(s)"
        hint = (
            "start the engine again: v7 run --state-dir <DIR> (it reloads the ledger and registry)"
        )
        return _answer("unprotected", open_symbols, detail, hint, CRITICAL, n)
    registry_bad = problem(files, TP_SL_REGISTRY_FILE)
    missing = [s for s in open_symbols if not is_protected(files, s)]
    if missing:
        where = f"tp_sl_registry.json {registry_bad}" if registry_bad else "tp_sl_registry.json"
        detail = (
            f"{len(missing)} of {n} open position(s) without finite TP and SL in {where}: "
            + ", ".join(missing)
        )
        return _answer("unprotected", missing, detail, SYNC_HINT, CRITICAL, n)
    return _watched(files, now, cfg, life, open_symbols)


def _watched(
    files: Files, now: float, cfg: DoctorSettings, life: EngineLife, open_symbols: list[str]
) -> dict[str, Any]:
    """Every position has levels: protected only if a live exit scanner is checking them."""
    n = len(open_symbols)
    diag = diagnostics(files)
    if not life.known or not diag or diag.get("enabled") is False:
        why = life.detail if not life.known else "runtime diagnostics are off"
        detail = (
            f"{n} open position(s) have TP and SL, but the exit scanner cannot be checked: {why}"
        )
        return _answer("unknown", [], detail, 'keep "diagnostics": {"enabled": true}', WARN, n)
    age = _scan_age(files, now)
    if age is None or age > cfg.exit_scan_stale_seconds:
        limit = fmt_age(cfg.exit_scan_stale_seconds)
        detail = (
            f"exit scanner last ran {fmt_age(age)} ago (limit {limit}) with {n} open position(s)"
        )
        hint = "read intel.json runtime_diagnostics.liveness.stages.exit_scanner.last_error; restart the engine"
        return _answer("unprotected", open_symbols, detail, hint, CRITICAL, n)
    detail = f"{n} open position(s), all with TP and SL; exit scan {fmt_age(age)} ago"
    return _answer("protected", [], detail, "", OK, n)
