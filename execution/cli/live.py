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

from execution.clock import WallClock
from execution.config import EngineConfig
from execution.run.live import LiveLoop
from execution.run.metrics_exporter import PortInUse, metrics_endpoint
from execution.run.runner import EngineRunner, RunOptions, RunRefused
from execution.run.summary import format_summary
from execution.venues.base import AuthenticationFailed, ExchangeError
from execution.venues.ccxt_venue import CcxtExchange, MissingKeysError

log = logging.getLogger(__name__)


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
    from execution.cli.held_symbols import with_held_symbols
    from execution.cli.run import UsageError, start_strategy

    cfg = with_held_symbols(cfg, state_dir, "live")
    try:
        strategy = start_strategy(cfg)
    except UsageError as err:  # before any connection: a plug-in that does not import is exit 2
        print(f"live: {err}", file=sys.stderr)
        return 2
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
    if cfg.perps.set_on_start:  # the account's margin as the config says (docs/perpetuals.md)
        leverage = {s.symbol: s.leverage or cfg.perps.leverage for s in cfg.universe}
        try:
            exchange.set_margin(leverage, cfg.perps.margin_mode)
        except ExchangeError as err:
            print(f"live: cannot set margin mode and leverage: {err}", file=sys.stderr)
            return 1
    account = f"{exchange.name}{'-testnet' if args.testnet else ''}"
    opts = RunOptions("live", f"live:{exchange.name}", args.max_bars, False, fresh=args.fresh,
                      account=account)  # fmt: skip
    # The metrics endpoint is up before the runner exists: it serves an empty risk snapshot until
    # there is a runner, then the runner's last one.
    holder: dict[str, EngineRunner] = {}
    try:
        with metrics_endpoint(cfg, lambda: holder["runner"].last_risk if holder else {}, state_dir):
            runner = EngineRunner(
                cfg, opts, state_dir, clock, lambda _: exchange, strategy=strategy
            )
            holder["runner"] = runner
            runner.install_signal_handlers()
            started = time.perf_counter()
            try:
                LiveLoop(runner, exchange, args.poll).run(args.max_loops)
            finally:
                runner.finish()
    except (RunRefused, PortInUse) as err:
        print(f"live: {err}", file=sys.stderr)
        return 2
    print(format_summary(runner, time.perf_counter() - started, runner.bars_done))
    return runner.exit_code()
