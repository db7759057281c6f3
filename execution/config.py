"""Typed, frozen configuration loaded from config/strategy_config.json (pydantic, extra="forbid").

A bad key or value raises ConfigError with one line naming the key path; the CLI turns it into
exit code 2 before anything is written to the state directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_CONFIG_PATH = Path("config/strategy_config.json")


class ConfigError(Exception):
    """A configuration problem; the message is one line that names the key."""


class _Frozen(BaseModel):
    # strict: no "yes" for a bool, no true for an int; no inf/NaN anywhere
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class SymbolSpec(_Frozen):
    symbol: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_./:-]+$")
    tier: str = "core"
    base_price: float = Field(default=100.0, gt=0)  # synthetic generator start price
    qty_step: float | None = Field(default=None, gt=0)
    min_notional: float | None = Field(default=None, ge=0)
    price_tick: float | None = Field(default=None, gt=0)
    # Manage this symbol's open position to its exit but open nothing new. The engine sets it
    # for a symbol that left the universe while it still held a position.
    exit_only: bool = False


class StrategyConfig(_Frozen):
    # "ema_cross_atr" / "sma_cross_pct" (built in) or a plug-in "package.module:Class"
    # (see docs/configuration.md)
    name: str = Field(
        default="ema_cross_atr",
        pattern=r"^(ema_cross_atr|sma_cross_pct|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$",
    )
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

    @model_validator(mode="after")
    def fast_below_slow(self) -> StrategyConfig:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be < slow ({self.slow})")
        return self


class RiskConfig(_Frozen):
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


class ExchangeConfig(_Frozen):
    name: Literal["paper", "binanceusdm"] = "paper"
    starting_balance: float = Field(default=10_000.0, gt=0)
    taker_fee_bps: float = Field(default=4.0, ge=0, le=100)
    slippage_bps: float = Field(default=1.0, ge=0, le=500)
    default_qty_step: float = Field(default=0.001, gt=0)
    default_min_notional: float = Field(default=5.0, ge=0)
    default_price_tick: float = Field(default=0.01, gt=0)
    api_key_env: str = "V7_API_KEY"
    api_secret_env: str = "V7_API_SECRET"
    reconcile_every_loops: int = Field(default=20, ge=1)
    max_retries: int = Field(default=3, ge=0, le=10)


class SyntheticConfig(_Frozen):
    seed: int = 7
    start: str = "2024-01-01T00:00:00Z"
    correlation: float = Field(default=0.6, ge=-0.99, le=0.99)
    base_vol: float = Field(default=0.0015, gt=0, lt=0.5)  # per-bar return stdev, calm regime
    jump_prob: float = Field(default=0.002, ge=0, le=0.5)

    @model_validator(mode="after")
    def start_is_a_time(self) -> SyntheticConfig:
        from execution.clock import from_iso

        if from_iso(self.start) is None:
            raise ValueError(f"start: not an ISO-8601 time ({self.start!r})")
        return self


class DataConfig(_Frozen):
    timeframe: Literal["1m", "3m", "5m", "15m", "30m", "1h"] = "1m"
    pace_seconds: float = Field(default=1.0, ge=0)  # realtime mode: wall seconds per bar step
    synthetic: SyntheticConfig = SyntheticConfig()


class PublishConfig(_Frozen):
    min_interval_seconds: float = Field(default=1.0, ge=0)  # wall-clock throttle
    replay_every_bars: int = Field(default=1_000_000, ge=1)


class VetoMetricsConfig(_Frozen):
    window_signals: int = Field(default=500, ge=1, le=1_000_000)
    window_seconds: float = Field(default=3600.0, gt=0)
    heatmap_bucket_seconds: float = Field(default=300.0, gt=0)
    heatmap_max_buckets: int = Field(default=288, ge=1, le=10_000)


class ExitPipelineConfig(_Frozen):
    tp_sl_canary_enabled: bool = True
    tp_sl_underwater_threshold_pct: float = Field(default=-0.02, le=0, ge=-1)
    exit_scan_stale_seconds: float = Field(default=300.0, gt=0)


class DiagnosticsConfig(_Frozen):
    enabled: bool = True
    veto_metrics: VetoMetricsConfig = VetoMetricsConfig()
    exit_pipeline: ExitPipelineConfig = ExitPipelineConfig()


class MetricsConfig(_Frozen):
    symbol_labels: bool = False


class DashboardConfig(_Frozen):
    refresh_seconds: float = Field(default=3.0, ge=0)


class DoctorConfig(_Frozen):
    no_signal_seconds: float = Field(default=3600.0, gt=0)
    no_order_seconds: float = Field(default=6 * 3600.0, gt=0)
    dominant_veto_share: float = Field(default=0.8, gt=0, le=1)
    default_tp_pct: float = Field(default=0.03, gt=0, lt=1)
    default_sl_pct: float = Field(default=0.02, gt=0, lt=1)


class EngineConfig(_Frozen):
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

    @model_validator(mode="after")
    def symbols_unique(self) -> EngineConfig:
        seen: set[str] = set()
        for spec in self.universe:
            if spec.symbol in seen:
                raise ValueError(f"universe: duplicate symbol {spec.symbol!r}")
            seen.add(spec.symbol)
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
    msg = first.get("msg", "invalid")
    if first.get("type") == "extra_forbidden":
        msg = "unknown key"
    elif first.get("type") == "missing":
        msg = "required key missing"
    value = first.get("input")
    shown = (
        ""
        if first.get("type") in ("missing", "extra_forbidden") or isinstance(value, dict)
        else f" (got {json.dumps(value) if _jsonable(value) else repr(value)})"
    )
    more = len(err.errors()) - 1
    tail = f" [+{more} more]" if more > 0 else ""
    return f"{path}: {msg}{shown}{tail}"


def _jsonable(v: object) -> bool:
    try:
        json.dumps(v)
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


def load_config(path: str | Path = DEFAULT_CONFIG_PATH) -> EngineConfig:
    """Read, decode and validate the config file; raise ConfigError with one clear line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{p}: cannot read config ({err})") from None
    if not text.strip():
        raise ConfigError(f"{p}: config file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"{p}: not valid JSON at line {err.lineno} column {err.colno}: {err.msg}"
            " (comments are not allowed in JSON)"
            if "//" in text or "/*" in text
            else f"{p}: not valid JSON at line {err.lineno} column {err.colno}: {err.msg}"
        ) from None
    return parse_config(data)
