"""Config: typed, frozen, extra="forbid"; a bad key or value is one line naming it, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from execution.cli import main
from execution.config import ConfigError, load_config

DEFAULT = Path("config/strategy_config.json")


def _write(tmp_path: Path, data: object) -> Path:
    p = tmp_path / "cfg.json"
    p.write_text(json.dumps(data))
    return p


def _default() -> dict:
    return json.loads(DEFAULT.read_text())


def test_default_config_loads_with_the_spec_diagnostics_block() -> None:
    cfg = load_config(DEFAULT)
    raw = _default()["diagnostics"]
    assert set(raw) >= {"enabled", "veto_metrics", "exit_pipeline"}
    assert set(raw["veto_metrics"]) >= {"window_signals", "window_seconds"}
    assert set(raw["exit_pipeline"]) >= {
        "tp_sl_canary_enabled",
        "tp_sl_underwater_threshold_pct",
    }
    assert cfg.diagnostics.veto_metrics.window_signals == 500
    assert cfg.diagnostics.exit_pipeline.tp_sl_underwater_threshold_pct == -0.02


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda c: c["risk"].update(max_concurrent=-1), "risk.max_concurrent"),
        (lambda c: c["risk"].update(max_concurent=3), "risk.max_concurent"),
        (lambda c: c["diagnostics"]["veto_metrics"].update(window_signals="many"),
         "diagnostics.veto_metrics.window_signals"),
        (lambda c: c["strategy"].update(fast=50, slow=10), "strategy"),
        (lambda c: c["universe"][0].pop("symbol"), "universe.0.symbol"),
        (lambda c: c["risk"].update(dd_warn_pct=0.5, dd_panic_pct=0.1), "risk"),
        (lambda c: c.update(metrics_port=70000), "metrics_port"),
    ],
)  # fmt: skip
def test_a_bad_key_or_value_is_named(tmp_path: Path, mutate, key: str) -> None:
    data = _default()
    mutate(data)
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, data))
    assert str(err.value).startswith(key)
    assert "\n" not in str(err.value)


def test_json_with_comments_is_refused_with_a_hint(tmp_path: Path) -> None:
    p = tmp_path / "c.json"
    p.write_text('{"universe": [] // a comment\n}')
    with pytest.raises(ConfigError, match="comments are not allowed"):
        load_config(p)


def test_bad_config_exits_2_and_writes_nothing(tmp_path: Path, capsys) -> None:
    data = _default()
    data["risk"]["symbol_cap_nav_pct"] = -0.5
    cfg = _write(tmp_path, data)
    state = tmp_path / "state"
    code = main(
        ["run", "--fast", "--max-bars", "100", "--config", str(cfg), "--state-dir", str(state)]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "risk.symbol_cap_nav_pct" in err[0]
    assert not state.exists()


def _field_paths(model: type, prefix: str = "") -> list[str]:
    from pydantic import BaseModel

    paths = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        inner = getattr(ann, "__args__", (ann,))
        sub = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if sub is not None and name != "universe":
            paths += _field_paths(sub, f"{prefix}{name}.")
        else:
            paths.append(f"{prefix}{name}")
    return paths


def test_every_config_key_is_documented() -> None:
    from execution.config import EngineConfig, SymbolSpec

    doc = Path("docs/configuration.md").read_text()
    missing = []
    for path in _field_paths(EngineConfig) + _field_paths(SymbolSpec):
        leaf = path.split(".")[-1]
        section_relative = path.split(".", 1)[-1]
        if f"`{leaf}`" not in doc and f"`{section_relative}`" not in doc and leaf not in doc:
            missing.append(path)
    assert not missing
