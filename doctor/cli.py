"""`v7 doctor`: the positions-stuck incident playbook, automated on the state files.

Reads logs/state (or --state-dir) and reports one finding per check: ok / warn / critical, with
its evidence (numbers, keys, ages) and a recovery hint. A table for people, JSON for machines.
Exit code 0 all ok, 1 worst is warn, 2 worst is critical. It only reads, except
``--sync-registry --apply``, which writes tp_sl_registry.json only and never sends orders.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from doctor.checks import (
    check_accounting,
    check_blocked_by_caps,
    check_dominant_veto,
    check_engine,
    check_no_orders,
    check_no_signals,
    check_risk_mode,
    check_stage_errors,
    check_state_files,
)
from doctor.model import (
    CRITICAL,
    OK,
    WARN,
    DoctorSettings,
    Finding,
    dig,
    exit_code_for,
    json_safe,
    num,
    reference_now,
    worst_status,
)
from doctor.positions import (
    check_exit_scanner,
    check_ledger_consistency,
    check_prices,
    check_tp_sl_coverage,
    check_underwater_without_tp_sl,
)
from doctor.sync import sync_registry
from doctor.verdict import HALT_FILE, decide_verdict, severity_rank
from execution.clock import to_iso
from execution.config import ConfigError, load_config
from execution.state_io import JsonRead
from execution.state_v7 import INTEL_FILE, read_all_state_files, resolve_state_dir
from execution.store import half_moved_way_out, interrupted_backups

Check = Callable[[Mapping[str, JsonRead], float, DoctorSettings], Finding]

# Playbook order: protection of open positions first, then why nothing trades.
CHECKS: tuple[Check, ...] = (
    check_state_files,
    check_engine,
    check_underwater_without_tp_sl,
    check_exit_scanner,
    check_tp_sl_coverage,
    check_prices,
    check_ledger_consistency,
    check_stage_errors,
    check_risk_mode,
    check_dominant_veto,
    check_blocked_by_caps,
    check_no_signals,
    check_no_orders,
    check_accounting,
)

# intel.json engine.config key -> DoctorSettings field
_INTEL_KEYS = {
    "exit_scan_stale_seconds": "exit_scan_stale_seconds",
    "tp_sl_underwater_threshold_pct": "underwater_threshold_pct",
    "no_signal_seconds": "no_signal_seconds",
    "no_order_seconds": "no_order_seconds",
    "dominant_veto_share": "dominant_veto_share",
}


def settings_from_intel(intel: Mapping[str, Any], base: DoctorSettings) -> DoctorSettings:
    """Take the thresholds the engine published in intel.json engine.config (numbers only)."""
    published = dig(intel, "engine", "config")
    changes: dict[str, Any] = {
        field: value
        for key, field in _INTEL_KEYS.items()
        if (value := num(published.get(key))) is not None
    }
    return replace(base, **changes)


def settings_from_config(path: str | Path, base: DoctorSettings) -> DoctorSettings:
    """Take the thresholds from a strategy config file; raise ConfigError when it is invalid."""
    cfg = load_config(path)
    exits, doctor = cfg.diagnostics.exit_pipeline, cfg.doctor
    return replace(
        base,
        exit_scan_stale_seconds=exits.exit_scan_stale_seconds,
        underwater_threshold_pct=exits.tp_sl_underwater_threshold_pct,
        no_signal_seconds=doctor.no_signal_seconds,
        no_order_seconds=doctor.no_order_seconds,
        dominant_veto_share=doctor.dominant_veto_share,
        default_tp_pct=doctor.default_tp_pct,
        default_sl_pct=doctor.default_sl_pct,
    )


def resolve_settings(intel: Mapping[str, Any], config_path: str | Path | None) -> DoctorSettings:
    """Defaults, then intel.json engine.config, then --config (the last one wins)."""
    settings = settings_from_intel(intel, DoctorSettings())
    return settings_from_config(config_path, settings) if config_path else settings


def no_state_finding(state_dir: Path) -> Finding:
    return Finding(
        "state_files",
        CRITICAL,
        "no state: has the engine run?",
        {"state_dir": str(state_dir), "exists": state_dir.is_dir()},
        f"start the engine with this state dir (v7 run --state-dir {state_dir}) or point the "
        "doctor at the right one (--state-dir DIR or $V7_STATE_DIR)",
    )


def half_moved_finding(state_dir: Path) -> Finding | None:
    """A --fresh cut while moving the memory aside: the engine refuses to start until it is
    finished, whatever the state files (left from before) say."""
    interrupted = interrupted_backups(state_dir)
    if not interrupted:
        return None
    return Finding(
        "memory",
        CRITICAL,
        f"an interrupted --fresh left the memory half moved into {interrupted[0].name}: the "
        "engine refuses to start",
        {"folders": [str(p) for p in interrupted]},
        half_moved_way_out(state_dir),
    )


def diagnose(files: Mapping[str, JsonRead], now: float, cfg: DoctorSettings) -> list[Finding]:
    """Run every check; a check that fails on unexpected data becomes a WARN finding."""
    findings = []
    for check in CHECKS:
        try:
            findings.append(check(files, now, cfg))
        except Exception as err:  # noqa: BLE001 - the doctor must report, never crash
            name = check.__name__.removeprefix("check_")
            summary = f"check failed on unexpected data: {type(err).__name__}: {err}"
            findings.append(Finding(name, WARN, summary, {}, "report this with the state files"))
    return findings


def run_doctor(
    state_dir: str | Path | None,
    *,
    as_json: bool,
    config_path: str | Path | None,
    wall: float | None = None,
) -> tuple[int, str]:
    """Check the state dir; return (exit code, text to print). ConfigError for a bad --config."""
    directory = resolve_state_dir(state_dir)
    files = read_all_state_files(directory)
    intel = files[INTEL_FILE].data
    cfg = resolve_settings(intel, config_path)
    now, now_source = reference_now(intel, time.time() if wall is None else wall)
    if all(read.status == "missing" for read in files.values()):
        findings = [no_state_finding(directory)]
    else:
        findings = diagnose(files, now, cfg)
    half_moved = half_moved_finding(directory)
    if half_moved is not None:
        findings.insert(0, half_moved)
    verdict = decide_verdict(files, now, cfg, halt_file=(directory / HALT_FILE).exists())
    # The verdict is the answer; the findings are its evidence: the exit code covers both.
    status = max(worst_status(findings), verdict.severity, key=severity_rank)
    code = exit_code_for(status)
    report = {
        "verdict": verdict.to_dict(),
        "status": status,
        "exit_code": code,
        "state_dir": str(directory),
        "now": to_iso(now),
        "now_source": now_source,
        "settings": cfg.to_dict(),
        "counts": {s: sum(f.status == s for f in findings) for s in (OK, WARN, CRITICAL)},
        "findings": [f.to_dict() for f in findings],
    }
    text = json.dumps(json_safe(report), indent=2, allow_nan=False) if as_json else None
    return code, text or render_table(report)


def _evidence_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def verdict_lines(verdict: Mapping[str, Any]) -> list[str]:
    """The two answers first: status, root cause, since when, what clears it."""
    lines = []
    for question in ("trading", "protection"):
        answer = verdict[question]
        why = f" ({answer['reason']})" if answer.get("reason") else ""
        since = f" since {answer['since']}" if answer.get("since") else ""
        head = f"{answer['severity'].upper():<10}{question}: {answer['status']}{why}{since}"
        lines += [head, f"{'':<10}{answer['detail']}"]
        if answer["hint"]:
            lines.append(f"{'':<10}-> {answer['hint']}")
    return lines


def render_table(report: Mapping[str, Any]) -> str:
    """The report for people: one row per check, then evidence and hint of what is not ok."""
    findings = report["findings"]
    width = max((len(f["check"]) for f in findings), default=5) + 2
    lines = [
        f"v7 doctor  state: {report['state_dir']}  now: {report['now']} from {report['now_source']}",
        *verdict_lines(report["verdict"]),
        "",
        f"{'STATUS':<10}{'CHECK':<{width}}SUMMARY",
    ]
    lines += [f"{f['status'].upper():<10}{f['check']:<{width}}{f['summary']}" for f in findings]
    for f in findings:
        if f["status"] == OK:
            continue
        lines += ["", f"{f['status'].upper()} {f['check']}: {f['summary']}"]
        lines += [f"  {key}: {_evidence_text(val)}" for key, val in f["evidence"].items()]
        if f["hint"]:
            lines.append(f"  -> {f['hint']}")
    counts = report["counts"]
    lines += [
        "",
        f"{report['status'].upper()}: verdict {report['verdict']['severity']}; findings "
        f"{counts[OK]} ok, {counts[WARN]} warn, {counts[CRITICAL]} critical "
        f"(exit {report['exit_code']})",
    ]
    return "\n".join(lines)


# --- command line -----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", help="state directory (default $V7_STATE_DIR or logs/state)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--config", help="strategy config to take the thresholds from")
    parser.add_argument(
        "--sync-registry",
        action="store_true",
        help="register TP/SL for ledger positions lacking one (dry run unless --apply)",
    )
    parser.add_argument("--apply", action="store_true", help="with --sync-registry: write it")
    parser.add_argument(
        "--tp-pct", type=float, help="sync: TP distance (default doctor.default_tp_pct)"
    )
    parser.add_argument(
        "--sl-pct", type=float, help="sync: SL distance (default doctor.default_sl_pct)"
    )


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `doctor` subcommand to the v7 CLI; ``args.func(args)`` returns the exit code."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "doctor",
        help="check the state files: why is it not trading, are positions protected",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=doctor_command)
    return parser


def _sync_command(args: argparse.Namespace) -> int:
    directory = resolve_state_dir(args.state_dir)
    cfg = resolve_settings(read_all_state_files(directory)[INTEL_FILE].data, args.config)
    tp = args.tp_pct if args.tp_pct is not None else cfg.default_tp_pct
    sl = args.sl_pct if args.sl_pct is not None else cfg.default_sl_pct
    report = sync_registry(directory, apply=args.apply, tp_pct=tp, sl_pct=sl, now=time.time())
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.render())
    return report.exit_code


def doctor_command(args: argparse.Namespace) -> int:
    """Run `v7 doctor` from parsed arguments; return the process exit code."""
    try:
        if args.apply and not args.sync_registry:
            raise ValueError("--apply only goes with --sync-registry")
        if args.sync_registry:
            return _sync_command(args)
        code, text = run_doctor(args.state_dir, as_json=args.json, config_path=args.config)
    except (ConfigError, ValueError) as err:
        print(f"v7 doctor: {err}", file=sys.stderr)
        return 2
    print(text)
    return code


def main(argv: list[str] | None = None) -> int:
    """`python -m doctor.cli ...`: the same command without the v7 entry point."""
    parser = argparse.ArgumentParser(prog="v7 doctor", description=__doc__)
    add_arguments(parser)
    return doctor_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
