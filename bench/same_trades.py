"""Prove an optimisation did not change trading: the same replays give the same trades.

``record`` runs a set of replays and stores, per case, the `v7 run --fast --json-summary`
output (minus timing), the final positions_ledger.json, and a SHA-256 over every fill the
engine applied (symbol, side, qty, price, fee, time, kind, exit kind, realized PnL), taken
in-process. ``compare`` runs them again and reports any difference.

    .venv/bin/python -m bench.same_trades record /tmp/before.json
    # ... change the hot path ...
    .venv/bin/python -m bench.same_trades compare /tmp/before.json   # exit 1 on a difference
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import (
    BTC_1M_DIR,
    SHARED_DATA,
    config_dict,
    default_config_dict,
    fill_recorder,
    prepare_replay,
    relaxed_risk,
    run_prepared,
    temp_dir,
)
from execution.types import Fill

# Not decisions: where and how fast it ran, and how the diagnostics record calls ran (compiled
# or not depends on the install).
_TIMING_KEYS = ("state_dir", "elapsed_s", "bars_per_s", "diagnostics")


def _cases() -> dict[str, tuple[dict[str, Any], int | None, Path | None]]:
    """name -> (config, --max-bars, --data dir); real-data cases only when the data is there."""
    sma = {"name": "sma_cross_pct", "fast": 10, "slow": 30, "tp_pct": 0.004, "sl_pct": 0.002}
    sma["risk_per_trade_nav_pct"] = None
    zero_cost = {"taker_fee_bps": 0.0, "slippage_bps": 0.0}
    cases: dict[str, tuple[dict[str, Any], int | None, Path | None]] = {
        "default_config": (default_config_dict(), None, None),
        "ten_symbols": (config_dict(10), 500_000, None),
        "one_symbol": (config_dict(1), 200_000, None),
        "diagnostics_off_fixed_size": (
            config_dict(
                10, diagnostics={"enabled": False}, strategy={"risk_per_trade_nav_pct": None}
            ),
            200_000,
            None,
        ),
        "sma_relaxed_synthetic": (
            config_dict(1, strategy=sma, risk=relaxed_risk(), exchange=zero_cost),
            100_000,
            None,
        ),
    }
    if BTC_1M_DIR.is_dir():
        cfg = config_dict(1, strategy=sma, risk=relaxed_risk(), exchange=zero_cost)
        cases["sma_relaxed_btc"] = (cfg, None, BTC_1M_DIR)
        cases["ema_default_btc"] = (default_config_dict(), None, BTC_1M_DIR)
    spot = SHARED_DATA / "binance_spot_5m"
    if spot.is_dir():
        cases["ema_default_spot_5m"] = (default_config_dict(), None, spot)
    return cases


def _fill_row(f: Fill) -> list[Any]:
    return [
        f.symbol, f.side, f.qty, f.price, f.fee, f.ts, f.kind.value,
        f.exit_kind.value if f.exit_kind else None, f.realized_pnl,
    ]  # fmt: skip


def _cli_run(cfg: dict[str, Any], max_bars: int | None, data: Path | None) -> dict[str, Any]:
    """Run the real CLI in a subprocess; return its JSON summary and final ledger file."""
    with temp_dir("v7-same-") as d:
        (d / "cfg.json").write_text(json.dumps(cfg), encoding="utf-8")
        cmd = [sys.executable, "-m", "execution.cli", "run", "--fast", "--json-summary"]
        cmd += ["--no-progress", "--config", str(d / "cfg.json"), "--state-dir", str(d / "s")]
        if max_bars is not None:
            cmd += ["--max-bars", str(max_bars)]
        if data is not None:
            cmd += ["--data", str(data)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        summary = json.loads(out)
        ledger = json.loads((d / "s" / "positions_ledger.json").read_text(encoding="utf-8"))
    return {
        "summary": {k: v for k, v in summary.items() if k not in _TIMING_KEYS},
        "positions_ledger": ledger,
    }


def fingerprint(case: tuple[dict[str, Any], int | None, Path | None]) -> dict[str, Any]:
    """Run one case through the CLI and in-process; return what must not change."""
    cfg, max_bars, data = case
    out = _cli_run(cfg, max_bars, data)
    fills: list[Fill] = []
    prep = prepare_replay(cfg, max_bars, data)
    with temp_dir("v7-same-") as d:
        run_prepared(prep, d, max_bars, on_runner=fill_recorder(fills))
    rows = [_fill_row(f) for f in fills]
    blob = json.dumps(rows, separators=(",", ":")).encode()
    out["fills"] = len(rows)
    out["fills_sha256"] = hashlib.sha256(blob).hexdigest()
    return out


def record_all() -> dict[str, Any]:
    """Fingerprint every case."""
    result = {}
    for name, case in _cases().items():
        result[name] = fingerprint(case)
        print(f"{name:28s} fills {result[name]['fills']:6d}  {result[name]['fills_sha256'][:16]}")
    return result


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Return one line per case that differs (or is missing) between two fingerprints.

    A summary key the recording does not have is an output added since, not a changed
    decision: it is left to ``added_keys``. A key that changed value or disappeared differs.
    """
    out = []
    for name, want in before.items():
        got = after.get(name)
        if got is None:
            out.append(f"{name}: not run")
            continue
        for key in want:
            if key == "summary" and isinstance(got.get(key), dict):
                new = got[key]
                changed = sorted(k for k in want[key] if want[key][k] != new.get(k, _MISSING))
                if changed:
                    out.append(f"{name}: summary differs ({', '.join(changed)})")
            elif want[key] != got.get(key):
                out.append(f"{name}: {key} differs")
    return out


_MISSING = object()


def added_keys(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Return one line per case whose summary gained keys since the recording."""
    out = []
    for name, want in before.items():
        new = (after.get(name) or {}).get("summary") or {}
        extra = sorted(set(new) - set(want.get("summary") or {}))
        if extra:
            out.append(f"{name}: summary gained {', '.join(extra)}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=("record", "compare"))
    p.add_argument("path", type=Path)
    a = p.parse_args(argv)
    now = record_all()
    if a.action == "record":
        a.path.write_text(json.dumps(now, indent=1, sort_keys=True), encoding="utf-8")
        print(f"recorded {len(now)} cases -> {a.path}")
        return 0
    before = json.loads(a.path.read_text(encoding="utf-8"))
    for line in added_keys(before, now):
        print("NOTE", line)
    diff = differences(before, now)
    for line in diff:
        print("DIFF", line)
    print("same trades in every case" if not diff else f"{len(diff)} difference(s)")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
