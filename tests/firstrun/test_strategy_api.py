"""Strategy API v1: the bar context a strategy sees, the checks on what it returns, the test
kit, and the documented example."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from execution.config import BUILT_IN_STRATEGIES, StrategyConfig
from execution.signal_screener import _BUILT_IN, SignalScreener, build_strategy
from execution.strategy import BarContext, Side, Signal, SignalError
from execution.strategy.per_symbol import SymbolStrategies
from execution.strategy.testing import StrategyHarness, run_strategy
from tests.firstrun.cli_helpers import REPO

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


class Recorder:
    """Records what it sees; returns the signal the test put in ``reply``."""

    name = "recorder"
    reply: Any = None

    def __init__(self, cfg: StrategyConfig) -> None:
        self.seen: list[tuple[Any, ...]] = []

    def on_bar(self, bar: BarContext) -> Any:
        self.seen.append((bar.symbol, bar.time, bar.open, bar.high, bar.low, bar.close,
                          bar.volume, bar.position.side, bar.position.qty, bar.account.nav,
                          bar.account.open_positions))  # fmt: skip
        return Recorder.reply

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        pass


class _Held:
    side, qty, entry_price = Side.SHORT, 2.0, 101.0


def _screener() -> tuple[SignalScreener, SymbolStrategies]:
    strategies = SymbolStrategies(Recorder, StrategyConfig(), len(SYMBOLS))
    held = {"ETHUSDT": _Held()}
    screener = SignalScreener(strategies, SYMBOLS, 0.05, lambda: 12_345.0,
                              position_of=held.get, open_count=lambda: len(held))  # fmt: skip
    return screener, strategies


def test_the_bar_context_has_symbol_time_ohlcv_and_read_only_views() -> None:
    Recorder.reply = None
    screener, strategies = _screener()
    screener.on_bars([(0, 60.0, 1.0, 2.0, 0.5, 1.5, 7.0), (1, 60.0, 10.0, 11.0, 9.0, 10.5, 3.0)])
    btc, eth = (s.seen for s in strategies.instances)
    assert btc == [("BTCUSDT", 60.0, 1.0, 2.0, 0.5, 1.5, 7.0, None, 0.0, 12_345.0, 1)]
    assert eth == [("ETHUSDT", 60.0, 10.0, 11.0, 9.0, 10.5, 3.0, Side.SHORT, 2.0, 12_345.0, 1)]
    with pytest.raises(AttributeError):
        strategies.contexts[1].position.side = Side.LONG  # type: ignore[misc]


@pytest.mark.parametrize("side", ["long", "LONG", Side.LONG])
def test_side_may_be_the_enum_or_its_name(side: Any) -> None:
    Recorder.reply = Signal(side, 110.0, 95.0)
    screener, _ = _screener()
    (intent,) = screener.on_bars([(0, 60.0, 100.0, 101.0, 99.0, 100.0, 1.0)])
    assert intent.side is Side.LONG and (intent.tp, intent.sl) == (110.0, 95.0)
    assert intent.strategy == "recorder"


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (Signal("up", 110.0, 95.0), "side 'up'"),
        (Signal("long", math.nan, 95.0), "tp must be a finite price"),
        (Signal("long", 110.0, math.inf), "sl must be a finite price"),
        (Signal("long", 95.0, 110.0), "a long needs sl < close < tp"),
        (Signal("short", 110.0, 95.0), "a short needs tp < close < sl"),
        ((Side.LONG, 110.0, 95.0), "returned tuple"),
    ],
)
def test_a_bad_signal_is_an_error_naming_the_strategy_and_symbol(reply: Any, says: str) -> None:
    Recorder.reply = reply
    screener, _ = _screener()
    with pytest.raises(SignalError, match="strategy 'recorder' on BTCUSDT") as err:
        screener.on_bars([(0, 60.0, 100.0, 101.0, 99.0, 100.0, 1.0)])
    assert says in str(err.value)


def test_the_built_in_names_are_the_ones_the_config_accepts() -> None:
    assert set(_BUILT_IN) == set(BUILT_IN_STRATEGIES)
    for name in BUILT_IN_STRATEGIES:
        built = build_strategy(StrategyConfig(name=name), 2)
        assert isinstance(built, SymbolStrategies) and built.name == name


def test_a_plugin_class_without_on_bar_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="no on_bar"):
        build_strategy(StrategyConfig(name="execution.types:Intent"), 1)


def _donchian() -> Any:
    sys.path.insert(0, str(REPO / "examples"))
    try:
        from donchian_breakout import DonchianBreakout
    finally:
        sys.path.remove(str(REPO / "examples"))
    return DonchianBreakout(StrategyConfig(params={"channel": 3, "tp_width": 1.0, "sl_width": 0.5}))


def test_the_harness_shows_the_donchian_breakout_on_the_bar_after_the_channel() -> None:
    flat = [(60.0 * i, 100.0, 101.0, 99.0, 100.0, 1.0) for i in range(3)]
    breakout = (180.0, 100.0, 104.0, 100.0, 103.0, 1.0)  # closes above the 101 channel top
    (emitted,) = run_strategy(_donchian(), [*flat, breakout])
    assert (emitted.index, emitted.time, emitted.close) == (3, 180.0, 103.0)
    assert emitted.signal == Signal(Side.LONG, 105.0, 102.0)  # width 2: tp +1x, sl -0.5x


def test_the_harness_position_stops_a_second_entry_on_the_same_side() -> None:
    h = StrategyHarness(_donchian())
    h.feed([100.0, 100.5, 99.5])
    h.hold("long", 1.0, 100.0)
    assert h.bar(105.0) is None
    h.flat()
    assert h.bar(110.0) is not None


def test_the_example_runs_with_its_documented_command(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "execution.cli", "run", "--fast", "--config",
           "examples/donchian_breakout.json", "--state-dir", str(tmp_path), "--max-bars", "6000",
           "--no-progress"]  # fmt: skip
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "identity ok" in out.stdout
    signals = next(line for line in out.stdout.splitlines() if line.strip().startswith("signals"))
    assert int(signals.split()[1].replace(",", "")) > 0
