"""`make bench`: run every benchmark, write bench/results/*.json and print a short table.

Each module exposes ``run() -> dict``. A module that is missing or raises is skipped with a
note (in the table and in summary.json); the others still run. bench/results/summary.json
holds the machine, the command, every module's headline rows and its status.

    .venv/bin/python -m bench.run_all            # everything (~5 minutes on 2 cores)
    .venv/bin/python -m bench.run_all replay     # only the named benchmarks
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.common import RESULTS_DIR, machine_info, write_result
from bench.noise import load_note

COMMAND = "make bench  # = .venv/bin/python -m bench.run_all"

# (result name, module): ours first, then the ones other parts of the project contribute.
BENCHMARKS: tuple[tuple[str, str], ...] = (
    ("replay", "bench.bench_replay"),
    ("vs_backtesting", "bench.bench_vs_backtesting"),
    ("length", "bench.bench_length"),
    ("scaling", "bench.bench_scaling"),
    ("publish", "bench.bench_publish"),
    ("diagnostics", "bench.bench_diagnostics"),
    ("check_order", "bench.bench_check_order"),
    ("dashboard_render", "bench.bench_dashboard"),
    ("store", "bench.bench_store"),
    ("report", "bench.bench_report"),
)


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int | float):
        return f"{value:,.0f}"
    return str(value)


def _rows_check_order(r: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for n, case in sorted(r.get("cases", {}).items(), key=lambda kv: int(kv[0])):
        target = f"<= {r['target_p99_us_at_20']:g}" if n == "20" else "-"
        ratio = case["p99_us"] / r["target_p99_us_at_20"] if n == "20" else None
        rows.append(
            {
                "name": f"check_order p50/p99, {n} pos",
                "figure": f"{case['p50_us']:.1f} / {case['p99_us']:.1f}",
                "unit": "µs",
                "target": target,
                "ratio": ratio,
            }
        )
    return rows


def _iqr(replay: dict[str, Any]) -> str:
    q1, q3 = replay.get("overhead_paired_cpu_iqr_pct") or (float("nan"), float("nan"))
    return f"{q1:+.1f}..{q3:+.1f}"


def _rows_diagnostics(r: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    replay = r.get("replay") or {}
    if "overhead_paired_cpu_pct" in replay:
        target = replay.get("target_overhead_pct")
        paired = replay["overhead_paired_cpu_pct"]
        rows.append(
            {
                "name": "diagnostics on vs off (replay)",
                # the median of paired CPU-time ratios, its spread, and beside the target a
                # verdict only when the spread allows one (bench/pairs.py: budget_verdict)
                "figure": f"{paired:+.2f} (IQR {_iqr(replay)})",
                "unit": "% slower",
                "target": f"<= {target:g}%: {replay.get('verdict_paired_cpu', 'no verdict')}"
                if isinstance(target, int | float)
                else "-",
                "ratio": replay.get("median_bars_per_cpu_s_off", 0)
                / max(replay.get("median_bars_per_cpu_s_on", 1), 1),
            }
        )
    calls = r.get("record_calls") or {}
    ns = calls.get("ns_per_call") or {}
    if "record_veto" in ns and "prom_labels_inc" in ns:
        rows.append(
            {
                "name": "record_veto vs prometheus labels().inc()",
                "figure": f"{ns['record_veto']:.0f} / {ns['prom_labels_inc']:.0f}",
                "unit": "ns",
                "target": "-",
                "ratio": calls.get("record_veto_vs_labels_inc"),
            }
        )
    return rows


def _rows_dashboard(r: dict[str, Any]) -> list[dict[str, Any]]:
    if "median_s" not in r:
        return []
    target = r.get("target_s")
    return [
        {
            "name": f"dashboard render, {r.get('symbols', '?')} sym",
            "figure": r["median_s"],
            "unit": "s",
            "target": f"<= {target:g}" if isinstance(target, int | float) else "-",
            "ratio": r["median_s"] / target if isinstance(target, int | float) else None,
        }
    ]


def _rows_generic(name: str, r: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline rows for a module that does not return them: its scalar top-level figures."""
    words = ("_s", "_ms", "_us", "per_s", "pct", "ratio", "overhead")
    rows = [
        {"name": f"{name}: {key}", "figure": value, "unit": "", "target": "-"}
        for key, value in r.items()
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and any(w in key for w in words)
    ]
    return rows[:6]


def headline_rows(name: str, result: dict[str, Any]) -> list[dict[str, Any]]:
    """The table rows of one benchmark: its own ``headline`` if it has one, else derived."""
    rows = result.get("headline")
    if isinstance(rows, list) and rows:
        return rows
    derive = {
        "check_order": _rows_check_order,
        "diagnostics": _rows_diagnostics,
        "dashboard_render": _rows_dashboard,
    }.get(name)
    try:
        derived = derive(result) if derive else []
    except (KeyError, TypeError, ValueError, ZeroDivisionError):  # their shape changed
        derived = []
    return derived or _rows_generic(name, result)


def print_table(rows: list[dict[str, Any]], out: Callable[[str], None] = print) -> None:
    """Print name | figure | target | ratio, one line per headline row."""
    out(f"{'benchmark':44s} {'figure':>18s}  {'target':>14s} {'ratio':>6s}")
    out("-" * 86)
    for row in rows:
        figure = f"{_fmt(row.get('figure'))} {row.get('unit', '')}".strip()
        ratio = row.get("ratio")
        ratio_text = f"{ratio:.2f}" if isinstance(ratio, int | float) else "-"
        out(f"{row['name']:44s} {figure:>18s}  {str(row.get('target', '-')):>14s} {ratio_text:>6s}")


def markdown_table(rows: list[dict[str, Any]], machine: dict[str, Any]) -> str:
    """The table as Markdown, with the machine and the command (for docs and the README)."""
    lines = ["| benchmark | figure | target | ratio |", "|---|---:|---|---:|"]
    for row in rows:
        figure = f"{_fmt(row.get('figure'))} {row.get('unit', '')}".strip()
        ratio = row.get("ratio")
        ratio_text = f"{ratio:.2f}" if isinstance(ratio, int | float) else ""
        name = str(row["name"]).strip()
        lines.append(f"| {name} | {figure} | {row.get('target', '-')} | {ratio_text} |")
    lines += [
        "",
        f"Machine: {machine['cpu_model']}, {machine['nproc']} cores, Python {machine['python']}, "
        f"numpy {machine['numpy']}. Reproduce: `{COMMAND.split('  #')[0]}`.",
    ]
    return "\n".join(lines) + "\n"


def run_one(name: str, module_name: str) -> tuple[dict[str, Any] | None, str]:
    """Import and run one benchmark; return (result, status) - never raise."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name == module_name:
            return None, "skipped: module not present"
        return None, f"skipped: import failed ({err})"
    except Exception as err:  # a broken module must not stop the others
        return None, f"skipped: import failed ({type(err).__name__}: {err})"
    try:
        result = module.run()
    except Exception as err:
        traceback.print_exc()
        return None, f"failed: {type(err).__name__}: {err}"
    if not isinstance(result, dict):
        return None, f"failed: run() returned {type(result).__name__}, not dict"
    return result, "ok"


def main(argv: list[str] | None = None) -> int:
    wanted = set(argv if argv is not None else sys.argv[1:])
    started = time.perf_counter()
    summary: dict[str, Any] = {
        "generated_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "command": COMMAND,
        "benchmarks": {},
    }
    table: list[dict[str, Any]] = []
    for name, module_name in BENCHMARKS:
        if wanted and name not in wanted:
            continue
        t0 = time.perf_counter()
        print(f"[bench] {name} ...", flush=True)
        result, status = run_one(name, module_name)
        seconds = round(time.perf_counter() - t0, 1)
        entry: dict[str, Any] = {"status": status, "seconds": seconds}
        if result is not None:
            entry["file"] = str(write_result(name, result).relative_to(RESULTS_DIR.parent.parent))
            entry["headline"] = headline_rows(name, result)
            table.extend(entry["headline"])
        else:
            table.append({"name": f"{name}: {status}", "figure": None, "target": "-"})
        summary["benchmarks"][name] = entry
        print(f"[bench] {name}: {status} ({seconds}s)", flush=True)
    summary["seconds_total"] = round(time.perf_counter() - started, 1)
    summary["markdown_table"] = markdown_table(table, summary["machine"])
    path = write_result("summary", summary)
    m = summary["machine"]
    print(f"\nv7 benchmarks on {m['cpu_model']} ({m['nproc']} cores), Python {m['python']}")
    print_table(table)
    if note := load_note():
        print(note)
    print(f"\n{path} ({summary['seconds_total']}s)")
    failed = [n for n, e in summary["benchmarks"].items() if e["status"].startswith("failed")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
