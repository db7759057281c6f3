"""The doctor's position checks: TP/SL coverage, underwater positions, exit scanner, prices,
ledger vs positions_state. Pure functions ``check_x(files, now, cfg) -> Finding``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from doctor.model import (
    CRITICAL,
    OK,
    WARN,
    DoctorSettings,
    Finding,
    age_seconds,
    as_dict,
    as_list,
    count,
    diagnostics,
    diagnostics_off,
    dig,
    file_data,
    fmt_age,
    num,
    pct,
    problem,
    skipped,
)
from execution.position_tp_sl_registry import has_valid_levels
from execution.state_io import JsonRead
from execution.state_v7 import (
    INTEL_FILE,
    POSITIONS_LEDGER_FILE,
    POSITIONS_STATE_FILE,
    TP_SL_REGISTRY_FILE,
)

Files = Mapping[str, JsonRead]

SYNC_HINT = (
    "run `v7 doctor --sync-registry` (dry run: shows the TP/SL it would register), then "
    "`v7 doctor --sync-registry --apply` with the engine stopped, restart the engine and "
    "confirm the exit_scanner finding"
)


def state_positions(files: Files) -> dict[str, dict[str, Any]]:
    """positions_state.json positions by symbol (entries without a symbol are ignored)."""
    rows = as_list(file_data(files, POSITIONS_STATE_FILE).get("positions"))
    return {str(p["symbol"]): p for p in map(as_dict, rows) if p.get("symbol")}


def ledger_positions(files: Files) -> dict[str, dict[str, Any]]:
    """positions_ledger.json positions by symbol."""
    rows = as_dict(file_data(files, POSITIONS_LEDGER_FILE).get("positions"))
    return {str(k): as_dict(v) for k, v in rows.items()}


def registry_entries(files: Files) -> dict[str, dict[str, Any]]:
    """tp_sl_registry.json entries by symbol."""
    rows = as_dict(file_data(files, TP_SL_REGISTRY_FILE).get("entries"))
    return {str(k): as_dict(v) for k, v in rows.items()}


def open_symbols(files: Files) -> list[str]:
    """Symbols with an open position in either positions_state.json or the ledger."""
    return sorted(set(state_positions(files)) | set(ledger_positions(files)))


def is_protected(files: Files, symbol: str) -> bool:
    """A TP/SL is registered; without a readable registry, positions_state's levels decide.

    Levels that are not finite positive numbers (NaN, a string, null) can never trigger, so
    they protect nothing: the engine's registry does not load them either.
    """
    if problem(files, TP_SL_REGISTRY_FILE) is None:
        return has_valid_levels(registry_entries(files).get(symbol))
    return has_valid_levels(state_positions(files).get(symbol))


def synced_since_publish(files: Files) -> str:
    """A note when tp_sl_registry.json is newer than the engine's last intel.json publish."""
    reg = age_seconds(file_data(files, TP_SL_REGISTRY_FILE).get("updated_ts"), 0.0)
    intel = age_seconds(file_data(files, INTEL_FILE).get("updated_ts"), 0.0)
    if reg is None or intel is None or reg >= intel:
        return ""
    return " (tp_sl_registry.json changed after the engine's last publish: restart it to confirm)"


def pnl_pct(pos: Mapping[str, Any]) -> float | None:
    """unrealized_pnl_pct, or (mark-entry)/entry signed by side when it is absent."""
    published = num(pos.get("unrealized_pnl_pct"))
    if published is not None:
        return published
    entry, mark = num(pos.get("entry_price")), num(pos.get("mark_price"))
    if not entry or mark is None or entry <= 0:
        return None
    sign = -1.0 if pos.get("side") == "short" else 1.0
    return sign * (mark - entry) / entry


def check_underwater_without_tp_sl(files: Files, now: float, cfg: DoctorSettings) -> Finding:
    """No position below the underwater threshold lacks a TP/SL (files and engine count)."""
    rows: list[dict[str, Any]] = []
    names = []
    for symbol, pos in state_positions(files).items():
        p = pnl_pct(pos)
        if p is not None and p <= cfg.underwater_threshold_pct and not is_protected(files, symbol):
            rows.append(
                {"symbol": symbol, "side": pos.get("side"), "unrealized_pnl_pct": round(p, 5)}
            )
            names.append(f"{symbol} {pct(p)}")
    reported = count(dig(diagnostics(files), "exit_pipeline").get("underwater_without_tp_sl_count"))
    evidence: dict[str, Any] = {
        "positions": rows,
        "threshold_pct": cfg.underwater_threshold_pct,
        "intel.json runtime_diagnostics.exit_pipeline.underwater_without_tp_sl_count": reported,
    }
    if rows or reported:
        n = max(len(rows), reported)
        listed = f": {', '.join(names)}" if names else ""
        summary = f"{n} underwater position(s) without TP/SL{listed}"
        summary += "" if rows else synced_since_publish(files)
        return Finding("underwater_without_tp_sl", CRITICAL, summary, evidence, SYNC_HINT)
    if (skip := skipped("underwater_without_tp_sl", files, POSITIONS_STATE_FILE)) is not None:
        return skip
    summary = f"no position below {pct(cfg.underwater_threshold_pct)} without TP/SL"
    return Finding("underwater_without_tp_sl", OK, summary, evidence)


def check_tp_sl_coverage(files: Files, now: float, cfg: DoctorSettings) -> Finding:
    """Every open position has a registry entry on its own side."""
    if (skip := skipped("tp_sl_coverage", files, TP_SL_REGISTRY_FILE)) is not None:
        return skip
    entries, ledger, positions = (
        registry_entries(files),
        ledger_positions(files),
        state_positions(files),
    )
    symbols = open_symbols(files)
    missing = [s for s in symbols if not has_valid_levels(entries.get(s))]
    wrong_side = [
        s
        for s in symbols
        if s in entries
        and s not in missing
        and entries[s].get("side") != (ledger.get(s) or positions.get(s, {})).get("side")
    ]
    exit_pipeline = dig(diagnostics(files), "exit_pipeline")
    reported = count(exit_pipeline.get("tp_sl_missing_count"))
    evidence = {
        "open_positions": symbols,
        "missing": missing,
        "wrong_side": wrong_side,
        "orphan_entries": sorted(set(entries) - set(symbols)),
        "intel.json exit_pipeline.tp_sl_registered_count": exit_pipeline.get(
            "tp_sl_registered_count"
        ),
        "intel.json exit_pipeline.tp_sl_missing_count": exit_pipeline.get("tp_sl_missing_count"),
    }
    if missing or wrong_side or reported:
        parts = [f"{len(missing) or reported} without TP/SL"] if missing or reported else []
        parts += [f"{len(wrong_side)} with the other side's levels"] if wrong_side else []
        summary = f"of {len(symbols)} open positions: " + ", ".join(parts)
        summary += "" if missing else synced_since_publish(files)
        return Finding("tp_sl_coverage", WARN, summary, evidence, SYNC_HINT)
    summary = f"{len(symbols)} open position(s), all with TP/SL"
    return Finding("tp_sl_coverage", OK, summary, evidence)


def _last_exit_scan(files: Files) -> tuple[str | None, str]:
    diag = diagnostics(files)
    ts = dig(diag, "exit_pipeline").get("last_exit_scan_ts")
    if ts:
        return str(ts), "intel.json runtime_diagnostics.exit_pipeline.last_exit_scan_ts"
    ts = dig(diag, "liveness", "stages", "exit_scanner").get("last_success_ts")
    return (str(ts) if ts else None), "intel.json runtime_diagnostics.liveness.stages.exit_scanner"


def check_exit_scanner(files: Files, now: float, cfg: DoctorSettings) -> Finding:
    """With open positions, the exit scanner ran within ``exit_scan_stale_seconds``."""
    reported = count(dig(diagnostics(files), "exit_pipeline").get("open_positions_count"))
    n_open = max(len(open_symbols(files)), reported)
    if n_open == 0:
        if problem(files, POSITIONS_STATE_FILE) and problem(files, POSITIONS_LEDGER_FILE):
            return skipped("exit_scanner", files, POSITIONS_STATE_FILE, POSITIONS_LEDGER_FILE) or (
                Finding("exit_scanner", WARN, "cannot check: no position file")
            )
        return Finding("exit_scanner", OK, "no open positions")
    if (off := diagnostics_off("exit_scanner", files)) is not None:
        return off
    ts, key = _last_exit_scan(files)
    age = age_seconds(ts, now)
    evidence = {
        key: ts,
        "age_seconds": age,
        "threshold_seconds": cfg.exit_scan_stale_seconds,
        "open_positions": n_open,
        "last_exit_trigger_ts": dig(diagnostics(files), "exit_pipeline").get(
            "last_exit_trigger_ts"
        ),
    }
    if age is None or age > cfg.exit_scan_stale_seconds:
        return Finding(
            "exit_scanner",
            CRITICAL,
            f"exit scanner stale: last scan {fmt_age(age)} ago with {n_open} open position(s)",
            evidence,
            "TP/SL are not being checked: is the engine running (engine finding)? read "
            "intel.json runtime_diagnostics.liveness.stages.exit_scanner.last_error; restart it",
        )
    summary = f"last scan {fmt_age(age)} ago, {n_open} open position(s)"
    return Finding("exit_scanner", OK, summary, evidence)


def _positive(value: object) -> bool:
    n = num(value)
    return n is not None and n > 0


def bad_prices(files: Files) -> list[dict[str, Any]]:
    """Positions whose entry or mark price is missing or <= 0, in either file."""
    bad: list[dict[str, Any]] = []
    for symbol, pos in state_positions(files).items():
        if not (_positive(pos.get("entry_price")) and _positive(pos.get("mark_price"))):
            prices = {k: pos.get(k) for k in ("entry_price", "mark_price")}
            bad.append({"file": POSITIONS_STATE_FILE, "symbol": symbol, **prices})
    for symbol, pos in ledger_positions(files).items():
        if not _positive(pos.get("entry_price")):
            entry = pos.get("entry_price")
            bad.append({"file": POSITIONS_LEDGER_FILE, "symbol": symbol, "entry_price": entry})
    return bad


def check_prices(files: Files, now: float, cfg: DoctorSettings) -> Finding:
    """Open positions have entry_price and mark_price > 0."""
    bad = bad_prices(files)
    if bad:
        symbols = sorted({str(b["symbol"]) for b in bad})
        return Finding(
            "prices",
            CRITICAL,
            "price <= 0 or missing for " + ", ".join(symbols),
            {"positions": bad},
            "PnL and TP/SL cannot be evaluated without prices: check the market data feed "
            "(stale_mark vetoes) and positions_state.json positions[].mark_price; restart the "
            "engine to re-read entries from the exchange",
        )
    if (skip := skipped("prices", files, POSITIONS_STATE_FILE)) is not None:
        return skip
    n = len(state_positions(files))
    return Finding("prices", OK, f"{n} position(s) with entry and mark > 0")


def ledger_diff(files: Files) -> dict[str, Any]:
    """Symbols only in one of ledger / positions_state, and side or qty differences."""
    ledger, state = ledger_positions(files), state_positions(files)
    differs = [
        {
            "symbol": s,
            "ledger": {k: ledger[s].get(k) for k in ("side", "qty")},
            "positions_state": {k: state[s].get(k) for k in ("side", "qty")},
        }
        for s in sorted(set(ledger) & set(state))
        if ledger[s].get("side") != state[s].get("side") or not _same_qty(ledger[s], state[s])
    ]
    return {
        "not_in_ledger": sorted(set(state) - set(ledger)),
        "not_in_positions_state": sorted(set(ledger) - set(state)),
        "side_or_qty_differs": differs,
        "positions_ledger.json updated_ts": file_data(files, POSITIONS_LEDGER_FILE).get(
            "updated_ts"
        ),
        "positions_state.json updated_ts": file_data(files, POSITIONS_STATE_FILE).get("updated_ts"),
    }


def check_ledger_consistency(files: Files, now: float, cfg: DoctorSettings) -> Finding:
    """positions_ledger.json and positions_state.json agree on symbols, sides and quantities."""
    inputs = (POSITIONS_LEDGER_FILE, POSITIONS_STATE_FILE)
    if (skip := skipped("ledger_consistency", files, *inputs)) is not None:
        return skip
    diff = ledger_diff(files)
    hint = (
        "restart the engine: it reloads positions_ledger.json and reconciles it with the "
        "exchange (positions it did not open come back with adopted: true)"
    )
    if diff["not_in_ledger"]:
        names = ", ".join(diff["not_in_ledger"])
        summary = f"not in the ledger (no exit will be scanned): {names}"
        return Finding("ledger_consistency", CRITICAL, summary, diff, hint)
    names = diff["not_in_positions_state"] + [d["symbol"] for d in diff["side_or_qty_differs"]]
    if names:
        summary = "ledger differs for " + ", ".join(names)
        return Finding("ledger_consistency", WARN, summary, diff, hint)
    n = len(ledger_positions(files))
    return Finding("ledger_consistency", OK, f"ledger and positions_state agree ({n} open)")


def _same_qty(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    qa, qb = num(a.get("qty")), num(b.get("qty"))
    if qa is None or qb is None:
        return qa == qb
    return abs(qa - qb) <= 1e-9 * max(1.0, abs(qa), abs(qb))
