"""Run the engine over its memory: resume or start it, drive the loop, commit, publish the views.

The memory lives in the state dir's store (execution/store), held by one engine at a time. A
start either resumes it exactly or refuses (:class:`RunRefused`, exit code 2) without writing
anything: nothing here ever deletes what the engine knows. ``--fresh`` moves the old memory
aside into a backup first; so does a new replay over a finished one (a backtest's result is
kept, never lost, and a replay command can simply be run again).
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from execution import diagnostics_metrics as diag
from execution.clock import Clock, ReplayClock
from execution.config import EngineConfig
from execution.executor_live import Executor
from execution.market.bars import MergedBars, SyntheticStream
from execution.market.stream import StreamedBars
from execution.memory_errors import MemoryCorrupt
from execution.run.driver import (
    DriveHooks,
    DriveResult,
    ReplayCursor,
    drive,
    paced_loops,
    replay_loops,
)
from execution.run.in_flight import settle_in_flight
from execution.run.journal import EngineJournal
from execution.run.memory import (
    RestoredRun,
    RunIdentity,
    capture_memory,
    paced_bars_to_skip,
    refuse_a_paper_venue_without_its_account,
    restore_memory,
)
from execution.run.reconcile import ReconcileReport, closes_seen_by_venue, reconcile
from execution.run.state_dir import (
    RunRefused,
    corrupt_message,
    memory_to_resume,
    take_state_dir,
)
from execution.run.views import publish_views
from execution.signal_screener import Strategy, build_strategy
from execution.state_io import remove_stale_temp_files
from execution.state_publish import PublishThrottle
from execution.state_v7 import PAPER_EXCHANGE_FILE, STATE_FILES
from execution.store import (
    JournalBatch,
    Memory,
    PersistError,
    Store,
    StoreError,
    db_path,
)
from execution.types import Intent, RejectCounts

log = logging.getLogger(__name__)

HALT_FILE = "HALT"
# A replay asks the HALT switch and the commit throttle once per this many bars: a stat() and a
# clock read every loop would cost more than the rest of the bookkeeping.
REPLAY_CHECK_EVERY = 512
# Equity is sampled on bar-time boundaries (not at commits), so an interrupted and resumed run
# journals exactly the rows an uninterrupted one does.
EQUITY_EVERY_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class RunOptions:
    mode: str  # "replay" | "realtime" | "live"
    source: str  # identifies the data: "synthetic:seed=7", "csv:/path", "live:binanceusdm"
    max_bars: int | None = None
    progress: bool = True
    pace_seconds: float = 0.0
    fresh: bool = False  # move the old memory aside before starting
    account: str = "paper"  # the exchange account the memory belongs to
    # Pass over a replay's quiet bars rather than step each (execution/quiet.py): the same
    # result; off only where tests and benches compare the two.
    skip_quiet: bool = True


def diagnostics_settings(cfg: EngineConfig) -> diag.DiagnosticsSettings:
    """Return the diagnostics settings that ``cfg``'s diagnostics section asks for."""
    section = cfg.diagnostics
    return diag.DiagnosticsSettings(
        enabled=section.enabled,
        window_signals=section.veto_metrics.window_signals,
        window_seconds=section.veto_metrics.window_seconds,
        heatmap_bucket_seconds=section.veto_metrics.heatmap_bucket_seconds,
        heatmap_max_buckets=section.veto_metrics.heatmap_max_buckets,
        tp_sl_canary_enabled=section.exit_pipeline.tp_sl_canary_enabled,
        tp_sl_underwater_threshold_pct=section.exit_pipeline.tp_sl_underwater_threshold_pct,
    )


class EngineRunner:
    """One engine over one state dir: holds its lock from construction to :meth:`close`."""

    def __init__(
        self,
        cfg: EngineConfig,
        opts: RunOptions,
        state_dir: str | Path,
        clock: Clock,
        exchange_factory: Callable[[dict[str, Any] | None], Any],
        bad_bars: RejectCounts | None = None,
        *,
        strategy: Strategy | None = None,
    ) -> None:
        self.cfg = cfg
        self.opts = opts
        self.state_dir = Path(state_dir)
        self.clock = clock
        self.bad_bars = bad_bars or RejectCounts()
        self.identity = RunIdentity(opts.mode, opts.source, opts.account)
        # Built before the state dir is read: a plug-in that fails to import or to start never
        # gets near the memory.
        strategy = strategy or build_strategy(cfg.strategy, len(cfg.symbols))
        self.stop_requested = False
        self.stop_signal: int | None = None
        self.completed = False
        self.persist_error: str | None = None
        self.persist_failures = 0
        self.moved_aside: Path | None = None
        self.last_risk: dict[str, Any] = {}  # the last published risk snapshot (for /metrics)
        self.entry_in_flight: str | None = None  # the intent id a pre-send commit stores
        self.lock = take_state_dir(self.state_dir)
        try:
            self._start(exchange_factory, strategy)
        except BaseException:
            self.lock.release()
            raise
        # Temp files of view writes a kill interrupted: never read, but they would pile up. Only
        # the lock holder may remove them, and only once the start stands (a refusal changes
        # nothing).
        remove_stale_temp_files(self.state_dir, (*STATE_FILES, PAPER_EXCHANGE_FILE))

    # --- start: resume or begin, never lose --------------------------------------------------

    def _start(
        self, exchange_factory: Callable[[dict[str, Any] | None], Any], strategy: Strategy
    ) -> None:
        components, self.moved_aside = memory_to_resume(
            self.state_dir, self.lock, self.identity, self.opts.fresh, self.cfg.symbols
        )
        diag.configure(diagnostics_settings(self.cfg), self.clock.now)
        self.batch = JournalBatch()
        self.journal = EngineJournal(self.batch)
        restored, exchange = self._restore(components, exchange_factory, strategy)
        self.executor = Executor(
            self.cfg, exchange, self.clock, strict=self.opts.mode == "replay",
            strategy=strategy, restored=restored.executor if restored else None,
            journal=self.journal,
        )  # fmt: skip
        if self.opts.mode == "live":  # a paper venue is rewound with the memory: no need
            self.executor.before_entry = self.commit_before_entry
        self.resumed = restored is not None
        self.bars_done = restored.bars_processed if restored else 0
        self.saved_symbols = restored.symbols if restored else ()
        if restored is not None:
            diag.restore_state(restored.diagnostics)
            for symbol in restored.held_outside_universe:
                log.warning("%s holds a position but left the universe: its exits are managed",
                            symbol)  # fmt: skip
        ex = self.executor
        intent = ex.pending_intents.get(restored.entry_in_flight or "") if restored else None
        sent = ex.entry_request(intent) if intent is not None else None  # before reconcile pops it
        report = self.reconcile_venue()
        if restored is not None:
            settle_in_flight(restored.diagnostics, sent, report, ex, self.journal)
        if self.resumed or report.changed:
            log.info("resumed at bar %d (%s)", self.bars_done, report)
        self._open_store(restored)

    def reconcile_venue(self) -> ReconcileReport:
        """Make the ledger agree with the venue's positions. One that ended outside the engine
        is closed at the price of the account's trades that closed it when the venue shows
        them, else journaled as an external close (its exit unseen) with the engine's last mark.
        """
        ex, now = self.executor, self.clock.now()
        positions = ex.exchange.positions()
        for fill in closes_seen_by_venue(ex.ledger, ex.exchange, positions):
            ex.apply_fill(fill)
        report = reconcile(ex.ledger, ex.registry, positions, now, ex.pending_intents)
        for pos, levels in report.ended:
            self.journal.external_close(pos, levels, now, ex.book.mark(pos.symbol))
        return report

    def _restore(
        self,
        components: dict[str, Any] | None,
        exchange_factory: Callable[[dict[str, Any] | None], Any],
        strategy: Strategy,
    ) -> tuple[RestoredRun | None, Any]:
        """The restored run (None: a new one) and its venue; RunRefused if the memory is bad."""
        try:
            restored = restore_memory(components, self.cfg, strategy) if components else None
            exchange = exchange_factory(restored.paper_account if restored else None)
            if restored is not None and restored.paper_account is None:
                refuse_a_paper_venue_without_its_account(exchange)
        except (MemoryCorrupt, KeyError, TypeError, ValueError) as err:
            raise RunRefused(corrupt_message(f"{db_path(self.state_dir)}: {err}", err)) from err
        return restored, exchange

    def _open_store(self, restored: RestoredRun | None) -> None:
        """Open the store for writing (it migrates) and set the clocks the loop goes on from."""
        self.started_ts = self.clock.now()
        last = restored.last_ts if restored else self.clock.now()
        self._next_equity_ts = self._equity_boundary(last)
        try:
            self.store = Store.open(self.state_dir, durable=self.opts.mode != "replay")
        except StoreError as err:
            raise RunRefused(corrupt_message(str(err))) from err
        every = self.cfg.publish.replay_every_bars if self.opts.mode == "replay" else None
        self.throttle = PublishThrottle(self.cfg.publish.min_interval_seconds, every)

    # --- the loop -----------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        """Make SIGINT and SIGTERM stop the engine before its next loop, never inside one."""

        def _stop(signum: int, frame: FrameType | None) -> None:
            self.stop_requested = True
            self.stop_signal = signum

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)

    def step(self, group: Any) -> None:
        """Run one engine loop, then sample equity if its bar time crossed a boundary."""
        self.executor.step(group)
        self._on_bar_time(group[0][1])

    def _on_bar_time(self, ts: float) -> float:
        """Sample equity if ``ts`` crossed a boundary; return the next boundary (the driver
        calls again only then, rather than after every loop)."""
        if ts >= self._next_equity_ts:
            self._sample_equity(ts)
        return self._next_equity_ts

    def run_replay(self, merged: MergedBars | StreamedBars) -> DriveResult:
        """Replay merged bars as fast as possible (the clock is the bar time)."""
        clock = self.clock
        if not isinstance(clock, ReplayClock):
            raise TypeError("replay needs a ReplayClock")
        set_perp_data = getattr(self.executor.exchange, "set_perp_data", None)
        if set_perp_data is not None:  # the paper venue settles funding, liquidates on marks
            set_perp_data(merged.perps)
        total_bars = len(merged)
        max_bars = self.opts.max_bars
        limit = total_bars if max_bars is None else min(total_bars, max_bars)
        hooks = DriveHooks(
            self.executor.step, self.check_point, self._should_stop, clock.set, self._on_bar_time
        )
        start = min(self.bars_done, total_bars)
        cursor = ReplayCursor(merged, start, self.executor.skip_quiet)
        # Only a one-symbol replay has quiet stretches to pass over (execution/quiet.py).
        quiet = cursor if self.opts.skip_quiet and len(self.executor.symbols) == 1 else None
        result = drive(
            cursor.loops() if quiet else replay_loops(merged, start), hooks, start=self.bars_done,
            limit=limit, progress_total=limit if self.opts.progress else None, quiet=quiet,
        )  # fmt: skip
        self._finish_drive(result)
        return result

    def run_realtime(self, stream: SyntheticStream) -> DriveResult:
        """Run paced synthetic bars stamped with the wall clock, until stopped."""
        skip = paced_bars_to_skip(self.bars_done, self.saved_symbols, self.cfg.symbols)
        loops = paced_loops(stream, self.cfg.symbols, skip, self.opts.pace_seconds)
        hooks = DriveHooks(
            self.executor.step, self.check_point, self._should_stop, on_time=self._on_bar_time
        )
        result = drive(loops, hooks, start=self.bars_done, limit=self.opts.max_bars)
        self._finish_drive(result)
        return result

    def _finish_drive(self, result: DriveResult) -> None:
        self.bars_done = result.bars_done
        self.completed = result.completed and self.opts.mode == "replay"

    def _should_stop(self) -> bool:
        return self.stop_requested or (
            self.opts.mode == "replay" and self.persist_error is not None
        )

    def check_point(self, bars_done: int) -> int:
        """Read the HALT switch, commit (every loop unless a replay), publish: between loops.

        Return the bar count of the next check point: every loop in real time, every few
        hundred bars in a replay (and exactly at the publish interval).
        """
        self.bars_done = bars_done
        self.executor.book.halted_by_file = self._halted()
        if self.opts.mode != "replay":
            self.commit()
        if self.throttle.due(bars_done):
            self.publish()
        if self.opts.mode != "replay":
            return bars_done + 1
        return self.throttle.next_check(bars_done, REPLAY_CHECK_EVERY)

    def _halted(self) -> bool:
        """Entries stop while the HALT file exists or the memory cannot be written."""
        return (self.state_dir / HALT_FILE).exists() or self.persist_error is not None

    # --- commit and publish -------------------------------------------------------------------

    def commit(self) -> bool:
        """Write the memory and the journal batch in one transaction; False if it failed."""
        now = self.clock.now()
        memory = Memory(**capture_memory(self, now))
        try:
            self.store.commit(memory, self.batch)
        except PersistError as err:
            self.persist_failures += 1
            if self.persist_error is None:
                print(f"v7: cannot write the engine's memory ({err}): entries are halted, exits "
                      "keep running", file=sys.stderr)  # fmt: skip
            self.persist_error = str(err)
            self.executor.book.halted_by_file = True
            diag.record_stage_error("state_publish", err)
            return False
        self.batch.clear()
        if self.persist_error is not None:
            log.warning("the engine's memory is written again; entries resume")
            self.persist_error = None
            self.executor.book.halted_by_file = self._halted()
        return True

    def commit_before_entry(self, intent: Intent) -> bool:
        """Commit with ``intent`` stored as the entry in flight (live, just before its send):
        a restart after a kill before its outcome settles it (execution/run/in_flight.py)."""
        self.entry_in_flight = intent.intent_id
        try:
            return self.commit()
        finally:
            self.entry_in_flight = None

    def publish(self, running: bool = True) -> None:
        """Write the JSON views for dashboard and doctor, then commit (a replay commits here).

        The views go first so that the commit holds the publish's own liveness mark: a resumed
        run then carries on exactly as an uninterrupted one. A kill between the two leaves the
        views one publish ahead of the memory, which the next publish rewrites.
        """
        started = time.monotonic()
        self.executor.prune_pending()
        try:
            self.last_risk = publish_views(self, running)
        except OSError as err:
            diag.record_stage_error("state_publish", err)
            log.error("state publish failed: %s", err)
        if self.opts.mode == "replay" or not running:
            self.commit()
        self.throttle.mark(self.bars_done, time.monotonic() - started)

    def _equity_boundary(self, ts: float) -> float:
        return (ts // EQUITY_EVERY_SECONDS + 1) * EQUITY_EVERY_SECONDS

    def _sample_equity(self, ts: float) -> None:
        book = self.executor.book
        drawdown = book.drawdown()
        balance = self.executor.exchange.balance()
        nav = drawdown.nav
        self.journal.equity(ts, nav, balance, nav - balance, drawdown.drawdown_pct)
        self._next_equity_ts = self._equity_boundary(ts)

    def finish(self) -> None:
        """Publish and commit a last time (engine marked stopped), then release the state dir."""
        try:
            self.publish(running=False)
        finally:
            self.close()

    def close(self) -> None:
        """Close the store and release the state dir's lock (no final publish)."""
        store = getattr(self, "store", None)
        if store is not None:
            store.close()
        self.lock.release()

    def exit_code(self) -> int:
        """Return 0, 1 if the memory could not be written at some point, 130/143 on a signal."""
        if self.persist_failures:
            return 1
        if self.stop_signal is not None and self.opts.mode == "replay" and not self.completed:
            return 128 + self.stop_signal
        return 0
