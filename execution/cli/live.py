"""`v7 run --live`: the same executor on a ccxt exchange (Binance USD-M by default).

Keys come from environment variables only; a missing key, a refused key or an unknown symbol
stops the start with exit code 2 before anything is written. Without ``--yes`` the operator
confirms on the terminal.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from execution import diagnostics_metrics as diag
from execution.clock import WallClock
from execution.config import EngineConfig
from execution.executor_live import BarTuple
from execution.market.bars import timeframe_seconds
from execution.run.metrics_exporter import metrics_endpoint
from execution.run.reconcile import reconcile
from execution.run.runner import EngineRunner, RunOptions
from execution.run.summary import format_summary
from execution.venues.base import AuthenticationFailed, ExchangeError
from execution.venues.ccxt_venue import CcxtExchange, MissingKeysError

log = logging.getLogger(__name__)

MAX_CATCH_UP = 500  # bars fetched at most per symbol and loop after a pause


def _confirm(
    exchange: CcxtExchange, cfg: EngineConfig, testnet: bool, ask: Callable[[str], str]
) -> bool:
    where = "TESTNET/demo" if testnet else "REAL MONEY"
    prompt = (
        f"v7 will trade {len(cfg.symbols)} symbols on {exchange.name} ({where}). "
        "Type 'yes' to start: "
    )
    try:
        return ask(prompt).strip().lower() == "yes"
    except EOFError:
        return False


def run_live(
    cfg: EngineConfig,
    args: argparse.Namespace,
    state_dir: Path,
    *,
    ccxt_client: Any | None = None,
    env: Mapping[str, str] | None = None,
    ask: Callable[[str], str] = input,
) -> int:
    """Start the live engine; return the process exit code."""
    clock = WallClock()
    try:
        exchange = CcxtExchange.from_config(
            cfg, clock, testnet=args.testnet, env=env, ccxt_client=ccxt_client
        )
        exchange.load_markets()
    except MissingKeysError as err:
        print(f"live: {err}", file=sys.stderr)
        return 2
    except AuthenticationFailed as err:
        print(f"live: the exchange refused the API keys ({err})", file=sys.stderr)
        return 2
    except ExchangeError as err:
        print(f"live: cannot reach the exchange: {err}", file=sys.stderr)
        return 1
    unknown = exchange.unknown_symbols(cfg.symbols)
    if unknown:
        print(
            f"live: universe: unknown symbols on {exchange.name}: {', '.join(unknown)}",
            file=sys.stderr,
        )
        return 2
    if not args.yes and not _confirm(exchange, cfg, args.testnet, ask):
        print("live: not confirmed; nothing was done", file=sys.stderr)
        return 2
    opts = RunOptions("live", f"live:{exchange.name}", args.max_bars, False)
    runner = EngineRunner(cfg, opts, state_dir, clock, lambda saved: exchange)
    runner.install_signal_handlers()
    started = time.perf_counter()
    with metrics_endpoint(cfg, lambda: runner.last_risk):
        LiveLoop(runner, exchange, args.poll).run(args.max_loops)
    runner.finish()
    print(format_summary(runner, time.perf_counter() - started, runner.bars_done))
    return 0


class LiveLoop:
    """Poll marks and closed bars, step the executor, reconcile every N loops, publish."""

    def __init__(self, runner: EngineRunner, exchange: CcxtExchange, poll_seconds: float) -> None:
        self.runner = runner
        self.exchange = exchange
        self.poll = poll_seconds
        self.cfg = runner.cfg
        self.last_bar_ts: dict[str, float] = {}
        self.loops = 0

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
        self.runner.bars_done += len(bars)
        self.loops += 1
        if self.loops % self.cfg.exchange.reconcile_every_loops == 0:
            self.reconcile()

    def run(self, max_loops: int | None = None) -> None:
        self.warm_up()
        self.reconcile()
        self.runner.publish()
        while not self.runner.stop_requested:
            self.once()
            if self.runner.throttle.due(self.runner.bars_done):
                self.runner.publish()
            if max_loops is not None and self.loops >= max_loops:
                break
            time.sleep(self.poll)
        self.runner.completed = True
