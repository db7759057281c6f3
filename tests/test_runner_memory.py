"""The runner over its memory, in-process: persistence failures, HALT, universe edits, protection.

Each scenario drives the real runner (paper venue, real store) loop by loop, as a paced engine
does, with the loop's time set by the test.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execution import diagnostics_metrics as diag
from execution.cli.held_symbols import with_held_symbols
from execution.cli.run import paper_exchange_factory
from execution.clock import ReplayClock
from execution.config import EngineConfig, SymbolSpec, load_config
from execution.executor_live import Executor
from execution.market.bars import merge_series, synthetic_series
from execution.run.driver import Loop, replay_loops
from execution.run.memory import key_by_symbol
from execution.run.runner import HALT_FILE, EngineRunner, RunOptions
from execution.signal_screener import Signal
from execution.store import Store, read_fills, read_orders
from execution.store.testing import FullDisk
from execution.types import Side
from execution.venues.paper import PaperExchange

CONFIG = Path("config/strategy_config.json")


def _cfg(**update: Any) -> EngineConfig:
    return load_config(CONFIG).model_copy(update=update)


def _loops(cfg: EngineConfig, bars_per_symbol: int) -> Iterator[Loop]:
    series = synthetic_series(cfg.universe, bars_per_symbol, cfg.data.synthetic, 60)
    return replay_loops(merge_series(series, cfg.symbols), 0)


def _started(
    cfg: EngineConfig, state: Path, bars_per_symbol: int
) -> tuple[EngineRunner, ReplayClock, Iterator[Loop]]:
    """A paced-mode runner on synthetic bars; the loops it has not stepped yet."""
    loops = _loops(cfg, bars_per_symbol)
    first = next(loops)
    runner, clock = _runner(cfg, state, first[0][1])
    return runner, clock, loops


def _runner(cfg: EngineConfig, state: Path, t0: float) -> tuple[EngineRunner, ReplayClock]:
    clock = ReplayClock(t0)
    opts = RunOptions("realtime", "test:paced", None, False)
    return EngineRunner(cfg, opts, state, clock, paper_exchange_factory(cfg, clock)), clock


def _drive(runner: EngineRunner, clock: ReplayClock, loops: Iterator[Loop], n: int) -> None:
    """``n`` loops as the paced driver runs them: step, then the check point (a commit)."""
    for _ in range(n):
        group = next(loops)
        clock.set(group[0][1])
        runner.step(group)
        runner.check_point(runner.bars_done + len(group))


def _accounting() -> dict[str, Any]:
    return diag.build_runtime_diagnostics_snapshot().accounting


def test_when_the_memory_cannot_be_written_entries_halt_exits_run_and_the_run_ends_non_zero(
    tmp_path: Path,
) -> None:
    cfg = _cfg()
    runner, clock, loops = _started(cfg, tmp_path, 6000)
    disk = FullDisk()
    runner.store.close()
    runner.store = Store.open(tmp_path, durable=True, connection_factory=disk.connection_factory)
    _drive(runner, clock, loops, 1500)
    entries_before = _accounting()["orders_by_kind"].get("entry", 0)
    exits_before = sum(diag.build_runtime_diagnostics_snapshot().exit_triggers_by_kind.values())
    assert entries_before > 0

    disk.full = True
    _drive(runner, clock, loops, 1500)
    assert runner.persist_error is not None and "disk is full" in runner.persist_error
    snap = diag.build_runtime_diagnostics_snapshot()
    assert _accounting()["orders_by_kind"].get("entry", 0) == entries_before  # no new entry
    assert snap.veto_counters.by_reason.get("trading_halted", 0) > 0
    assert sum(snap.exit_triggers_by_kind.values()) > exits_before  # exits kept running

    disk.full = False  # the space came back: the next commit writes everything it kept
    _drive(runner, clock, loops, 5)
    assert runner.persist_error is None
    fills_in_memory = len(read_fills(tmp_path))
    runner.finish()
    assert runner.exit_code() == 1
    assert fills_in_memory == len(read_fills(tmp_path)) > 0
    venue = runner.executor.exchange
    assert isinstance(venue, PaperExchange)
    assert len(read_fills(tmp_path)) == venue.to_dict()["fill_seq"]


def test_the_halt_file_stops_entries_at_the_next_loop_without_waiting_for_a_publish(
    tmp_path: Path,
) -> None:
    cfg = _cfg(publish=load_config(CONFIG).publish.model_copy(update={"min_interval_seconds": 1e9}))
    runner, clock, loops = _started(cfg, tmp_path, 3000)
    runner.throttle.mark(0)  # no publish in this test: the HALT file must act on its own
    _drive(runner, clock, loops, 300)
    (tmp_path / HALT_FILE).write_text("")
    entries = _accounting()["orders_by_kind"].get("entry", 0)
    _drive(runner, clock, loops, 1500)
    assert _accounting()["orders_by_kind"].get("entry", 0) == entries
    by_reason = diag.build_runtime_diagnostics_snapshot().veto_counters.by_reason
    assert by_reason.get("trading_halted", 0) > 0
    (tmp_path / HALT_FILE).unlink()
    _drive(runner, clock, loops, 1000)
    assert _accounting()["orders_by_kind"].get("entry", 0) > entries
    runner.close()


def test_a_universe_edit_is_reconciled_by_symbol_not_by_index(tmp_path: Path) -> None:
    cfg = _cfg()
    runner, clock, loops = _started(cfg, tmp_path, 3000)
    _drive(runner, clock, loops, 800)
    runner.finish()
    before = key_by_symbol(runner.executor.strategy.state(), cfg.symbols)["per_symbol"]
    marks = runner.executor.book.marks_by_symbol()

    swapped = _cfg(universe=tuple(reversed(cfg.universe)))
    again, _ = _runner(swapped, tmp_path, clock.now())
    after = key_by_symbol(again.executor.strategy.state(), swapped.symbols)["per_symbol"]
    assert after == before  # each symbol got its own indicators back, wherever it moved
    assert again.executor.book.marks_by_symbol() == marks
    again.close()


def test_a_symbol_removed_from_the_universe_keeps_its_position_managed_for_exits(
    tmp_path: Path,
) -> None:
    cfg = _cfg()
    runner, clock, loops = _started(cfg, tmp_path, 3000)
    _drive(runner, clock, loops, 600)
    runner.finish()
    held = sorted(runner.executor.ledger.positions)
    assert held, "the run should hold a position"
    gone = held[0]
    smaller = _cfg(universe=tuple(s for s in cfg.universe if s.symbol != gone))
    edited = with_held_symbols(smaller, tmp_path)
    spec = next(s for s in edited.universe if s.symbol == gone)
    assert spec.exit_only
    again, clock2 = _runner(edited, tmp_path, clock.now())
    assert gone in again.executor.ledger.positions and again.executor.registry.get(gone)
    resumed_at = clock2.now()
    vetoed = _vetoes_of(gone)
    more = _loops(edited, 3000)
    for _ in range(600):  # the same synthetic path from the start: the test only needs prices
        next(more)
    _drive(again, clock2, more, 1500)
    new_entries = [
        o
        for o in read_orders(tmp_path)
        if o["symbol"] == gone and o["kind"] == "entry" and o["ts"] > resumed_at
    ]
    assert new_entries == [], "an exit-only symbol opened a new position"
    assert _vetoes_of(gone) == vetoed  # its bars never reach the screener: no signal at all
    again.close()


def _vetoes_of(symbol: str) -> dict[str, int]:
    by_reason = diag.build_runtime_diagnostics_snapshot().heatmap["by_reason_symbol"]
    return {r: n[symbol] for r, n in by_reason.items() if symbol in n}


# --- every filled entry is protected -------------------------------------------------------


class EveryNth:
    """A strategy that wants a long entry on the bars the test picks (TP/SL at +-2 %)."""

    name = "every_nth"

    def __init__(self, entries: set[int]) -> None:
        self.entries = entries
        self.seen = 0

    def update(self, idx: int, high: float, low: float, close: float) -> Signal | None:
        self.seen += 1
        if self.seen in self.entries:
            return Signal(Side.LONG, close * 1.02, close * 0.98)
        return None

    def state(self) -> dict[str, Any]:
        return {"seen": self.seen}

    def load_state(self, state: dict[str, Any]) -> None:
        self.seen = int(state.get("seen", 0))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(
            st.floats(-0.01, 0.01),  # the bar's move
            st.sampled_from([60.0, 60.0, 60.0, 5400.0, 86_400.0]),  # gaps: holes in the data
            st.booleans(),  # a publish (pending intents pruned) after this bar
        ),
        min_size=20,
        max_size=150,
    ),
    entries=st.sets(st.integers(1, 150), max_size=40),
)
def test_every_open_position_has_finite_tp_and_sl_or_is_counted_by_the_canary(
    steps: list[tuple[float, float, bool]], entries: set[int]
) -> None:
    base = load_config(CONFIG)
    cfg = base.model_copy(update={"universe": (SymbolSpec(symbol="BTCUSDT"),)})
    clock = ReplayClock(1_704_067_200.0)
    executor = Executor(cfg, PaperExchange.from_config(cfg, clock), clock,
                        strategy=EveryNth(entries))  # fmt: skip
    price = 100.0
    for move, gap, publish in steps:
        clock.set(clock.now() + gap)
        close = price * (1 + move)
        executor.step([(0, clock.now(), price, max(price, close) * 1.001,
                        min(price, close) * 0.999, close, 1.0)])  # fmt: skip
        price = close
        if publish:
            executor.prune_pending()
        # The order carried its TP/SL: a fill is protected even when its intent was pruned.
        for symbol in executor.ledger.positions:
            entry = executor.registry.get(symbol)
            assert entry is not None, f"{symbol}: a filled entry without TP/SL"
            assert math.isfinite(entry.tp_price) and math.isfinite(entry.sl_price)
            assert entry.tp_price > 0 and entry.sl_price > 0
