"""Passing over quiet bars changes nothing: a replay with it and one stepping every bar leave the
same journal, the same memory (ledger, registry, strategy, book, account, diagnostics) and the
same views, whatever happens in it (entries, TP/SL exits, liquidations, funding, a stop and a
resume), from merged arrays or streamed from CSV files.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from execution.cli.run import paper_exchange_factory
from execution.clock import ReplayClock
from execution.config import EngineConfig, load_config, parse_config
from execution.market.bars import BarSeries, MergedBars, merge_series, synthetic_series
from execution.market.stream import StreamedBars, open_csv_replay
from execution.run.runner import EngineRunner, RunOptions
from execution.store import db_path
from execution.types import ExitKind, Fill

CONFIG = Path("config/strategy_config.json")
SMA = {"name": "sma_cross_pct", "fast": 5, "slow": 20, "tp_pct": 0.004, "sl_pct": 0.003}
# Values of the engine's clock-free state that read the wall clock (publish timings).
WALL_KEYS = {"last_publish_duration_s", "publish_duration_s", "elapsed_s", "wall", "pid"}


def _config(n_symbols: int = 1, funding: bool = False, **sections: dict[str, Any]) -> EngineConfig:
    data = load_config(CONFIG).model_dump(mode="json")
    data["universe"] = data["universe"][:n_symbols]
    data["data"]["synthetic"]["funding"] = funding
    data["publish"] = {"min_interval_seconds": 1e9, "replay_every_bars": 700}
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return parse_config(data)


def _merged(cfg: EngineConfig, n_bars: int) -> MergedBars:
    series = synthetic_series(cfg.universe, n_bars, cfg.data.synthetic, 60)
    return merge_series(series, cfg.symbols)


def _replay(
    cfg: EngineConfig,
    bars: MergedBars | StreamedBars,
    state: Path,
    skip: bool,
    stop_after_loops: int | None = None,
    fills: list[Fill] | None = None,
) -> EngineRunner:
    clock = ReplayClock(bars.first_ts)
    opts = RunOptions("replay", "test:quiet", None, progress=False, skip_quiet=skip)
    runner = EngineRunner(cfg, opts, state, clock, paper_exchange_factory(cfg, clock))
    ex = runner.executor
    step, apply_fill = ex.step, ex.apply_fill
    loops = 0

    def counting_step(group: Any) -> None:  # the interruption a SIGINT would cause
        nonlocal loops
        step(group)
        loops += 1
        if stop_after_loops is not None and loops >= stop_after_loops:
            runner.stop_requested = True

    def recording(fill: Fill) -> None:
        if fills is not None:
            fills.append(fill)
        apply_fill(fill)

    ex.step = counting_step  # type: ignore[method-assign]
    ex.apply_fill = recording  # type: ignore[method-assign]
    runner.run_replay(bars)
    runner.finish()
    runner.loops_stepped = loops  # type: ignore[attr-defined]
    return runner


def _without_wall(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_wall(v) for k, v in value.items() if k not in WALL_KEYS}
    if isinstance(value, list):
        return [_without_wall(v) for v in value]
    return value


def _everything(state: Path) -> dict[str, Any]:
    """Every row of every table of the store, and every view, less the wall-clock values."""
    out: dict[str, Any] = {}
    with sqlite3.connect(f"file:{db_path(state)}?mode=ro", uri=True) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in sorted(tables):
            rows = db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()  # noqa: S608
            out[table] = [
                [_without_wall(json.loads(v)) if _is_json(v) else v for v in row] for row in rows
            ]
    for view in sorted(state.glob("*.json")):
        out[view.name] = _without_wall(json.loads(view.read_text(encoding="utf-8")))
    return out


def _is_json(value: object) -> bool:
    return isinstance(value, str) and value[:1] in "{["


def _assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == b[key], key


def _same_either_way(
    cfg: EngineConfig, bars: Any, tmp_path: Path, passed_share: float = 0.0
) -> list[Fill]:
    """Replay both ways; check that at least ``passed_share`` of the bars were passed over."""
    fills: list[Fill] = []
    _replay(cfg, bars, tmp_path / "stepped", skip=False, fills=fills)
    stepped = _everything(tmp_path / "stepped")
    passed = _replay(cfg, bars, tmp_path / "passed", skip=True)
    _assert_same(_everything(tmp_path / "passed"), stepped)
    assert passed.bars_done - passed.loops_stepped >= passed_share * passed.bars_done  # type: ignore[attr-defined]
    return fills


def test_a_replay_passing_over_quiet_bars_leaves_what_stepping_every_bar_leaves(
    tmp_path: Path,
) -> None:
    cfg = _config(strategy=SMA)
    fills = _same_either_way(cfg, _merged(cfg, 6_000), tmp_path, passed_share=0.5)
    kinds = {f.exit_kind for f in fills}
    assert {ExitKind.TP, ExitKind.SL} <= kinds  # entries and both exits happened


def test_liquidations_come_on_the_same_bars_with_or_without_quiet_bars(tmp_path: Path) -> None:
    # High leverage and a far stop put the liquidation price inside the stop.
    wide = {"sl_pct": 0.1, "tp_pct": 0.05, "risk_per_trade_nav_pct": None}
    cfg = _config(strategy={**SMA, **wide, "reverse_on_opposite": False}, perps={"leverage": 100.0})
    fills = _same_either_way(cfg, _merged(cfg, 6_000), tmp_path, passed_share=0.5)
    assert any(f.exit_kind is ExitKind.LIQUIDATION for f in fills)


def test_funding_and_mark_series_are_settled_the_same_with_quiet_bars(tmp_path: Path) -> None:
    cfg = _config(funding=True, strategy=SMA)
    _same_either_way(cfg, _merged(cfg, 6_000), tmp_path, passed_share=0.2)


def test_the_default_strategy_on_several_symbols_is_the_same_with_quiet_bars(
    tmp_path: Path,
) -> None:
    cfg = _config(n_symbols=3)
    _same_either_way(cfg, _merged(cfg, 2_000), tmp_path)


def _waves(cfg: EngineConfig, n_bars: int) -> MergedBars:
    """A rising price in waves: longs ride up, so the NAV makes new highs between trades."""
    t = np.arange(n_bars, dtype=np.float64)
    close = 60_000.0 * np.exp(0.0004 * t) * (1.0 + 0.03 * np.sin(t / 25.0))
    op = np.concatenate(([close[0]], close[:-1]))
    high, low = np.maximum(op, close) * 1.0002, np.minimum(op, close) * 0.9998
    ts = 1_704_067_200.0 + 60.0 * t
    series = BarSeries(cfg.symbols[0], ts, op, high, low, close, np.ones(n_bars))
    return merge_series({cfg.symbols[0]: series}, cfg.symbols)


def test_the_peak_nav_reached_between_trades_is_the_same_with_quiet_bars(tmp_path: Path) -> None:
    cfg = _config(
        strategy={**SMA, "tp_pct": 0.5, "sl_pct": 0.01, "risk_per_trade_nav_pct": None},
        exchange={"taker_fee_bps": 0.0, "slippage_bps": 0.0},
    )
    _same_either_way(cfg, _waves(cfg, 3_000), tmp_path, passed_share=0.5)
    peaks = [row[2] for row in _everything(tmp_path / "passed")["equity"]]
    assert max(peaks) > 10_000.0 * 1.01  # the NAV did climb to new peaks


def _write_csv(path: Path, bars: MergedBars) -> None:
    rows = np.column_stack([np.asarray(bars.ts) * 1000, *(np.asarray(c) for c in (
        bars.open, bars.high, bars.low, bars.close, bars.volume))])  # fmt: skip
    header = "timestamp,open,high,low,close,volume"
    np.savetxt(path, rows, delimiter=",", header=header, comments="", fmt="%.17g")


def test_a_streamed_csv_replay_passes_over_quiet_bars_across_its_chunks(tmp_path: Path) -> None:
    cfg = _config(strategy=SMA)
    data = tmp_path / "data"
    data.mkdir()
    _write_csv(data / f"{cfg.symbols[0]}_1m.csv", _merged(cfg, 5_000))
    stream, _ = open_csv_replay(data, rows=777)  # chunks that end inside quiet stretches
    _same_either_way(cfg, stream.in_order(cfg.symbols), tmp_path, passed_share=0.5)


@pytest.mark.parametrize(("stop_after", "streamed"), [(3, False), (400, False), (400, True)])
def test_a_replay_stopped_and_resumed_with_quiet_bars_ends_as_one_stepped_through(
    tmp_path: Path, stop_after: int, streamed: bool
) -> None:
    cfg = _config(strategy=SMA)
    bars: MergedBars | StreamedBars = _merged(cfg, 4_000)
    if streamed:  # the resume point falls inside one of the file's chunks
        (tmp_path / "data").mkdir()
        _write_csv(tmp_path / "data" / f"{cfg.symbols[0]}_1m.csv", bars)
        bars = open_csv_replay(tmp_path / "data", rows=777)[0].in_order(cfg.symbols)
    _replay(cfg, bars, tmp_path / "whole", skip=False)
    cut = _replay(cfg, bars, tmp_path / "cut", skip=True, stop_after_loops=stop_after)
    assert not cut.completed
    resumed = _replay(cfg, bars, tmp_path / "cut", skip=True)
    assert resumed.resumed and resumed.completed
    whole, after = _everything(tmp_path / "whole"), _everything(tmp_path / "cut")
    for key in ("equity", "fills", "orders", "closed_trades", "positions_ledger.json"):
        assert after[key] == whole[key], key


def test_a_stop_that_comes_during_a_quiet_stretch_leaves_what_a_stepped_stop_there_does(
    tmp_path: Path,
) -> None:
    cfg = _config(strategy=SMA)
    bars = _merged(cfg, 3_000)
    clock = ReplayClock(bars.first_ts)
    opts = RunOptions("replay", "test:quiet", None, progress=False, skip_quiet=True)
    runner = EngineRunner(cfg, opts, tmp_path / "passed", clock, paper_exchange_factory(cfg, clock))
    skip_quiet = runner.executor.skip_quiet

    def signal_during_a_stretch(*args: Any) -> int:  # SIGINT while quiet bars are passed over
        done = skip_quiet(*args)
        if done and clock.now() > bars.ts[1_000]:
            runner.stop_requested = True
        return done

    runner.executor.skip_quiet = signal_during_a_stretch  # type: ignore[method-assign]
    runner.run_replay(bars)
    runner.finish()
    assert not runner.completed
    stepped = _replay(
        cfg, bars, tmp_path / "stepped", skip=False, stop_after_loops=runner.bars_done
    )
    assert stepped.bars_done == runner.bars_done
    _assert_same(_everything(tmp_path / "passed"), _everything(tmp_path / "stepped"))
