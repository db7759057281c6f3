"""Drive the executor: replay (``--fast`` / CSV), paced real time, and the publish/checkpoint cycle.

Restart semantics: every publish ends with engine_checkpoint.json, which holds the ledger,
the registry, the paper account, the strategy and book state, written last and atomically.
A run that did not finish (crash, kill, --max-bars, Ctrl-C in a replay) resumes from it; a
finished replay starts fresh.

The checkpoint also carries the cumulative counters of the same publish: intel.json is written
just before it, so after a kill between the two the intel copy would be one publish ahead of the
state it describes and a resume would count that stretch twice (tests/faults prove it cannot).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from types import FrameType
from typing import Any

from execution import diagnostics_metrics as diag
from execution.clock import Clock, to_iso
from execution.config import EngineConfig
from execution.executor_live import BarTuple, Executor
from execution.market.bars import MergedBars, SyntheticStream, merge_series
from execution.position_ledger import PositionLedger
from execution.position_tp_sl_registry import TpSlRegistry
from execution.run.reconcile import reconcile
from execution.state_io import (
    SCHEMA_VERSION,
    quarantine_file,
    read_json_defensive,
    remove_stale_temp_files,
    write_json_atomic,
)
from execution.state_publish import (
    PublishThrottle,
    compute_and_write_intel_state,
    positions_state,
    write_positions_state,
    write_risk_snapshot,
    write_runtime_diagnostics_state,
)
from execution.state_snapshots import intent_from_dict, intent_to_dict, risk_snapshot
from execution.state_v7 import (
    CHECKPOINT_FILE,
    INTEL_FILE,
    PAPER_EXCHANGE_FILE,
    POSITIONS_LEDGER_FILE,
    STATE_FILES,
    TP_SL_REGISTRY_FILE,
)
from execution.types import RejectCounts
from execution.venues.paper import PaperExchange

log = logging.getLogger(__name__)

HALT_FILE = "HALT"


@dataclass(frozen=True, slots=True)
class RunOptions:
    mode: str  # "replay" | "realtime" | "live"
    source: str  # identifies the data: "synthetic:seed=7", "csv:/path", "live:binanceusdm"
    max_bars: int | None = None
    progress: bool = True
    pace_seconds: float = 0.0


def diagnostics_settings(cfg: EngineConfig) -> diag.DiagnosticsSettings:
    d = cfg.diagnostics
    return diag.DiagnosticsSettings(
        enabled=d.enabled,
        window_signals=d.veto_metrics.window_signals,
        window_seconds=d.veto_metrics.window_seconds,
        heatmap_bucket_seconds=d.veto_metrics.heatmap_bucket_seconds,
        heatmap_max_buckets=d.veto_metrics.heatmap_max_buckets,
        tp_sl_canary_enabled=d.exit_pipeline.tp_sl_canary_enabled,
        tp_sl_underwater_threshold_pct=d.exit_pipeline.tp_sl_underwater_threshold_pct,
    )


class EngineRunner:
    def __init__(
        self,
        cfg: EngineConfig,
        opts: RunOptions,
        state_dir: str | Path,
        clock: Clock,
        exchange_factory: Callable[[dict[str, Any] | None], Any],
        bad_bars: RejectCounts | None = None,
    ) -> None:
        self.cfg = cfg
        self.opts = opts
        self.state_dir = Path(state_dir)
        self.clock = clock
        self.bad_bars = bad_bars or RejectCounts()
        self.stop_requested = False
        self.completed = False
        diag.configure(diagnostics_settings(cfg), clock.now)
        # Temp files of writes a kill interrupted: never read, but they would pile up.
        remove_stale_temp_files(
            self.state_dir, (*STATE_FILES, PAPER_EXCHANGE_FILE, CHECKPOINT_FILE)
        )
        checkpoint = self._resumable_checkpoint()
        self.resumed = checkpoint is not None
        if checkpoint is None:
            self._clear_engine_files()
        exchange = exchange_factory(checkpoint.get("exchange") if checkpoint else None)
        self.executor = Executor(cfg, exchange, clock, self.state_dir, strict=opts.mode == "replay")
        self.bars_done = 0
        self.last_risk: dict[str, Any] = {}  # the last published risk snapshot (for /metrics)
        if checkpoint is not None:
            self._restore(checkpoint)
        elif opts.mode == "live":
            self._load_live_memory()
        self.started_ts = clock.now()
        every = cfg.publish.replay_every_bars if opts.mode == "replay" else None
        self.throttle = PublishThrottle(cfg.publish.min_interval_seconds, every)
        self.state_dir.mkdir(parents=True, exist_ok=True)

    # --- checkpoint / restart -------------------------------------------------------------------

    def _resumable_checkpoint(self) -> dict[str, Any] | None:
        path = self.state_dir / CHECKPOINT_FILE
        read = read_json_defensive(path)
        data = read.data
        if read.status in ("corrupt", "empty"):  # not written by us (atomic): keep the evidence
            log.warning("checkpoint %s (%s): moved to %s", read.status, read.error,
                        quarantine_file(path))  # fmt: skip
            return None
        if not read.ok or data.get("completed", True):
            return None
        if not self._same_run(data):
            log.info(
                "checkpoint is for %s/%s: starting fresh", data.get("mode"), data.get("source")
            )
            return None
        return data

    def _same_run(self, checkpoint: dict[str, Any]) -> bool:
        return bool(
            checkpoint.get("mode") == self.opts.mode
            and checkpoint.get("source") == self.opts.source
        )

    def _clear_engine_files(self) -> None:
        """A fresh run must not inherit a finished run's files (the HALT switch stays)."""
        if self.opts.mode == "live":
            return  # live memory is reconciled with the exchange, never wiped
        for name in (*STATE_FILES, PAPER_EXCHANGE_FILE, CHECKPOINT_FILE):
            with contextlib.suppress(FileNotFoundError):
                (self.state_dir / name).unlink()

    def _restore(self, cp: dict[str, Any]) -> None:
        ex = self.executor
        ex.ledger = PositionLedger.from_dict(cp.get("ledger") or {})
        ex.registry = TpSlRegistry.from_dict(cp.get("registry") or {})
        ex.strategy.load_state(cp.get("strategy") or {})
        ex.book.load(cp.get("book") or {})
        pending = cp.get("pending_intents") or []
        ex.pending_intents = {i.intent_id: i for i in map(intent_from_dict, pending) if i}
        self.bars_done = int(cp.get("bars_processed") or 0)
        ex.stats.bars = self.bars_done
        counters = cp.get("diagnostics")
        if not isinstance(counters, dict):  # a checkpoint from before counters were embedded
            counters = read_json_defensive(self.state_dir / INTEL_FILE).data.get(
                "runtime_diagnostics"
            )
        diag.restore_cumulative(counters if isinstance(counters, dict) else {})
        report = reconcile(ex.ledger, ex.registry, ex.exchange.positions(), self.clock.now())
        log.info("resumed at bar %d (%s)", self.bars_done, report)

    def _load_live_memory(self) -> None:
        ex = self.executor
        ex.ledger = PositionLedger.from_dict(self._memory(POSITIONS_LEDGER_FILE, "ledger"))
        ex.registry = TpSlRegistry.from_dict(self._memory(TP_SL_REGISTRY_FILE, "registry"))
        reconcile(ex.ledger, ex.registry, ex.exchange.positions(), self.clock.now())

    def _memory(self, name: str, key: str) -> dict[str, Any]:
        """Read a memory file; if it is unreadable, move it aside and use the last checkpoint's
        copy (same publish, written after it), so the next publish cannot replace it by nothing.
        """
        path = self.state_dir / name
        read = read_json_defensive(path)
        if read.ok or read.status == "missing":
            return read.data
        moved = quarantine_file(path)
        cp = read_json_defensive(self.state_dir / CHECKPOINT_FILE).data
        copy = cp.get(key) if self._same_run(cp) else None
        log.warning(
            "%s %s (%s): moved to %s; %s", name, read.status, read.error, moved,
            "using the copy in the last checkpoint" if isinstance(copy, dict) else "no copy left",
        )  # fmt: skip
        return copy if isinstance(copy, dict) else {}

    # --- publishing -----------------------------------------------------------------------------

    def publish(self, running: bool = True) -> None:
        ex = self.executor
        now = self.clock.now()
        d = self.state_dir
        ex.prune_pending()
        try:
            ex.book.halted_by_file = (d / HALT_FILE).exists()
            if isinstance(ex.exchange, PaperExchange):
                ex.exchange.save(d / PAPER_EXCHANGE_FILE)
            ex.ledger.save(d / POSITIONS_LEDGER_FILE, now)
            ex.registry.save(d / TP_SL_REGISTRY_FILE, now)
            diag.set_gating_flags(ex.gating())
            marks = ex.book.marks_by_symbol()
            write_positions_state(positions_state(ex.ledger, ex.registry, marks, now), d)
            self.last_risk = risk_snapshot(ex, now)
            write_risk_snapshot(self.last_risk, d)
            diag.record_stage_success("state_publish")
            intel = compute_and_write_intel_state(
                self.engine_info(running), self._bad_bars(), now, d
            )
            counters = intel.get("runtime_diagnostics")
            write_json_atomic(d / CHECKPOINT_FILE, self.checkpoint(now, counters))
        except OSError as err:
            diag.record_stage_error("state_publish", err)
            log.error("state publish failed: %s", err)
        self.throttle.mark(self.bars_done)

    def checkpoint(self, now: float, diagnostics: dict[str, Any] | None = None) -> dict[str, Any]:
        """Return the resume point; ``diagnostics`` is the counters block published with it."""
        ex = self.executor
        if diagnostics is None:
            block: dict[str, Any] = {}
            write_runtime_diagnostics_state(block)
            diagnostics = block["runtime_diagnostics"]
        exchange = ex.exchange.to_dict() if isinstance(ex.exchange, PaperExchange) else None
        return {
            "schema_version": SCHEMA_VERSION,
            "updated_ts": to_iso(now),
            "mode": self.opts.mode,
            "source": self.opts.source,
            "completed": self.completed,
            "bars_processed": self.bars_done,
            "last_ts": now,
            "strategy": ex.strategy.state(),
            "book": ex.book.to_dict(),
            "pending_intents": [intent_to_dict(i) for i in ex.pending_intents.values()],
            "ledger": ex.ledger.to_dict(now),
            "registry": ex.registry.to_dict(now),
            "exchange": exchange,
            "diagnostics": diagnostics,
        }

    def engine_info(self, running: bool) -> dict[str, Any]:
        c = self.cfg
        return {
            "mode": self.opts.mode,
            "running": running,
            "pid": os.getpid(),
            "started_ts": to_iso(self.started_ts),
            "exchange": self.executor.exchange.name,
            "symbols": list(c.symbols),
            "bars_processed": self.bars_done,
            "source": self.opts.source,
            "config": {
                "exit_scan_stale_seconds": c.diagnostics.exit_pipeline.exit_scan_stale_seconds,
                "dashboard_refresh_seconds": c.dashboard.refresh_seconds,
                "tp_sl_underwater_threshold_pct": (
                    c.diagnostics.exit_pipeline.tp_sl_underwater_threshold_pct
                ),
                "no_signal_seconds": c.doctor.no_signal_seconds,
                "no_order_seconds": c.doctor.no_order_seconds,
                "dominant_veto_share": c.doctor.dominant_veto_share,
                "timeframe": c.data.timeframe,
            },
        }

    def _bad_bars(self) -> dict[str, Any]:
        return {"total": self.bad_bars.total, "by_symbol": self.bad_bars.by_symbol}

    # --- drivers --------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        def _stop(signum: int, frame: FrameType | None) -> None:
            self.stop_requested = True

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)

    def run_replay(self, merged: MergedBars) -> None:
        """Replay merged bars as fast as possible (the clock is the bar time)."""
        from execution.run.replay import replay

        replay(self, merged)

    def run_realtime(self, stream: SyntheticStream) -> None:
        """Paced synthetic bars stamped with the wall clock, until stopped."""
        step = self.executor.step
        skip = self.bars_done  # a resumed run continues the same price path
        while not self.stop_requested:
            merged = merge_series(stream.next_chunk(), self.cfg.symbols)
            for group in _groups(merged):
                if skip > 0:
                    skip -= len(group)
                    continue
                if self.stop_requested or self._max_reached():
                    break
                now = time.time()
                step([(b[0], now, *b[2:]) for b in group])
                self.bars_done += len(group)
                if self.throttle.due(self.bars_done):
                    self.publish()
                time.sleep(self.opts.pace_seconds)
            if self._max_reached():
                break
        self.completed = True

    def _max_reached(self) -> bool:
        return self.opts.max_bars is not None and self.bars_done >= self.opts.max_bars

    def finish(self) -> None:
        self.publish(running=False)


def _groups(merged: MergedBars) -> list[list[BarTuple]]:
    """The merged bars as one list per time (one engine loop each)."""
    rows = merged.rows()
    start = 0
    out: list[list[BarTuple]] = []
    for end in merged.loop_ends():
        out.append(list(islice(rows, end - start)))
        start = end
    return out
