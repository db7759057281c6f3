"""The live loop: poll marks and closed bars from the venue, step the executor, reconcile."""

from __future__ import annotations

import logging
import time

from execution import diagnostics_metrics as diag
from execution.market.bars import timeframe_seconds
from execution.run.runner import EngineRunner
from execution.signal_screener import BarTuple
from execution.venues.base import ExchangeError
from execution.venues.ccxt_venue import CcxtExchange

log = logging.getLogger(__name__)

MAX_CATCH_UP = 500  # bars fetched at most per symbol and loop after a pause


class LiveLoop:
    """Poll marks and closed bars, step the executor, reconcile every N loops, publish."""

    def __init__(self, runner: EngineRunner, exchange: CcxtExchange, poll_seconds: float) -> None:
        self.runner = runner
        self.exchange = exchange
        self.poll_seconds = poll_seconds
        self.cfg = runner.cfg
        self.last_bar_ts: dict[str, float] = {}
        self.loops = 0
        self.bars_done = runner.bars_done

    def warm_up(self) -> None:
        """Feed recent closed bars to the strategy and the return buffers (no trading)."""
        executor = self.runner.executor
        # Enough bars for the slow indicator, and half a return window so that VaR has returns
        # to estimate from on the first loop.
        warm_bars = max(self.cfg.strategy.slow, self.cfg.risk.lookback_bars // 2) + 5
        for idx, symbol in enumerate(executor.symbols):
            bars = self.exchange.fetch_recent_bars(symbol, self.cfg.data.timeframe, warm_bars)
            for bar in bars:
                executor.screener.warm_up(
                    (idx, bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume)
                )
                executor.book.push_close(idx, bar.close)
            if bars:
                self.last_bar_ts[symbol] = bars[-1].ts

    def new_bars(self) -> list[BarTuple]:
        """Return every bar closed since the last poll (none skipped however slow the loop)."""
        executor = self.runner.executor
        bar_seconds = timeframe_seconds(self.cfg.data.timeframe)
        now = executor.clock.now()
        closed: list[BarTuple] = []
        for idx, symbol in enumerate(executor.symbols):
            last = self.last_bar_ts.get(symbol)
            missing = MAX_CATCH_UP if last is None else int((now - last) // bar_seconds) + 2
            limit = max(3, min(MAX_CATCH_UP, missing))
            for bar in self.exchange.fetch_recent_bars(symbol, self.cfg.data.timeframe, limit):
                if bar.ts > self.last_bar_ts.get(symbol, float("-inf")):
                    closed.append((idx, bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume))
                    self.last_bar_ts[symbol] = bar.ts
        return closed

    def mark_symbols(self) -> list[str]:
        """Return the universe's symbols, then those of ledger positions outside it (a
        reconcile adopted them): their exits and the under-water canary need their marks too."""
        executor = self.runner.executor
        outside = [s for s in executor.ledger.positions if s not in executor.book.index]
        if outside:  # one the exchange no longer lists must not cost the loop every mark
            unknown = self.exchange.unknown_symbols(outside)
            outside = [s for s in outside if s not in unknown]
        return [*executor.symbols, *outside]

    def reconcile(self) -> None:
        """Make the ledger agree with the exchange's positions; log what changed."""
        report = self.runner.reconcile_venue()
        if report.changed:
            log.warning("reconcile: %s", report)

    def once(self) -> None:
        """Run one loop: fetch marks and new bars, step, reconcile when due, check point."""
        executor = self.runner.executor
        try:
            marks = self.exchange.marks(self.mark_symbols())
            bars = self.new_bars()
        except ExchangeError as err:  # the loop survives an unreachable exchange
            diag.record_stage_error("positions", err)
            log.warning("live: market data unavailable: %s", err)
            return
        executor.step_live(marks, bars)
        self.loops += 1
        if self.loops % self.cfg.exchange.reconcile_every_loops == 0:
            self.reconcile()
        self.bars_done += len(bars)
        self.runner.check_point(self.bars_done)  # commits every loop, publishes when due

    def run(self, max_loops: int | None = None) -> None:
        """Warm up, reconcile, publish, then loop until stopped (or ``max_loops`` loops)."""
        self.warm_up()
        self.reconcile()
        self.runner.publish()
        while not self.runner.stop_requested:
            self.once()
            if max_loops is not None and self.loops >= max_loops:
                break
            time.sleep(self.poll_seconds)
