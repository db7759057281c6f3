"""Bad config: `v7 run` exits 2 with one stderr line naming the key, and touches no state.

Each case is the shipped config with one thing broken (or a file that is not a config at all).
The state dir is pre-populated from a real run (plus an operator's HALT file and a stray file)
and must be byte-identical afterwards; a state dir that did not exist must still not exist.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from execution.cli import main as v7_main

from .helpers import (
    BASE_CONFIG,
    FIGURES,
    finished_state_dir,
    run_v7,
)

pytestmark = pytest.mark.timeout(120)

Edit = Callable[[dict[str, Any]], None]


def set_(path: str, value: Any) -> Edit:
    def edit(cfg: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = cfg
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


def drop(path: str) -> Edit:
    def edit(cfg: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = cfg
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        del node[last]

    return edit


def both(*edits: Edit) -> Edit:
    def edit(cfg: dict[str, Any]) -> None:
        for e in edits:
            e(cfg)

    return edit


# (case id, edit of the shipped config, text the one-line error must contain)
EDITED: list[tuple[str, Edit, str]] = [
    # wrong types
    ("universe_not_a_list", set_("universe", "BTCUSDT"), "universe"),
    ("symbol_not_a_string", set_("universe.0.tier", 5), "universe.0.tier"),
    ("fast_not_a_number", set_("strategy.fast", "twelve"), "strategy.fast"),
    ("max_concurrent_fractional", set_("risk.max_concurrent", 2.5), "risk.max_concurrent"),
    ("halted_not_a_bool", set_("risk.trading_halted", "maybe"), "risk.trading_halted"),
    ("blocked_tiers_not_a_list", set_("risk.blocked_tiers", "blocked"), "risk.blocked_tiers"),
    ("risk_block_is_a_list", set_("risk", [1, 2]), "risk"),
    ("risk_block_is_null", set_("risk", None), "risk"),
    ("schema_version_text", set_("schema_version", "one"), "schema_version"),
    ("plugin_param_text", set_("strategy.params", {"k": "abc"}), "strategy.params.k"),
    ("starting_balance_nan", set_("exchange.starting_balance", float("nan")),
     "exchange.starting_balance"),
    # unknown keys
    ("unknown_top_level_key", set_("risk_limits", {}), "risk_limits: unknown key"),
    ("typo_in_risk_key", set_("risk.max_concurent", 3), "risk.max_concurent: unknown key"),
    ("unknown_symbol_key", set_("universe.0.margin", 20), "universe.0.margin: unknown key"),
    ("unknown_deep_key", set_("diagnostics.veto_metrics.window", 5),
     "diagnostics.veto_metrics.window: unknown key"),
    # negative, zero or out-of-range values
    ("max_concurrent_zero", set_("risk.max_concurrent", 0), "risk.max_concurrent"),
    ("max_concurrent_negative", set_("risk.max_concurrent", -3), "risk.max_concurrent"),
    ("per_trade_negative", set_("risk.per_trade_nav_pct", -0.1), "risk.per_trade_nav_pct"),
    ("panic_above_100pct", set_("risk.dd_panic_pct", 1.5), "risk.dd_panic_pct"),
    ("var_confidence_too_low", set_("risk.var_confidence", 0.3), "risk.var_confidence"),
    ("balance_zero", set_("exchange.starting_balance", 0), "exchange.starting_balance"),
    ("fee_negative", set_("exchange.taker_fee_bps", -1), "exchange.taker_fee_bps"),
    ("retries_too_many", set_("exchange.max_retries", 50), "exchange.max_retries"),
    ("qty_step_negative", set_("universe.1.qty_step", -0.1), "universe.1.qty_step"),
    ("base_price_zero", set_("universe.0.base_price", 0), "universe.0.base_price"),
    ("correlation_above_1", set_("data.synthetic.correlation", 1.5),
     "data.synthetic.correlation"),
    ("publish_every_zero", set_("publish.replay_every_bars", 0), "publish.replay_every_bars"),
    ("metrics_port_too_big", set_("metrics_port", 70_000), "metrics_port"),
    ("window_signals_zero", set_("diagnostics.veto_metrics.window_signals", 0),
     "diagnostics.veto_metrics.window_signals"),
    ("underwater_positive", set_("diagnostics.exit_pipeline.tp_sl_underwater_threshold_pct", 0.5),
     "diagnostics.exit_pipeline.tp_sl_underwater_threshold_pct"),
    ("veto_share_above_1", set_("doctor.dominant_veto_share", 2), "doctor.dominant_veto_share"),
    # unknown enum values and patterns
    ("exchange_unknown", set_("exchange.name", "kraken"), "exchange.name"),
    ("timeframe_unknown", set_("data.timeframe", "2m"), "data.timeframe"),
    ("symbol_with_space", set_("universe.0.symbol", "BTC USDT"), "universe.0.symbol"),
    ("strategy_name_shell", set_("strategy.name", "rm -rf /"), "strategy.name"),
    # inconsistent limits (cross-field validators)
    ("fast_not_below_slow", set_("strategy.fast", 60), "fast (60) must be < slow"),
    ("drawdowns_out_of_order", set_("risk.dd_warn_pct", 0.1), "dd_warn_pct <= dd_circuit_pct"),
    ("min_returns_above_lookback", set_("risk.min_returns", 900), "min_returns (900)"),
    ("duplicate_symbol", set_("universe.1.symbol", "BTCUSDT"), "duplicate symbol 'BTCUSDT'"),
    # strict types and finite numbers (pydantic strict mode, allow_inf_nan=False)
    ("per_trade_infinite", set_("risk.per_trade_nav_pct", float("inf")), "risk.per_trade_nav_pct"),
    ("cooldown_infinite", set_("risk.cooldown_seconds_after_sl", float("inf")),
     "risk.cooldown_seconds_after_sl"),
    ("max_concurrent_true", set_("risk.max_concurrent", True), "risk.max_concurrent"),
    ("halted_string_yes", set_("risk.trading_halted", "yes"), "risk.trading_halted"),
    ("start_not_a_date", set_("data.synthetic.start", "yesterday"), "data.synthetic"),
    # missing blocks
    ("universe_missing", drop("universe"), "universe: required key missing"),
    ("universe_empty", set_("universe", []), "universe"),
    ("symbol_missing", drop("universe.0.symbol"), "universe.0.symbol: required key missing"),
    ("two_things_wrong", both(set_("risk.max_concurrent", 0), set_("exchange.name", "x")),
     "[+1 more]"),
]  # fmt: skip


GOOD_TEXT = BASE_CONFIG.read_text()
RAW: list[tuple[str, str | bytes | None, str]] = [
    ("line_comment", GOOD_TEXT.replace('"risk": {', '// limits\n  "risk": {', 1),
     "comments are not allowed"),
    ("block_comment", GOOD_TEXT.replace('"risk": {', '/* limits */ "risk": {', 1),
     "comments are not allowed"),
    ("trailing_comma", GOOD_TEXT.replace('"max_retries": 3', '"max_retries": 3,', 1),
     "not valid JSON at line"),
    ("truncated", GOOD_TEXT[: len(GOOD_TEXT) // 2], "not valid JSON at line"),
    ("empty_file", "", "config file is empty"),
    ("whitespace_only", "  \n\t\n", "config file is empty"),
    ("yaml_not_json", "universe:\n  - symbol: BTCUSDT\n", "not valid JSON at line 1"),
    ("top_level_list", "[1, 2, 3]", "<root>: must be a JSON object (got list)"),
    ("top_level_string", '"config"', "<root>: must be a JSON object (got str)"),
    ("not_utf8", b"\xff\xfe\x00garbage\x81", "cannot read config"),
    ("missing_file", None, "config file not found"),
]  # fmt: skip


def _write_case(tmp: Path, case: str, edit: Edit | None, raw: str | bytes | None) -> Path:
    path = tmp / f"{case}.json"
    if edit is not None:
        cfg = copy.deepcopy(json.loads(GOOD_TEXT))
        edit(cfg)
        path.write_text(json.dumps(cfg, indent=1))
    elif isinstance(raw, bytes):
        path.write_bytes(raw)
    elif raw is not None:
        path.write_text(raw)
    return path


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real state dir (a short run), plus a HALT file and a file the engine does not know."""
    state = finished_state_dir(tmp_path_factory.mktemp("populated"))
    (state / "HALT").write_text("operator stop\n")
    (state / "notes.txt").write_text("keep me\n")
    return state


def _fingerprint(d: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(d)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


def _assert_refused(
    cfg: Path,
    expect: str,
    populated: Path,
    tmp: Path,
    capsys: pytest.CaptureFixture[str],
    names_file: bool = False,
) -> None:
    before = _fingerprint(populated)
    for state_dir in (populated, tmp / "never-created"):
        code = v7_main(["run", "--fast", "--max-bars", "100", "--config", str(cfg),
                        "--state-dir", str(state_dir), "--no-progress"])  # fmt: skip
        out, err = capsys.readouterr()
        lines = err.strip().splitlines()
        assert code == 2, (code, err)
        assert out == "" and len(lines) == 1, err
        assert expect in lines[0], lines[0]
        assert lines[0].startswith("config error: ")
        assert not names_file or str(cfg) in lines[0], lines[0]
    assert _fingerprint(populated) == before, "a refused config changed the state dir"
    assert not (tmp / "never-created").exists()


@pytest.mark.parametrize(("case", "edit", "expect"), EDITED, ids=[c[0] for c in EDITED])
def test_malformed_config_is_exit_2_naming_the_key_and_touches_nothing(
    case: str,
    edit: Edit,
    expect: str,
    populated: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _assert_refused(_write_case(tmp_path, case, edit, None), expect, populated, tmp_path, capsys)
    FIGURES["inputs.configs"] += 1


@pytest.mark.parametrize(("case", "raw", "expect"), RAW, ids=[c[0] for c in RAW])
def test_config_that_is_not_valid_json_is_exit_2_and_touches_nothing(
    case: str,
    raw: str | bytes | None,
    expect: str,
    populated: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = _write_case(tmp_path, case, None, raw)
    # Syntax and file problems name the file; a wrong document names its root.
    names_file = not expect.startswith("<root>")
    _assert_refused(cfg, expect, populated, tmp_path, capsys, names_file)
    FIGURES["inputs.configs"] += 1


@pytest.mark.parametrize("case", ["typo_in_risk_key", "line_comment", "top_level_list"])
def test_the_installed_command_exits_2_with_one_line(
    case: str, populated: Path, tmp_path: Path
) -> None:
    edits = {c: e for c, e, _ in EDITED}
    raws = {c: r for c, r, _ in RAW}
    cfg = _write_case(tmp_path, case, edits.get(case), raws.get(case))
    before = _fingerprint(populated)
    out = run_v7(["run", "--fast", "--max-bars", "100", "--config", str(cfg),
                  "--state-dir", str(populated)])  # fmt: skip
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert _fingerprint(populated) == before
    FIGURES["inputs.configs_via_subprocess"] += 1
