"""The live loop: poll marks and closed bars from the venue, step the executor, reconcile."""

from __future__ import annotations

import logging
import time

from execution import diagnostics_metrics as diag
from execution.market.bars import timeframe_seconds
from execution.run.reconcile import reconcile
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
        self.poll = poll_seconds
        self.cfg = runner.cfg
        self.last_bar_ts: dict[str, float] = {}
        self.loops = 0
        self.bars_done = runner.bars_done

    def warm_up(self) -> None:
        """Feed recent closed bars to the strategy and the return buffers (no trading)."""
        ex = self.runner.executor
        n = max(self.cfg.strategy.slow, self.cfg.risk.lookback_bars // 2) + 5
        for idx, symbol in enumerate(ex.symbols):
            bars = self.exchange.fetch_recent_bars(symbol, self.cfg.data.timeframe, n)
            for b in bars:
                ex.strategy.update(idx, b.high, b.low, b.close)
                ex.book.push_close(idx, b.close)
            if bars:
                self.last_bar_ts[symbol] = bars[-1].ts

    def new_bars(self) -> list[BarTuple]:
        """Return every bar closed since the last poll (none skipped however slow the loop)."""
        ex = self.runner.executor
        tf = timeframe_seconds(self.cfg.data.timeframe)
        now = ex.clock.now()
        out: list[BarTuple] = []
        for idx, symbol in enumerate(ex.symbols):
            last = self.last_bar_ts.get(symbol)
            missing = MAX_CATCH_UP if last is None else int((now - last) // tf) + 2
            limit = max(3, min(MAX_CATCH_UP, missing))
            for b in self.exchange.fetch_recent_bars(symbol, self.cfg.data.timeframe, limit):
                if b.ts > self.last_bar_ts.get(symbol, float("-inf")):
                    out.append((idx, b.ts, b.open, b.high, b.low, b.close, b.volume))
                    self.last_bar_ts[symbol] = b.ts
        return out

    def reconcile(self) -> None:
        ex = self.runner.executor
        report = reconcile(ex.ledger, ex.registry, self.exchange.positions(), ex.clock.now())
        if report.changed:
            log.warning("reconcile: %s", report)

    def once(self) -> None:
        ex = self.runner.executor
        try:
            marks = self.exchange.marks(ex.symbols)
            bars = self.new_bars()
        except ExchangeError as err:  # the loop survives an unreachable exchange
            diag.record_stage_error("positions", err)
            log.warning("live: market data unavailable: %s", err)
            return
        ex.step_live(marks, bars)
        self.loops += 1
        if self.loops % self.cfg.exchange.reconcile_every_loops == 0:
            self.reconcile()
        self.bars_done += len(bars)
        self.runner.check_point(self.bars_done)  # commits every loop, publishes when due

    def run(self, max_loops: int | None = None) -> None:
        self.warm_up()
        self.reconcile()
        self.runner.publish()
        while not self.runner.stop_requested:
            self.once()
            if max_loops is not None and self.loops >= max_loops:
                break
            time.sleep(self.poll)
