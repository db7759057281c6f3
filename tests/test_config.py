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


def _error(data: dict) -> str:
    from execution.config import parse_config

    with pytest.raises(ConfigError) as err:
        parse_config(data)
    return str(err.value)


@pytest.mark.parametrize(
    ("path", "typo", "meant"),
    [
        (("risk",), "max_concurent", "max_concurrent"),
        (("universe", 0), "teir", "tier"),
        (("diagnostics", "veto_metrics"), "window_signal", "window_signals"),
        ((), "stat_dir", "state_dir"),
    ],
)
def test_an_unknown_key_suggests_the_closest_known_one(
    path: tuple[object, ...], typo: str, meant: str
) -> None:
    data = _default()
    node: object = data
    for part in path:
        node = node[part]  # type: ignore[index]
    node[typo] = 1  # type: ignore[index]
    assert f"unknown key (did you mean {meant!r}?)" in _error(data)


def test_a_far_off_unknown_key_gets_no_suggestion() -> None:
    data = _default()
    data["risk"]["zzzzqqq"] = 1
    assert _error(data).startswith("risk.zzzzqqq: unknown key")
    assert "did you mean" not in _error(data)


def test_a_misspelt_strategy_name_suggests_the_built_in_and_shows_no_pattern() -> None:
    data = _default()
    data["strategy"]["name"] = "ema_cros_atr"
    msg = _error(data)
    assert msg.startswith("strategy.name: unknown strategy (did you mean 'ema_cross_atr'?)")
    assert "pattern" not in msg and "^(" not in msg


def test_api_key_env_takes_a_variable_name_and_never_echoes_what_was_pasted() -> None:
    data = _default()
    data["exchange"]["api_secret_env"] = "s3cr3t-Pasted/Value+xyz"
    msg = _error(data)
    assert msg.startswith("exchange.api_secret_env: must be the NAME of an environment variable")
    assert "s3cr3t" not in msg


@pytest.mark.parametrize("start", ["9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z", "1969-12-31"])
def test_a_synthetic_start_outside_1970_to_2200_is_refused(start: str) -> None:
    data = _default()
    data["data"]["synthetic"]["start"] = start
    assert "between 1970 and 2200" in _error(data)


def test_a_starting_balance_beyond_1e12_is_refused() -> None:
    data = _default()
    data["exchange"]["starting_balance"] = 1e308
    assert _error(data).startswith("exchange.starting_balance: Input should be less than")


def test_return_windows_the_memory_could_not_read_back_are_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _default()
    spec = data["universe"][0]
    data["universe"] = [dict(spec, symbol=f"S{i}USDT") for i in range(21)]
    data["risk"]["lookback_bars"] = 100_000  # 2.1M returns: ~46 MB of book memory, past the bound
    state = tmp_path / "state"
    code = main(["run", "--fast", "--config", str(_write(tmp_path, data)), "--state-dir",
                 str(state), "--no-progress"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "risk.lookback_bars" in err and "2,100,000 returns" in err, err
    assert not state.exists()
    data["universe"] = data["universe"][:20]  # 2.0M: the most the memory holds
    load_config(_write(tmp_path, data))
