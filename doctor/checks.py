"""The doctor's engine-level checks: state files, engine freshness, vetoes, liveness, stages,
risk mode. Pure functions ``check_x(files, now, cfg) -> Finding``; positions live apart in
doctor_positions.py.
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
    count,
    diagnostics,
    diagnostics_off,
    dig,
    file_data,
    fmt_age,
    num,
    pct,
    skipped,
)
from doctor.verdict_causes import exact_pcts, root_cause, veto_sample
from execution.state_io import JsonRead
from execution.state_v7 import INTEL_FILE, POSITIONS_LEDGER_FILE, RISK_SNAPSHOT_FILE, STATE_FILES

Files = Mapping[str, JsonRead]

CAP_REASONS = frozenset({"max_concurrent", "symbol_cap"})

VETO_HINTS = {
    "max_concurrent": "every slot is taken: review risk.max_concurrent, and check why open "
    "positions are not exiting (TP/SL coverage, exit scanner)",
    "symbol_cap": "the symbols are at their cap: review risk.symbol_cap_nav_pct",
    "portfolio_dd_circuit": "the drawdown circuit is open: read risk_snapshot.json drawdown_pct "
    "vs limits.dd_circuit_pct",
    "var_limit": "portfolio VaR is over its limit: read risk_snapshot.json var vs "
    "limits.var_limit_nav_pct",
    "cvar_limit": "portfolio CVaR is over its limit: read risk_snapshot.json cvar vs "
    "limits.cvar_limit_nav_pct",
    "min_notional": "orders are below the exchange minimum: raise strategy.notional_nav_pct "
    "or check NAV",
    "per_trade_nav_pct": "orders exceed risk.per_trade_nav_pct: lower strategy.notional_nav_pct",
    "tier_block": "the symbols' tiers are in risk.blocked_tiers",
    "stale_mark": "marks are older than risk.stale_mark_seconds: check market data",
    "trading_halted": "risk.trading_halted is true in the config",
    "cooldown": "symbols are cooling down after a stop-loss: review risk.cooldown_seconds_after_sl",
}


def check_state_files(files: Files, now: float, cfg: DoctorSettings) -> Finding:
    """Every published state file is readable; a corrupt or empty one is critical."""
    bad = {n: files[n] for n in STATE_FILES if n in files and not files[n].ok}
    evidence: dict[str, Any] = {
        n: {"status": r.status, "error": r.error, "path": r.path} for n, r in bad.items()
    }
    broken = [n for n, r in bad.items() if r.status != "missing"]
    missing = [n for n, r in bad.items() if r.status == "missing"]
    if broken:
        return Finding(
            "state_files",
            CRITICAL,
            "unreadable: " + ", ".join(f"{n} ({bad[n].status})" for n in broken),
            evidence,
            "the engine writes atomically, so a corrupt file was written by something else or "
            "the disk is failing: inspect it (python -m json.tool FILE), move it aside, restart "
            "the engine so it publishes a fresh copy",
        )
    if missing:
        return Finding(
            "state_files",
            WARN,
            "missing: " + ", ".join(missing),
            evidence,
            "the engine publishes every state file at its first publish; is it running with "
            "this --state-dir?",
        )
    return Finding("state_files", OK, f"all {len(STATE_FILES)} state files readable")


def check_engine(files: Files, now: float, cfg: DoctorSettings) -> Finding:
    """The engine is publishing: in live/realtime mode intel.json is fresh while running."""
    if (skip := skipped("engine", files, INTEL_FILE)) is not None:
        return skip
    intel = file_data(files, INTEL_FILE)
    engine = dig(intel, "engine")
    mode, running = engine.get("mode"), engine.get("running")
    age = age_seconds(intel.get("updated_ts"), now)
    evidence = {
        "intel.json engine.mode": mode,
        "intel.json engine.running": running,
        "intel.json engine.pid": engine.get("pid"),
        "intel.json updated_ts": intel.get("updated_ts"),
        "age_seconds": age,
        "stale_after_seconds": cfg.exit_scan_stale_seconds,
        "bars_processed": engine.get("bars_processed"),
    }
    if mode != "replay" and running is True and (age is None or age > cfg.exit_scan_stale_seconds):
        return Finding(
            "engine",
            CRITICAL,
            f"engine says running but last published {fmt_age(age)} ago",
            evidence,
            f"check the process (ps -p {engine.get('pid')}) and the engine log; restart it if hung",
        )
    n_open = max(
        count(dig(diagnostics(files), "exit_pipeline").get("open_positions_count")),
        len(as_dict(file_data(files, POSITIONS_LEDGER_FILE).get("positions"))),
    )
    if mode != "replay" and running is False and n_open > 0:
        # Critical on every surface: the verdict's protection answer says the same.
        return Finding(
            "engine",
            CRITICAL,
            f"engine stopped (last publish {fmt_age(age)} ago): nothing is watching "
            f"{n_open} open position(s)",
            evidence,
            "start it again: v7 run --state-dir <DIR> (it reloads the ledger and registry)",
        )
    state = "running" if running else "finished" if mode == "replay" else "stopped, flat"
    return Finding("engine", OK, f"{mode} engine {state}, published {fmt_age(age)} ago", evidence)


def _veto_sample(diag: Mapping[str, Any]) -> tuple[str, int, int, dict[str, int]]:
    """The recent window when it holds signals, else the cumulative counters."""
    window = as_dict(diag.get("window"))
    if count(window.get("signals")) > 0:
        reasons = {str(k): count(v) for k, v in as_dict(window.get("by_reason")).items()}
        return "window", count(window.get("signals")), count(window.get("orders")), reasons
    vc = as_dict(diag.get("veto_counters"))
    acc = as_dict(diag.get("accounting"))
    reasons = {str(k): count(v) for k, v in as_dict(vc.get("by_reason")).items()}
    return "cumulative", count(vc.get("total_signals")), count(acc.get("entry_orders")), reasons


def check_dominant_veto(files: Files, now: float, cfg: DoctorSettings) -> Finding:
    """Vetoes block at least ``dominant_veto_share`` of signals; names the root cause.

    Measured like the verdict: on the window when it holds ``min_signals`` signals, else since
    start; the root cause is the reason that blocks most signals on its own.
    """
    if (off := diagnostics_off("dominant_veto", files)) is not None:
        return off
    sample = veto_sample(diagnostics(files), cfg.min_signals)
    reason = root_cause(sample)
    counts = f"{sample.signals} signals, {sample.orders} entry orders"
    if reason is None:
        return Finding("dominant_veto", OK, f"no vetoes ({sample.source}: {counts})")
    share = sample.vetoes / sample.signals if sample.signals else 1.0
    evidence = {
        "source": sample.source,
        "reason": reason,
        "first_failing": sample.first_failing.get(reason, 0),
        "sole": sample.sole.get(reason) if sample.has_causes else None,
        "all_failing": sample.all_failing.get(reason) if sample.has_causes else None,
        "share_vetoed": round(share, 4),
        "signals": sample.signals,
        "vetoes": sample.vetoes,
        "orders": sample.orders,
        "threshold": cfg.dominant_veto_share,
        "by_reason": dict(sorted(sample.first_failing.items(), key=lambda kv: -kv[1])),
    }
    summary = f"{reason}: {sample.vetoes} of {sample.signals} {sample.source} signals vetoed ({pct(share)})"
    if sample.signals >= cfg.min_signals and share >= cfg.dominant_veto_share:
        hint = VETO_HINTS.get(reason, f"read the documentation of the {reason} veto")
        return Finding("dominant_veto", WARN, "dominant veto " + summary, evidence, hint)
    return Finding("dominant_veto", OK, "top veto " + summary, evidence)


def check_blocked_by_caps(files: Files, now: float, cfg: DoctorSettings) -> Finding:
    """Every recent signal was vetoed, and only by max_concurrent or symbol_cap."""
    if (off := diagnostics_off("blocked_by_caps", files)) is not None:
        return off
    source, signals, orders, reasons = _veto_sample(diagnostics(files))
    vetoes = sum(reasons.values())
    risk = file_data(files, RISK_SNAPSHOT_FILE)
    limits = as_dict(risk.get("limits"))
    evidence = {
        "source": source,
        "signals": signals,
        "vetoes": vetoes,
        "orders": orders,
        "by_reason": reasons,
        "risk_snapshot.json open_positions": risk.get("open_positions"),
        "risk_snapshot.json limits.max_concurrent": limits.get("max_concurrent"),
        "risk_snapshot.json limits.symbol_cap_nav_pct": limits.get("symbol_cap_nav_pct"),
    }
    all_blocked = signals > 0 and orders == 0 and vetoes >= signals
    if all_blocked and vetoes and set(reasons) <= CAP_REASONS and signals >= cfg.min_signals:
        return Finding(
            "blocked_by_caps",
            WARN,
            f"all {signals} {source} signals vetoed by " + " / ".join(sorted(reasons)),
            evidence,
            "review risk.max_concurrent and risk.symbol_cap_nav_pct; if the open positions "
            "should have exited, check TP/SL coverage and the exit scanner first",
        )
    return Finding("blocked_by_caps", OK, f"{orders} orders from {signals} {source} signals")


def _silence(
    files: Files, now: float, key: str, limit: float
) -> tuple[float | None, dict[str, Any]]:
    """Age of ``veto_counters.<key>`` (or of the engine start when it is null) with evidence."""
    intel = file_data(files, INTEL_FILE)
    last = as_dict(diagnostics(files).get("veto_counters")).get(key)
    started = dig(intel, "engine").get("started_ts")
    age = age_seconds(last, now) if last else age_seconds(started, now)
    evidence = {
        f"intel.json runtime_diagnostics.veto_counters.{key}": last,
        "intel.json engine.started_ts": started,
        "age_seconds": age,
        "threshold_seconds": limit,
    }
    return age, evidence


def _check_silence(
    check: str, files: Files, now: float, what: str, key: str, limit: float
) -> Finding:
    if (off := diagnostics_off(check, files)) is not None:
        return off
    age, evidence = _silence(files, now, key, limit)
    last = evidence[f"intel.json runtime_diagnostics.veto_counters.{key}"]
    since = f"last {fmt_age(age)} ago" if last else f"none since start {fmt_age(age)} ago"
    if age is not None and age > limit:
        hint = (
            "check market data and the screener stage (dominant_veto and stage_errors findings)"
            if what == "signals"
            else "read the dominant_veto and blocked_by_caps findings: vetoes explain missing orders"
        )
        return Finding(check, WARN, f"no {what} for {fmt_age(age)} ({since})", evidence, hint)
    return Finding(check, OK, f"{what}: {since}", evidence)


def check_no_signals(files: Files, now: float, cfg: DoctorSettings) -> Finding:
    """The screener emitted a signal within ``no_signal_seconds``."""
    return _check_silence(
        "no_signals", files, now, "signals", "last_signal_ts", cfg.no_signal_seconds
    )


def check_no_orders(files: Files, now: float, cfg: DoctorSettings) -> Finding:
    """An order was accepted within ``no_order_seconds``."""
    return _check_silence("no_orders", files, now, "orders", "last_order_ts", cfg.no_order_seconds)


def check_stage_errors(files: Files, now: float, cfg: DoctorSettings) -> Finding:
    """No stage has errors; one whose last error is newer than its last success is failing now."""
    if (off := diagnostics_off("stage_errors", files)) is not None:
        return off
    stages = dig(diagnostics(files), "liveness", "stages")
    failing: list[str] = []
    recovered: list[str] = []
    evidence: dict[str, Any] = {}
    for name, raw in stages.items():
        st = as_dict(raw)
        if count(st.get("error_count")) == 0:
            continue
        evidence[name] = {
            k: st.get(k) for k in ("error_count", "last_error", "last_error_ts", "last_success_ts")
        }
        err_age = age_seconds(st.get("last_error_ts"), now)
        ok_age = age_seconds(st.get("last_success_ts"), now)
        now_failing = ok_age is None or (err_age is not None and err_age <= ok_age)
        (failing if now_failing else recovered).append(name)
    where = "intel.json runtime_diagnostics.liveness.stages.<stage>.last_error"
    if failing:
        summary = "failing now: " + ", ".join(failing)
        return Finding(
            "stage_errors", CRITICAL, summary, evidence, f"read {where} and the engine log"
        )
    if recovered:
        summary = "errors, since recovered: " + ", ".join(recovered)
        return Finding("stage_errors", WARN, summary, evidence, f"read {where}")
    return Finding("stage_errors", OK, f"no stage errors ({len(stages)} stages)")


def check_risk_mode(files: Files, now: float, cfg: DoctorSettings) -> Finding:
    """risk_mode is OK and dd_state normal; DEFENSIVE/warn is a warning, panic is critical."""
    if (skip := skipped("risk_mode", files, RISK_SNAPSHOT_FILE)) is not None:
        return skip
    risk = file_data(files, RISK_SNAPSHOT_FILE)
    mode, dd_state, halted = risk.get("risk_mode"), risk.get("dd_state"), risk.get("trading_halted")
    dd = num(risk.get("drawdown_pct"))
    evidence = {
        "risk_snapshot.json risk_mode": mode,
        "risk_snapshot.json dd_state": dd_state,
        "risk_snapshot.json drawdown_pct": dd,
        "risk_snapshot.json nav": risk.get("nav"),
        "risk_snapshot.json peak_nav": risk.get("peak_nav"),
        "risk_snapshot.json trading_halted": halted,
        "limits": {k: v for k, v in as_dict(risk.get("limits")).items() if k.startswith("dd_")},
    }
    summary = f"risk_mode={mode} dd_state={dd_state} " + _drawdown_text(risk)
    malformed = _malformed_risk_fields(risk)
    if malformed:
        return Finding(
            "risk_mode",
            WARN,
            "risk_snapshot.json has unexpected values: " + ", ".join(malformed),
            evidence,
            "the engine writes these fields itself: a different value means another writer or an "
            "engine of another version; restart the engine so it publishes a fresh snapshot",
        )
    circuit = num(as_dict(risk.get("limits")).get("dd_circuit_pct"))
    tripped = dd is not None and circuit is not None and dd >= circuit
    hint = CIRCUIT_HINTS[tripped]
    if dd_state == "panic" or tripped:
        return Finding(
            "risk_mode", CRITICAL, summary + " circuit tripped" * tripped, evidence, hint
        )
    if mode == "DEFENSIVE" or dd_state == "warn" or halted is True:
        halt = " trading_halted" if halted is True else ""
        return Finding("risk_mode", WARN, summary + halt, evidence, hint)
    return Finding("risk_mode", OK, summary, evidence)


CIRCUIT_HINTS = {
    True: "entries are blocked by portfolio_dd_circuit (a hard stop while the book is flat); "
    "exits still run. Review the losses, then start a new run or raise risk.dd_circuit_pct",
    False: "entries are still checked as usual; the circuit trips at limits.dd_circuit_pct",
}


def _drawdown_text(risk: dict[str, Any]) -> str:
    """drawdown against the circuit with exact figures (7.97% under 8.00%, never "8.0%")."""
    dd = num(risk.get("drawdown_pct"))
    circuit = num(as_dict(risk.get("limits")).get("dd_circuit_pct"))
    if dd is None:
        return "drawdown=?"
    if circuit is None:
        return f"drawdown={pct(dd)}"
    a, b = exact_pcts(dd, circuit)
    return f"drawdown={a} ({'≥' if dd >= circuit else '<'} circuit {b})"


_RISK_ENUMS = {"risk_mode": ("OK", "DEFENSIVE"), "dd_state": ("normal", "warn", "panic")}
_RISK_NUMBERS = ("nav", "peak_nav", "drawdown_pct")


def _malformed_risk_fields(risk: dict[str, Any]) -> list[str]:
    """Name the fields of risk_snapshot.json whose type or value the engine never writes."""
    bad = [k for k, allowed in _RISK_ENUMS.items() if risk.get(k) not in allowed]
    bad += [k for k in _RISK_NUMBERS if num(risk.get(k)) is None]
    if not isinstance(risk.get("limits", {}), dict):
        bad.append("limits")
    return bad


def check_accounting(files: Files, now: float, cfg: DoctorSettings) -> Finding:
    """Every entry signal ended in exactly one outcome (veto, order, failure, in flight)."""
    if (off := diagnostics_off("accounting", files)) is not None:
        return off
    acc = as_dict(diagnostics(files).get("accounting"))
    unaccounted = count(acc.get("unaccounted"))
    keys = ("total_signals", "total_vetoes", "entry_orders", "order_failures", "in_flight")
    evidence: dict[str, Any] = {k: acc.get(k) for k in (*keys, "unaccounted", "identity_ok")}
    if acc.get("identity_ok") is False or unaccounted:
        return Finding(
            "accounting",
            WARN,
            f"{unaccounted} signals unaccounted for",
            evidence,
            "a signal left the pipeline without a veto, order or failure: a bug; report it "
            "with intel.json runtime_diagnostics.accounting",
        )
    return Finding(
        "accounting", OK, f"{acc.get('total_signals', 0)} signals all accounted for", evidence
    )
