"""The trading answer: trading | slowed | not_trading | engine_down | unknown, and why.

Hard stops are read from the state they live in (the engine's liveness, the HALT switch,
the drawdown against the circuit), before any veto count: a tripped circuit is the answer
even when an earlier check in the order happened to veto first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from doctor.model import (
    CRITICAL,
    OK,
    WARN,
    DoctorSettings,
    age_seconds,
    as_dict,
    count,
    diagnostics,
    dig,
    file_data,
    fmt_age,
    num,
    problem,
)
from doctor.verdict_causes import (
    blocked_by_reason,
    exact_pcts,
    explain,
    gated,
    root_cause,
    veto_sample,
)
from execution.state_io import JsonRead
from execution.state_v7 import INTEL_FILE, POSITIONS_LEDGER_FILE, RISK_SNAPSHOT_FILE

Files = Mapping[str, JsonRead]


@dataclass(frozen=True)
class EngineLife:
    """Whether an engine is behind the files: alive, stopped, hung, or a finished replay."""

    known: bool
    alive: bool
    mode: str
    detail: str
    updated_ts: str | None
    hung: bool = False

    @property
    def finished_replay(self) -> bool:
        return self.mode == "replay" and not self.alive


def engine_alive(files: Files, now: float, cfg: DoctorSettings) -> EngineLife:
    """Decide from intel.json whether the engine is alive (a replay's stop is its end)."""
    if problem(files, INTEL_FILE) is not None:
        return EngineLife(False, False, "unknown", f"intel.json {problem(files, INTEL_FILE)}", None)
    intel = file_data(files, INTEL_FILE)
    engine = dig(intel, "engine")
    mode, running = str(engine.get("mode") or "unknown"), engine.get("running")
    updated = intel.get("updated_ts") if isinstance(intel.get("updated_ts"), str) else None
    age = age_seconds(updated, now)
    if mode == "replay":
        alive = running is True
        return EngineLife(
            True, alive, mode, "replay running" if alive else "replay finished", updated
        )
    if running is False:
        return EngineLife(
            True, False, mode, f"engine stopped (last publish {fmt_age(age)} ago)", updated
        )
    if age is None or age > cfg.exit_scan_stale_seconds:
        detail = f"engine says running but last published {fmt_age(age)} ago"
        return EngineLife(True, False, mode, detail, updated, hung=True)
    return EngineLife(True, True, mode, f"{mode} engine alive", updated)


def _answer(
    status: str, reason: str | None, since: str | None, detail: str, hint: str, severity: str,
    diag: Mapping[str, Any],
) -> dict[str, Any]:  # fmt: skip
    by_reason = blocked_by_reason(diag)
    return {
        "status": status, "reason": reason, "since": since,
        "symbols_blocked": len(gated(diag)), "detail": detail, "hint": hint,
        "severity": severity, "blocked_by_reason": by_reason,
    }  # fmt: skip


def _engine_down(files: Files, life: EngineLife) -> dict[str, Any]:
    n_open = len(as_dict(file_data(files, POSITIONS_LEDGER_FILE).get("positions")))
    severity = CRITICAL if life.hung or n_open else WARN
    hint = (
        "check the process and the engine log; restart it: v7 run --state-dir <DIR> "
        "(it reloads the ledger and registry)"
    )
    return _answer(
        "engine_down",
        "engine_down",
        life.updated_ts,
        life.detail,
        hint,
        severity,
        diagnostics(files),
    )


def decide_trading(
    files: Files, now: float, cfg: DoctorSettings, life: EngineLife, halt_file: bool
) -> dict[str, Any]:
    """The trading answer's fields (see doctor.verdict.TradingVerdict)."""
    if not life.known:
        return _answer("unknown", None, None, life.detail, "see the state_files finding", WARN, {})
    if not life.alive and not life.finished_replay:
        return _engine_down(files, life)
    diag = diagnostics(files)
    if diag.get("enabled") is False or not diag:
        detail = (
            "runtime diagnostics are disabled" if diag else "intel.json has no runtime_diagnostics"
        )
        return _answer(
            "unknown", None, None, detail, 'set "diagnostics": {"enabled": true}', WARN, {}
        )
    prefix = "replay finished: " if life.finished_replay else ""
    answer = _hard_stop(files, diag, halt_file) or _vetoes(files, now, cfg, diag)
    answer["detail"] = prefix + answer["detail"]
    return answer


def _last_order(diag: Mapping[str, Any]) -> str | None:
    ts = dig(diag, "veto_counters").get("last_order_ts")
    return ts if isinstance(ts, str) else None


def _hard_stop(files: Files, diag: Mapping[str, Any], halt_file: bool) -> dict[str, Any] | None:
    """HALT / kill switch / panic, then the drawdown circuit: stops no veto count can hide."""
    risk = file_data(files, RISK_SNAPSHOT_FILE)
    since = _last_order(diag)
    if risk.get("dd_state") == "panic" or halt_file or risk.get("trading_halted") is True:
        detail, hint = explain("trading_halted", risk, diag)
        reason = "trading_halted" if risk.get("dd_state") == "panic" else "halted"
        if halt_file:
            detail, hint = "the HALT file is in the state dir", "remove it to resume: rm <DIR>/HALT"
        elif reason == "trading_halted":
            drawdown, limit = (
                num(risk.get("drawdown_pct")),
                num(dig(risk, "limits").get("dd_panic_pct")),
            )
            if drawdown is not None and limit is not None:
                a, b = exact_pcts(drawdown, limit)
                detail = f"drawdown {a} ≥ panic {b}: every entry is vetoed"
        return _answer("not_trading", reason, since, detail, hint, CRITICAL, diag)
    drawdown, limit = num(risk.get("drawdown_pct")), num(dig(risk, "limits").get("dd_circuit_pct"))
    if drawdown is not None and limit is not None and drawdown >= limit:
        detail, hint = explain("portfolio_dd_circuit", risk, diag)
        return _answer("not_trading", "portfolio_dd_circuit", since, detail, hint, CRITICAL, diag)
    flags = gated(diag)
    symbols = dig(file_data(files, INTEL_FILE), "engine").get("symbols")
    n_symbols = len(symbols) if isinstance(symbols, list) else len(flags)
    stale = [s for s, f in flags.items() if "stale_mark" in f]
    if n_symbols and len(stale) >= n_symbols:
        detail = f"marks are stale on all {n_symbols} symbols: the market data stopped"
        hint = (
            "check the data feed (exchange connectivity, the data source); clears with fresh bars"
        )
        return _answer("not_trading", "stale_data", since, detail, hint, CRITICAL, diag)
    return None


def _no_signals(
    files: Files, now: float, cfg: DoctorSettings, diag: Mapping[str, Any]
) -> dict[str, Any] | None:
    vc = dig(diag, "veto_counters")
    last = vc.get("last_signal_ts") if isinstance(vc.get("last_signal_ts"), str) else None
    age = age_seconds(last, now)
    if last is not None and age is not None and age <= cfg.no_signal_seconds:
        return None
    since = last or dig(file_data(files, INTEL_FILE), "engine").get("started_ts")
    loops = count(dig(diag, "liveness").get("loop_count"))
    detail = (
        f"no entry signal for {fmt_age(age)} (limit {fmt_age(cfg.no_signal_seconds)})"
        if last
        else f"no entry signal since start ({loops:,} loops)"
    )
    hint = "the strategy is quiet: check its parameters and that bars arrive (bad_bars, marks)"
    return _answer("not_trading", "no_signals", since, detail, hint, WARN, diag)


def _vetoes(
    files: Files, now: float, cfg: DoctorSettings, diag: Mapping[str, Any]
) -> dict[str, Any]:
    if (quiet := _no_signals(files, now, cfg, diag)) is not None:
        return quiet
    sample = veto_sample(diag, cfg.min_signals)
    reason = root_cause(sample)
    share = sample.vetoes / sample.signals if sample.signals else 0.0
    counts = (
        f"{sample.vetoes:,} of {sample.signals:,} signals vetoed {sample.source} "
        f"({100 * share:.1f}%), {sample.orders:,} entry orders"
    )
    if reason is None:
        return _answer("trading", None, None, counts, "", OK, diag)
    risk = file_data(files, RISK_SNAPSHOT_FILE)
    observed, hint = explain(reason, risk, diag)
    alone = sample.sole.get(reason)
    failing = sample.all_failing.get(reason, 0)
    cause = f"{reason}: {observed}" + (
        f" (fails on {failing:,} vetoed signals, the only failing check on {alone or 0:,})"
        if sample.has_causes
        else ""
    )
    if sample.orders == 0 and sample.vetoes >= sample.signals:
        return _answer(
            "not_trading", reason, _last_order(diag), f"{cause}; {counts}", hint, WARN, diag
        )
    if share >= cfg.dominant_veto_share:
        return _answer("slowed", reason, None, f"{cause}; {counts}", hint, WARN, diag)
    return _answer("trading", None, None, f"{counts}; top veto {reason}", "", OK, diag)
