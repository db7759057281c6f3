"""Typed, frozen configuration loaded from config/strategy_config.json (pydantic, extra="forbid").

A bad key or value raises ConfigError with one line naming the key path; the CLI turns it into
exit code 2 before anything is written to the state directory.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from execution.clock import from_iso

DEFAULT_CONFIG_PATH = Path("config/strategy_config.json")
# Used when no --config is given and ./config/strategy_config.json does not exist (an installed
# v7 started outside a checkout); `v7 init` writes an editable copy of it.
PACKAGED_CONFIG = "<packaged default config>"


def default_config_text() -> str:
    """Return the text of the default config shipped inside the package."""
    return resources.files("execution.defaults").joinpath("strategy_config.json").read_text("utf-8")


def default_config_source() -> str:
    """Where `load_config()` without a path reads: ./config/strategy_config.json, else the
    packaged default."""
    return str(DEFAULT_CONFIG_PATH) if DEFAULT_CONFIG_PATH.is_file() else PACKAGED_CONFIG


class ConfigError(Exception):
    """A configuration problem; the message is one line that names the key."""


class _FrozenModel(BaseModel):
    # strict: no "yes" for a bool, no true for an int; no inf/NaN anywhere
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class SymbolSpec(_FrozenModel):
    symbol: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_./:-]+$")
    tier: str = "core"
    base_price: float = Field(default=100.0, gt=0)  # synthetic generator start price
    qty_step: float | None = Field(default=None, gt=0)
    min_notional: float | None = Field(default=None, ge=0)
    price_tick: float | None = Field(default=None, gt=0)
    # Manage this symbol's open position to its exit but open nothing new. The engine sets it
    # for a symbol that left the universe while it still held a position.
    exit_only: bool = False
    leverage: float | None = Field(default=None, gt=0, le=125)  # None: perps.leverage


# The strategies execution.signal_screener builds by name (a test keeps the two in step).
BUILT_IN_STRATEGIES = ("ema_cross_atr", "sma_cross_pct")
_PLUGIN_NAME = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def suggest(word: str, choices: Iterable[str]) -> str:
    """Return " (did you mean 'x'?)" for the closest choice (difflib), or "" if none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class StrategyConfig(_FrozenModel):
    # "ema_cross_atr" / "sma_cross_pct" (built in) or a plug-in "package.module:Class"
    # (see docs/configuration.md)
    name: str = "ema_cross_atr"
    fast: int = Field(default=12, ge=1)
    slow: int = Field(default=48, ge=2)
    atr_period: int = Field(default=14, ge=1)
    tp_atr: float = Field(default=3.0, gt=0)
    sl_atr: float = Field(default=2.0, gt=0)
    # sma_cross_pct: TP/SL distances as a fraction of the signal bar's close
    tp_pct: float = Field(default=0.01, gt=0, lt=1)
    sl_pct: float = Field(default=0.005, gt=0, lt=1)
    notional_nav_pct: float = Field(default=0.05, gt=0, le=10)
    # When set, size by risk instead: notional = nav * risk / (stop distance as a fraction)
    risk_per_trade_nav_pct: float | None = Field(default=None, gt=0, le=0.5)
    reverse_on_opposite: bool = True
    params: dict[str, float] = Field(default_factory=dict)  # free parameters for plug-ins

    @field_validator("name")
    @classmethod
    def name_is_known(cls, name: str) -> str:
        if name in BUILT_IN_STRATEGIES or _PLUGIN_NAME.match(name):
            return name
        hint = suggest(name, BUILT_IN_STRATEGIES)
        raise ValueError(
            f"unknown strategy{hint}; built in: {', '.join(BUILT_IN_STRATEGIES)}, "
            "or a plug-in as 'package.module:Class' (docs/strategies.md)"
        )

    @model_validator(mode="after")
    def fast_below_slow(self) -> StrategyConfig:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be < slow ({self.slow})")
        return self


class RiskConfig(_FrozenModel):
    blocked_tiers: tuple[str, ...] = ("blocked",)
    trading_halted: bool = False
    min_notional: float = Field(default=5.0, ge=0)
    per_trade_nav_pct: float = Field(default=0.10, gt=0)
    max_concurrent: int = Field(default=5, ge=1)
    symbol_cap_nav_pct: float = Field(default=0.25, gt=0)
    dd_warn_pct: float = Field(default=0.05, gt=0, lt=1)
    dd_circuit_pct: float = Field(default=0.08, gt=0, lt=1)
    dd_panic_pct: float = Field(default=0.15, gt=0, lt=1)
    var_confidence: float = Field(default=0.95, gt=0.5, lt=1)
    var_limit_nav_pct: float = Field(default=0.03, gt=0)
    cvar_limit_nav_pct: float = Field(default=0.045, gt=0)
    # VaR's history window per symbol; the bound keeps a typo from asking for gigabytes.
    lookback_bars: int = Field(default=500, ge=10, le=100_000)
    min_returns: int = Field(default=50, ge=2)
    stale_mark_seconds: float = Field(default=300.0, gt=0)
    cooldown_seconds_after_sl: float = Field(default=900.0, ge=0)

    @model_validator(mode="after")
    def drawdown_thresholds_ordered(self) -> RiskConfig:
        if not self.dd_warn_pct <= self.dd_circuit_pct <= self.dd_panic_pct:
            raise ValueError(
                "dd_warn_pct <= dd_circuit_pct <= dd_panic_pct must hold "
                f"(got {self.dd_warn_pct}, {self.dd_circuit_pct}, {self.dd_panic_pct})"
            )
        return self

    @model_validator(mode="after")
    def min_returns_within_lookback(self) -> RiskConfig:
        if self.min_returns > self.lookback_bars:
            raise ValueError(
                f"min_returns ({self.min_returns}) must be <= lookback_bars ({self.lookback_bars})"
            )
        return self


_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")


class ExchangeConfig(_FrozenModel):
    name: Literal["paper", "binanceusdm"] = "paper"
    # Bounded so NAV, PnL and sizing stay far from float overflow (1e308 is not a balance).
    starting_balance: float = Field(default=10_000.0, gt=0, le=1e12)
    taker_fee_bps: float = Field(default=4.0, ge=0, le=100)
    slippage_bps: float = Field(default=1.0, ge=0, le=500)
    default_qty_step: float = Field(default=0.001, gt=0)
    default_min_notional: float = Field(default=5.0, ge=0)
    default_price_tick: float = Field(default=0.01, gt=0)
    # The NAMES of the environment variables holding the keys, never the keys themselves.
    api_key_env: str = "V7_API_KEY"
    api_secret_env: str = "V7_API_SECRET"
    reconcile_every_loops: int = Field(default=20, ge=1)
    max_retries: int = Field(default=3, ge=0, le=10)

    @field_validator("api_key_env", "api_secret_env")
    @classmethod
    def an_environment_variable_name(cls, name: str) -> str:
        # The message never repeats the value: it may be a key pasted in the wrong place.
        if not _ENV_NAME.match(name):
            raise ValueError(
                "must be the NAME of an environment variable (A-Z, 0-9, _; e.g. V7_API_KEY), "
                "not the key itself (value not shown)"
            )
        return name


_LATEST_START = 7_258_118_400.0  # 2200-01-01T00:00:00Z


class SyntheticConfig(_FrozenModel):
    seed: int = 7
    start: str = "2024-01-01T00:00:00Z"
    correlation: float = Field(default=0.6, ge=-0.99, le=0.99)
    base_vol: float = Field(default=0.0015, gt=0, lt=0.5)  # per-bar return stdev, calm regime
    jump_prob: float = Field(default=0.002, ge=0, le=0.5)
    # A funding series (00/08/16 UTC) and a mark near last; off keeps replays of old configs
    # identical (funding moves NAV, and NAV sizes the orders).
    funding: bool = False

    @model_validator(mode="after")
    def start_is_a_time(self) -> SyntheticConfig:
        try:
            ts = from_iso(self.start)
        except (ValueError, OverflowError):
            ts = None
        if ts is None:
            raise ValueError(f"start: not an ISO-8601 time ({self.start!r})")
        # Bars are stamped start + i x timeframe: a start near year 9999 would end a run mid-way.
        if not 0 <= ts < _LATEST_START:
            raise ValueError(f"start: must be between 1970 and 2200 (got {self.start!r})")
        return self


class DataConfig(_FrozenModel):
    timeframe: Literal["1m", "3m", "5m", "15m", "30m", "1h"] = "1m"
    pace_seconds: float = Field(default=1.0, ge=0)  # realtime mode: wall seconds per bar step
    synthetic: SyntheticConfig = SyntheticConfig()


class PublishConfig(_FrozenModel):
    min_interval_seconds: float = Field(default=1.0, ge=0)  # wall-clock throttle
    replay_every_bars: int = Field(default=1_000_000, ge=1)


class VetoMetricsConfig(_FrozenModel):
    window_signals: int = Field(default=500, ge=1, le=1_000_000)
    window_seconds: float = Field(default=3600.0, gt=0)
    heatmap_bucket_seconds: float = Field(default=300.0, gt=0)
    heatmap_max_buckets: int = Field(default=288, ge=1, le=10_000)


class ExitPipelineConfig(_FrozenModel):
    tp_sl_canary_enabled: bool = True
    tp_sl_underwater_threshold_pct: float = Field(default=-0.02, le=0, ge=-1)
    exit_scan_stale_seconds: float = Field(default=300.0, gt=0)


class DiagnosticsConfig(_FrozenModel):
    enabled: bool = True
    veto_metrics: VetoMetricsConfig = VetoMetricsConfig()
    exit_pipeline: ExitPipelineConfig = ExitPipelineConfig()


class MetricsConfig(_FrozenModel):
    symbol_labels: bool = False


class DashboardConfig(_FrozenModel):
    refresh_seconds: float = Field(default=3.0, ge=0)


class DoctorConfig(_FrozenModel):
    no_signal_seconds: float = Field(default=3600.0, gt=0)
    no_order_seconds: float = Field(default=6 * 3600.0, gt=0)
    dominant_veto_share: float = Field(default=0.8, gt=0, le=1)
    default_tp_pct: float = Field(default=0.03, gt=0, lt=1)
    default_sl_pct: float = Field(default=0.02, gt=0, lt=1)


class PerpsConfig(_FrozenModel):
    """Perpetual futures: leverage, margin, liquidation and funding (docs/perpetuals.md)."""

    leverage: float = Field(default=10.0, gt=0, le=125)  # capped by the symbol's bracket
    margin_mode: Literal["isolated", "cross"] = "isolated"
    liquidation: bool = True  # the paper venue liquidates when the mark crosses the price
    liquidation_fee_bps: float = Field(default=50.0, ge=0, le=500)
    # Settle on the 00/08/16 UTC schedule at this rate when the data has no funding series.
    default_funding_rate: float | None = Field(default=None, ge=-0.05, le=0.05)
    set_on_start: bool = True  # live: set leverage and margin mode on the exchange at start


# The returns the book may keep over the whole universe (lookback_bars x symbols): ~40 MB of JSON
# in the book's memory component, under the 64 MiB a component is read back to.
MAX_RETURNS_KEPT = 2_000_000


class EngineConfig(_FrozenModel):
    schema_version: int = 1
    universe: tuple[SymbolSpec, ...] = Field(min_length=1)
    strategy: StrategyConfig = StrategyConfig()
    risk: RiskConfig = RiskConfig()
    exchange: ExchangeConfig = ExchangeConfig()
    data: DataConfig = DataConfig()
    state_dir: str = "logs/state"
    publish: PublishConfig = PublishConfig()
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics: MetricsConfig = MetricsConfig()
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()
    dashboard: DashboardConfig = DashboardConfig()
    doctor: DoctorConfig = DoctorConfig()
    perps: PerpsConfig = PerpsConfig()

    @model_validator(mode="after")
    def symbols_unique(self) -> EngineConfig:
        seen: set[str] = set()
        for spec in self.universe:
            if spec.symbol in seen:
                raise ValueError(f"universe: duplicate symbol {spec.symbol!r}")
            seen.add(spec.symbol)
        return self

    @model_validator(mode="after")
    def return_windows_fit_the_memory(self) -> EngineConfig:
        """The book keeps ``risk.lookback_bars`` returns per symbol in the engine's memory; a
        component is read back only up to 64 MiB (store/memory.py), ~20 bytes a return as JSON:
        a config past that would write a memory its own restart refuses."""
        kept = self.risk.lookback_bars * len(self.universe)
        if kept > MAX_RETURNS_KEPT:
            raise ValueError(
                f"risk.lookback_bars: {self.risk.lookback_bars} bars x {len(self.universe)} "
                f"symbols = {kept:,} returns kept, more than the memory holds "
                f"({MAX_RETURNS_KEPT:,}); lower risk.lookback_bars or the universe"
            )
        return self

    @property
    def symbols(self) -> list[str]:
        return [s.symbol for s in self.universe]

    def tier_of(self, symbol: str) -> str:
        for s in self.universe:
            if s.symbol == symbol:
                return s.tier
        return "unknown"


def _format_validation_error(err: ValidationError) -> str:
    first = err.errors()[0]
    path = ".".join(str(p) for p in first.get("loc", ())) or "<root>"
    msg = first.get("msg", "invalid").removeprefix("Value error, ")
    loc = tuple(first.get("loc", ()))
    if first.get("type") == "extra_forbidden":
        msg = "unknown key" + suggest(str(loc[-1]), _keys_at(loc[:-1]))
    elif first.get("type") == "missing":
        msg = "required key missing"
    value = first.get("input")
    shown = (
        ""
        if first.get("type") in ("missing", "extra_forbidden")
        or isinstance(value, dict)
        or str(loc[-1] if loc else "").endswith("_env")  # maybe a secret: never echoed
        else f" (got {json.dumps(value) if _jsonable(value) else repr(value)})"
    )
    more = len(err.errors()) - 1
    tail = f" [+{more} more]" if more > 0 else ""
    return f"{path}: {msg}{shown}{tail}"


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys the config accepts at ``loc`` (list indices skipped), for "did you mean"."""
    model: Any = EngineConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        model = field.annotation
        if getattr(model, "__origin__", None) is tuple:  # universe: tuple[SymbolSpec, ...]
            model = model.__args__[0]
    return list(model.model_fields) if hasattr(model, "model_fields") else []


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def parse_config(data: object) -> EngineConfig:
    """Validate a decoded JSON document; raise ConfigError naming the key on failure."""
    if not isinstance(data, dict):
        raise ConfigError(f"<root>: must be a JSON object (got {type(data).__name__})")
    try:
        # Through JSON so strict mode reads arrays as tuples, exactly as the file says them.
        return EngineConfig.model_validate_json(json.dumps(data))
    except ValueError as err:
        if not isinstance(err, ValidationError):
            raise ConfigError(f"<root>: {err}") from None
        raise ConfigError(_format_validation_error(err)) from None


def load_config(path: str | Path | None = None) -> EngineConfig:
    """Read, decode and validate the config file; raise ConfigError with one clear line.

    Without a path: ./config/strategy_config.json when it exists, else the packaged default.
    """
    if path is None and default_config_source() == PACKAGED_CONFIG:
        return parse_config_text(default_config_text(), PACKAGED_CONFIG)
    file = Path(path if path is not None else DEFAULT_CONFIG_PATH)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{file}: cannot read config ({err})") from None
    return parse_config_text(text, str(file))


def parse_config_text(text: str, source: str) -> EngineConfig:
    """Decode and validate the text read from ``source``; raise ConfigError naming the key."""
    if not text.strip():
        raise ConfigError(f"{source}: config file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        message = f"{source}: not valid JSON at line {err.lineno} column {err.colno}: {err.msg}"
        if "//" in text or "/*" in text:  # the usual cause of a JSON error in a hand-edited file
            message += " (comments are not allowed in JSON)"
        raise ConfigError(message) from None
    return parse_config(data)
