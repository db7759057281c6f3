"""The pipeline end to end in paper mode: replay, exits, restart, the CLI on both CSV formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from execution import diagnostics_metrics as diag
from execution.cli.run import paper_exchange_factory
from execution.clock import ReplayClock
from execution.config import load_config
from execution.executor_live import Executor
from execution.market.bars import merge_series, synthetic_series
from execution.position_tp_sl_registry import TpSlEntry
from execution.risk_limits import check_order
from execution.run.runner import EngineRunner, RunOptions
from execution.state_publish import PublishThrottle
from execution.store import read_memory
from execution.types import Intent, OrderKind, OrderRequest, Side
from execution.venues.paper import PaperExchange

CONFIG = Path("config/strategy_config.json")


def _v7(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "execution.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_fast_replay_on_synthetic_data_publishes_every_state_file(tmp_path: Path) -> None:
    out = _v7("run", "--fast", "--max-bars", "3000", "--state-dir", str(tmp_path),
              "--json-summary", "--no-progress")  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["bars"] >= 3000 and summary["signals"] > 0 and summary["orders"] > 0
    assert summary["identity_ok"] is True
    for name in ("intel.json", "positions_state.json", "positions_ledger.json",
                 "tp_sl_registry.json", "risk_snapshot.json"):  # fmt: skip
        data = _json(tmp_path / name)
        assert data["schema_version"] == 1 and data["updated_ts"].endswith("Z")
    risk = _json(tmp_path / "risk_snapshot.json")
    assert risk["risk_mode"] in ("OK", "DEFENSIVE")
    assert risk["dd_state"] in ("normal", "warn", "panic")
    assert _json(tmp_path / "intel.json")["engine"]["running"] is False


def _write_binance(path: Path, ts_ms: np.ndarray, bars, micro: bool = False) -> None:
    rows = []
    for t, o, h, lo, c in zip(ts_ms, *bars, strict=True):
        t_open = int(t) * (1000 if micro else 1)
        rows.append(f"{t_open},{o},{h},{lo},{c},10.0,{t_open + 59999},1,1,1,1,0")
    path.write_text("\n".join(rows) + "\n")


def _write_headered(path: Path, ts_ms: np.ndarray, bars) -> None:
    rows = ["timestamp,open,high,low,close,volume"]
    rows += [f"{int(t)},{o},{h},{lo},{c},5" for t, o, h, lo, c in zip(ts_ms, *bars, strict=True)]
    path.write_text("\n".join(rows) + "\n")


def _csv_fixture(tmp_path: Path, kind: str) -> Path:
    cfg = load_config(CONFIG)
    series = synthetic_series(cfg.universe[:3], 1200, cfg.data.synthetic, 60)
    d = tmp_path / kind
    d.mkdir()
    for sym, s in series.items():
        ts_ms = (s.ts * 1000).astype(np.int64)
        bars = (s.open, s.high, s.low, s.close)
        if kind == "binance":
            _write_binance(d / f"{sym}-1m-2024-01-01.csv", ts_ms, bars, micro=sym == "ETHUSDT")
        else:
            _write_headered(d / f"{sym}.csv", ts_ms, bars)
    return d


def test_csv_replay_in_both_formats_trades_the_same(tmp_path: Path) -> None:
    results = []
    for kind in ("binance", "headered"):
        data = _csv_fixture(tmp_path, kind)
        state = tmp_path / f"state-{kind}"
        out = _v7("run", "--fast", "--data", str(data), "--max-bars", "3000",
                  "--state-dir", str(state), "--json-summary", "--no-progress")  # fmt: skip
        assert out.returncode == 0, out.stderr
        results.append(json.loads(out.stdout))
    a, b = results
    assert a["bars"] == b["bars"] == 3000
    for key in ("signals", "vetoes", "orders", "realized_pnl", "exits_by_kind"):
        assert a[key] == b[key], key
    assert a["orders"] > 0


def test_bad_bars_are_rejected_counted_and_never_traded(tmp_path: Path) -> None:
    d = _csv_fixture(tmp_path, "headered")
    f = d / "BTCUSDT.csv"
    lines = f.read_text().splitlines()
    lines[10] = lines[10].split(",")[0] + ",nan,1,1,1,1"
    lines[20] = lines[19]  # duplicate timestamp
    lines[30] = ",".join([lines[30].split(",")[0], "0", "0", "0", "0", "1"])
    f.write_text("\n".join(lines) + "\n")
    state = tmp_path / "s"
    out = _v7("run", "--fast", "--data", str(d), "--state-dir", str(state), "--json-summary",
              "--no-progress")  # fmt: skip
    assert out.returncode == 0, out.stderr
    intel = _json(state / "intel.json")
    assert intel["bad_bars"]["by_symbol"]["BTCUSDT"] == {
        "nan": 1,
        "duplicate_ts": 1,
        "non_positive": 1,
    }


def test_missing_data_dir_is_exit_2(tmp_path: Path) -> None:
    out = _v7("run", "--fast", "--data", str(tmp_path / "nope"), "--state-dir", str(tmp_path / "s"))
    assert out.returncode == 2
    assert "input error" in out.stderr


def _runner(state: Path, max_bars: int, stop_after_loops: int | None = None) -> EngineRunner:
    cfg = load_config(CONFIG)
    series = synthetic_series(cfg.universe, max_bars // len(cfg.symbols), cfg.data.synthetic, 60)
    merged = merge_series(series, cfg.symbols)
    clock = ReplayClock(merged.ts[0])

    factory = paper_exchange_factory(cfg, clock)
    opts = RunOptions("replay", f"test:{max_bars}", max_bars, progress=False)
    runner = EngineRunner(cfg, opts, state, clock, factory)
    if stop_after_loops is not None:
        step = runner.executor.step
        loops = 0

        def counting_step(bars):  # the interruption a SIGINT would cause
            nonlocal loops
            step(bars)
            loops += 1
            if loops >= stop_after_loops:
                runner.stop_requested = True

        runner.executor.step = counting_step  # type: ignore[method-assign]
    runner.run_replay(merged)
    runner.finish()
    runner.merged = merged  # type: ignore[attr-defined]
    return runner


def test_restart_mid_replay_resumes_with_the_same_positions_and_levels(tmp_path: Path) -> None:
    whole = _runner(tmp_path / "whole", 7000)
    first = _runner(tmp_path / "cut", 7000, stop_after_loops=400)
    assert not first.completed
    held = {s: (p.side, p.qty, p.entry_price) for s, p in first.executor.ledger.positions.items()}
    levels = {e.symbol: (e.tp_price, e.sl_price) for e in first.executor.registry.get_all_entries()}
    resumed = _runner(tmp_path / "cut", 7000)
    assert resumed.resumed
    # What the resumed engine started from is what the interrupted one left.
    memory = read_memory(tmp_path / "cut")
    assert memory is not None and memory.progress["completed"] is True
    assert held or levels  # the cut happened with something open
    # And the whole replay ends exactly where an uninterrupted one does.
    a, b = whole.executor, resumed.executor
    assert a.ledger.realized_pnl == b.ledger.realized_pnl
    assert a.ledger.closed_count == b.ledger.closed_count
    assert {s: p.qty for s, p in a.ledger.positions.items()} == {
        s: p.qty for s, p in b.ledger.positions.items()
    }
    assert a.exchange.balance() == b.exchange.balance()


def test_resume_restores_open_positions_and_tp_sl_levels(tmp_path: Path) -> None:
    first = _runner(tmp_path / "s", 7000, stop_after_loops=400)
    held = {s: (p.side, p.qty, p.entry_price) for s, p in first.executor.ledger.positions.items()}
    levels = {e.symbol: (e.tp_price, e.sl_price) for e in first.executor.registry.get_all_entries()}
    assert held, "the cut should leave positions open"
    cfg = load_config(CONFIG)
    clock = ReplayClock(0.0)
    saved = read_memory(tmp_path / "s")
    assert saved is not None and saved.progress["completed"] is False

    factory = paper_exchange_factory(cfg, clock)
    again = EngineRunner(cfg, RunOptions("replay", "test:7000", 7000, False), tmp_path / "s",
                         clock, factory)  # fmt: skip
    again.close()
    assert again.resumed
    got = {s: (p.side, p.qty, p.entry_price) for s, p in again.executor.ledger.positions.items()}
    got_levels = {
        e.symbol: (e.tp_price, e.sl_price) for e in again.executor.registry.get_all_entries()
    }
    assert got == held and got_levels == levels
    assert set(again.executor.exchange.positions()) == set(held)


def _executor(tmp_path: Path) -> tuple[Executor, ReplayClock]:
    cfg = load_config(CONFIG)
    clock = ReplayClock(1_700_000_000.0)
    ex = PaperExchange.from_config(cfg, clock)
    return Executor(cfg, ex, clock, strict=True), clock


def test_exits_are_never_vetoed_even_when_trading_is_halted(tmp_path: Path) -> None:
    executor, clock = _executor(tmp_path)
    idx = executor.symbols.index("BTCUSDT")
    t = clock.now()
    executor.step([(idx, t, 60000.0, 60010.0, 59990.0, 60000.0, 1.0)])
    buy = OrderRequest("seed-entry", "BTCUSDT", "buy", 0.01, OrderKind.ENTRY, trigger_price=60000.0)
    assert executor.router.submit(buy).placed
    executor.apply_fills()
    executor.registry.register(TpSlEntry("BTCUSDT", Side.LONG, 63000.0, 59000.0, t))
    executor.book.peak_nav = executor.book.nav * 2  # a 50% drawdown: panic, trading halted
    assert executor.book.drawdown().dd_state == "panic"
    view = executor.book.view(executor.ledger.positions.values(), t)
    probe = Intent("probe", "ETHUSDT", Side.LONG, 100.0, 3000.0, 3100.0, 2900.0, t)
    assert check_order(probe, view, executor.limits).reason == "trading_halted"
    clock.set(t + 60)
    executor.step([(idx, t + 60, 59500.0, 59600.0, 58800.0, 58900.0, 1.0)])
    assert "BTCUSDT" not in executor.ledger.positions
    assert diag.build_runtime_diagnostics_snapshot().exit_triggers_by_kind == {"sl": 1}
    assert executor.exchange.positions() == {}
    assert executor.registry.get("BTCUSDT") is None


def test_the_exit_pipeline_counts_go_back_to_zero_when_the_last_position_closes(
    tmp_path: Path,
) -> None:
    executor, clock = _executor(tmp_path)
    idx = executor.symbols.index("BTCUSDT")
    t = clock.now()
    executor.step([(idx, t, 60000.0, 60010.0, 59990.0, 60000.0, 1.0)])
    buy = OrderRequest("seed-entry", "BTCUSDT", "buy", 0.01, OrderKind.ENTRY, trigger_price=60000.0)
    assert executor.router.submit(buy).placed
    executor.apply_fills()
    executor.registry.register(TpSlEntry("BTCUSDT", Side.LONG, 63000.0, 59000.0, t))
    clock.set(t + 60)
    executor.step([(idx, t + 60, 60000.0, 60100.0, 59900.0, 60050.0, 1.0)])
    status = diag.build_runtime_diagnostics_snapshot().exit_pipeline_status
    assert (status.open_positions_count, status.tp_sl_registered_count) == (1, 1)
    clock.set(t + 120)
    executor.step([(idx, t + 120, 60050.0, 63500.0, 60000.0, 63200.0, 1.0)])  # the TP
    clock.set(t + 180)
    executor.step([(idx, t + 180, 63200.0, 63300.0, 63100.0, 63250.0, 1.0)])
    status = diag.build_runtime_diagnostics_snapshot().exit_pipeline_status
    assert (status.open_positions_count, status.tp_sl_registered_count) == (0, 0)
    assert executor.book.nav == executor.exchange.balance()  # flat: the NAV is the balance


def test_the_publish_throttle_asks_again_at_the_stride_or_the_bar_interval() -> None:
    every_100 = PublishThrottle(3600.0, 100)
    every_100.mark(40)
    assert every_100.next_check(50, 512) == 140  # the bar interval comes first
    assert every_100.next_check(150, 512) == 151  # overdue: ask at the next loop
    wall_only = PublishThrottle(1.0, None)
    assert wall_only.next_check(50, 512) == 562


def test_a_slow_publish_spaces_the_next_one_but_not_the_bar_interval() -> None:
    throttle = PublishThrottle(1e-9, 100)  # the wall interval alone: due at once
    throttle.mark(0, took_seconds=0.0)
    assert throttle.due(1)
    throttle.mark(0, took_seconds=3600.0)  # a publish that took an hour: the wait is capped
    assert not throttle.due(99)  # ...but still far beyond this test's run time
    assert throttle.due(100)  # the Nth bar publishes however slow the last publish was
    every_loop = PublishThrottle(0.0, None)
    every_loop.mark(0, took_seconds=3600.0)
    assert every_loop.due(1)  # an interval of 0 publishes at every loop, slow or not


def test_a_replay_publishes_at_the_configured_bar_interval_exactly(tmp_path: Path) -> None:
    cfg = load_config(CONFIG)
    data = cfg.model_dump()
    data["publish"] |= {"min_interval_seconds": 1e9, "replay_every_bars": 350}  # bars only
    cfg = type(cfg).model_validate(data)
    merged = merge_series(synthetic_series(cfg.universe, 300, cfg.data.synthetic, 60), cfg.symbols)
    clock = ReplayClock(merged.ts[0])
    opts = RunOptions("replay", "test:publish", None, progress=False)
    runner = EngineRunner(cfg, opts, tmp_path / "s", clock, paper_exchange_factory(cfg, clock))
    published: list[int] = []
    publish = runner.publish

    def counting_publish(running: bool = True) -> None:
        published.append(runner.bars_done)
        publish(running)

    runner.publish = counting_publish  # type: ignore[method-assign]
    runner.run_replay(merged)
    # Every 350 bars, each at the first loop boundary at or past it (a loop is one bar per
    # symbol), although the loop asks the throttle only every few hundred bars.
    n_sym = len(cfg.symbols)
    gaps = [b - a for a, b in zip([0, *published], published, strict=False)]
    assert len(gaps) >= 5 and all(350 <= g < 350 + n_sym for g in gaps), published
    assert runner.bars_done == len(merged)


def test_seed_sets_the_synthetic_data_in_replay_and_in_real_time(tmp_path: Path) -> None:
    fast = _v7("run", "--fast", "--seed", "7", "--max-bars", "700", "--state-dir",
               str(tmp_path / "fast"), "--no-progress")  # fmt: skip
    paced = _v7("run", "--seed", "7", "--max-bars", "70", "--pace", "0", "--state-dir",
                str(tmp_path / "paced"))  # fmt: skip
    assert fast.returncode == 0 and paced.returncode == 0, fast.stderr + paced.stderr
    assert _json(tmp_path / "fast" / "intel.json")["engine"]["source"].startswith(
        "synthetic:seed=7:"
    )
    assert _json(tmp_path / "paced" / "intel.json")["engine"]["source"] == "synthetic-live:seed=7"
    other = _v7("run", "--fast", "--seed", "8", "--max-bars", "700", "--state-dir",
                str(tmp_path / "other"), "--no-progress")  # fmt: skip
    closes = [_json(tmp_path / d / "paper_exchange.json")["last_prices"]
              for d in ("fast", "other")]  # fmt: skip
    assert other.returncode == 0 and closes[0] != closes[1]  # the seed changes the prices


def test_a_paced_run_with_max_bars_runs_exactly_that_many_and_its_resume_goes_on_from_there(
    tmp_path: Path,
) -> None:
    from execution.store import read_memory

    state = tmp_path / "paced"
    for max_bars in (10, 24):  # 7 symbols a loop: both limits fall inside a loop
        run = _v7("run", "--seed", "7", "--max-bars", str(max_bars), "--pace", "0",
                  "--state-dir", str(state))  # fmt: skip
        assert run.returncode == 0, run.stderr
        memory = read_memory(state)
        assert memory is not None and memory.progress["bars_processed"] == max_bars
