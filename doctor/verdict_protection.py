"""The protection answer: protected | unprotected | unknown, cross-checked on the files.

Never taken from the engine's own counts alone: green only when every open position in the
ledger has finite TP and SL in the registry, no perpetual would be liquidated before its stop,
the exit scanner ran within its limit, and an engine is alive to act on them. Anything
unprotected is critical, on every surface.
"""

from __future__ import annotations

import math
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
    num,
    problem,
)
from doctor.positions import is_protected, ledger_positions, registry_entries, state_positions
from execution.perps.view import liquidated_before_stop
from execution.state_io import JsonRead
from execution.state_v7 import POSITIONS_LEDGER_FILE, POSITIONS_STATE_FILE, TP_SL_REGISTRY_FILE

if TYPE_CHECKING:
    from doctor.verdict_trading import EngineLife

Files = Mapping[str, JsonRead]

SYNC_HINT = (
    "register the missing levels: v7 doctor --sync-registry (dry run), then "
    "--sync-registry --apply with the engine stopped, and restart it"
)
LIQUIDATION_HINT = (
    "the stop must trigger before the liquidation price: lower the leverage "
    "(perps.leverage or universe[].leverage) or tighten the strategy's stop (strategy.sl_atr / "
    "sl_pct), then restart the "
    "engine; positions_state.json shows liquidation_price per position"
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
    unprotected = set(missing)  # a set: a hostile ledger may list 100,000s of positions
    exposed = liquidated_first(files, [s for s in open_symbols if s not in unprotected])
    if missing or exposed:
        where = f"tp_sl_registry.json {registry_bad}" if registry_bad else "tp_sl_registry.json"
        parts = [
            f"{len(missing)} of {n} open position(s) without finite TP and SL in {where}: "
            + ", ".join(missing)
        ] if missing else []  # fmt: skip
        parts += [f"liquidated before its stop: {why}" for why in exposed.values()]
        hint = SYNC_HINT if missing else LIQUIDATION_HINT
        return _answer("unprotected", missing + list(exposed), "; ".join(parts), hint, CRITICAL, n)
    if (unread := _unread_liquidations(files, n)) is not None:
        return unread
    return _watched(files, now, cfg, life, open_symbols)


def liquidated_first(files: Files, symbols: list[str]) -> dict[str, str]:
    """Positions whose liquidation price comes before their stop, with why, by symbol.

    The liquidation price is positions_state.json's (the venue's); the stop is the registry's
    (positions_state's when the registry is unreadable). A row without a liquidation price
    (spot, a venue that does not say, state written before perpetuals) is not applicable.
    """
    rows = state_positions(files)
    registry = registry_entries(files) if problem(files, TP_SL_REGISTRY_FILE) is None else rows
    exposed: dict[str, str] = {}
    for symbol in symbols:
        row = rows.get(symbol, {})
        liq = num(row.get("liquidation_price"))
        side = str(row.get("side") or registry.get(symbol, {}).get("side") or "")
        if liq is None or liq <= 0 or side not in ("long", "short"):
            continue
        sl = num(registry.get(symbol, {}).get("sl_price"))
        if liquidated_before_stop(side, liq, sl):
            stop = f"stop {_price(sl)}" if sl is not None else "no stop"
            exposed[symbol] = f"{symbol} {side} liquidates at {_price(liq)}, {stop}"
    return exposed


def _price(value: float) -> str:
    """Six significant digits, whole for cheap coins: 59,100 and 0.00003123 (not 3.1e-05)."""
    digits = max(0, 5 - math.floor(math.log10(abs(value)))) if value else 0
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _unread_liquidations(files: Files, n: int) -> dict[str, Any] | None:
    """The engine counts positions liquidated before their stop that the files cannot show."""
    diag = diagnostics(files)
    reported = count(dig(diag, "exit_pipeline").get("liquidation_before_stop_count"))
    why = problem(files, POSITIONS_STATE_FILE)
    if not reported or why is None:
        return None
    detail = (
        f"the engine counts {reported} position(s) liquidated before their stop, "
        f"but positions_state.json {why}: cannot say which"
    )
    return _answer("unknown", [], detail, LIQUIDATION_HINT, CRITICAL, n)


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
