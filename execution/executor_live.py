"""The loop: data -> marks -> screener -> risk -> router -> positions/ledger/registry -> exits.

One :meth:`Executor.step` is one loop iteration over the bars (or marks) that share a time.
The executor is the imperative shell: it owns the exchange, the clock and the state files;
the stages it calls (screener, risk_limits.check_order, exit_scanner.decide_exit) are pure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any, Protocol

from execution import diagnostics_metrics as diag
from execution.book import Book
from execution.clock import Clock
from execution.config import EngineConfig
from execution.exit_scanner import (
    NOTHING_OPEN,
    ExitPipelineCounts,
    PriceObs,
    bar_prices,
    find_exits,
)
from execution.market.bars import BarColumns
from execution.order_router import OrderRouter, RouteResult, client_order_id, entry_order
from execution.perps.funding import FundingPayment
from execution.position_ledger import ClosedTrade, PositionLedger
from execution.position_tp_sl_registry import TpSlEntry, TpSlRegistry, levels_at_fill
from execution.quiet import skip_quiet
from execution.risk_limits import RiskLimits, evaluate_intent, gating_flags
from execution.signal_screener import SignalScreener, Strategy, build_strategy
from execution.types import BarTuple, ExitIntent, ExitKind, Fill, Intent, OrderKind, OrderRequest
from execution.venues.base import Exchange, OrderEndsVenue, QuietBarsVenue, feed_bars

log = logging.getLogger(__name__)

PENDING_MAX_AGE_SECONDS = 3600.0  # an entry not filled within this is not coming
_NO_PRICES: Mapping[str, Any] = MappingProxyType({})  # a loop without open positions
_NONE_OPEN = NOTHING_OPEN.counts  # what the scan reports with nothing open (the same object)


@dataclass(frozen=True, slots=True)
class Restored:
    """What a resumed run hands the executor: its memory as the last commit left it."""

    ledger: PositionLedger
    registry: TpSlRegistry
    pending_intents: Mapping[str, Intent]
    strategy_state: Mapping[str, Any]
    book_state: Mapping[str, Any]


class JournalSink(Protocol):
    """Where the executor reports what it did, for the trade journal (the store's batch)."""

    def order(self, req: OrderRequest, placed: bool, status: str, venue_order_id: str) -> None: ...
    def fill(self, fill: Fill) -> None: ...
    def order_status(self, cid: str, status: str, ts: float) -> None: ...
    def closed_trade(self, trade: ClosedTrade, entry: TpSlEntry | None) -> None: ...
    def funding(self, payment: FundingPayment) -> None: ...


class Executor:
    def __init__(
        self,
        cfg: EngineConfig,
        exchange: Exchange,
        clock: Clock,
        *,
        strict: bool = False,
        strategy: Strategy | None = None,
        restored: Restored | None = None,
        journal: JournalSink | None = None,
    ) -> None:
        self.cfg = cfg
        self.exchange = exchange
        # The paper venue can tell when a replay's bars would only mark prices (execution/quiet.py).
        self.quiet_venue = exchange if isinstance(exchange, QuietBarsVenue) else None
        self.clock = clock
        self.strict = strict  # replay: a stage error is a bug, raise it after recording it
        self.journal = journal
        self.symbols = cfg.symbols
        self.ledger = restored.ledger if restored else PositionLedger()
        self.registry = restored.registry if restored else TpSlRegistry()
        self.pending_intents: dict[str, Intent] = dict(restored.pending_intents) if restored else {}
        self.book = Book(self.symbols, cfg.risk, exchange.balance())
        self.strategy = strategy or build_strategy(cfg.strategy, len(self.symbols))
        if restored is not None:
            self.strategy.load_state(dict(restored.strategy_state))
            self.book.load(dict(restored.book_state))
        self.screener = SignalScreener(
            self.strategy,
            self.symbols,
            cfg.strategy.notional_nav_pct,
            lambda: self.book.nav,
            cfg.strategy.risk_per_trade_nav_pct,
            position_of=lambda symbol: self.ledger.get(symbol),  # the strategy's position view
            open_count=lambda: len(self.ledger.positions),
        )
        rules = {s: exchange.market_rules(s) for s in self.symbols}
        tiers = {s.symbol: s.tier for s in cfg.universe}
        self.limits = RiskLimits(cfg.risk, tiers, rules)
        self.rules = rules
        self.router = OrderRouter(exchange, max_retries=cfg.exchange.max_retries)
        # Called with the entry's intent just before it is sent (pending): a live runner commits
        # there, so a restart after a kill knows its TP/SL and that it was in flight.
        self.before_entry: Callable[[Intent], object] | None = None
        # Symbols whose bars never reach the screener: their positions only run to their exits.
        self._exit_only = frozenset(i for i, s in enumerate(cfg.universe) if s.exit_only)
        ep = cfg.diagnostics.exit_pipeline
        self._underwater = ep.tp_sl_underwater_threshold_pct
        self._canary = ep.tp_sl_canary_enabled
        # The exit counts last reported to diagnostics: reported again only when they change
        # (equal counts are the same object), so a loop makes one diagnostics call.
        self._reported_counts: ExitPipelineCounts | None = None
        # Live: marks of symbols outside the universe (adopted positions'), for the canary.
        self._outside_marks: dict[str, float] = {}
        # A venue that takes a loop's bars in one call (the paper exchange) is fed that way, any
        # other one Bar at a time; the paper venue answers False when nothing waits to be polled
        # (nearly every loop of a replay). A perpetuals venue may report the funding it settles,
        # and a venue the orders it ended without a fill (a canceled exit): paper, ccxt.
        self._poll_funding: Callable[[], Sequence[FundingPayment]] | None = getattr(
            exchange, "poll_funding", None
        )
        self._order_ends_venue = exchange if isinstance(exchange, OrderEndsVenue) else None
        self._on_bars: Callable[[Sequence[str], Sequence[BarTuple]], bool | None] = getattr(
            exchange, "on_bars", None
        ) or partial(feed_bars, exchange.on_bar)

    # --- one loop iteration ---------------------------------------------------------------------

    def step(self, bars: Sequence[BarTuple]) -> None:
        """Run one loop iteration over bars that share a timestamp (one per symbol at most).

        The exchange sees each bar first (paper: pending orders fill at its open); the exit
        scanner tests the bar's open/high/low.
        """
        polled = self._on_bars(self.symbols, bars) is not False
        self._cycle(bars, None, poll=polled)

    def skip_quiet(self, cols: BarColumns, start: int, stop: int, through: float) -> int:
        """Pass over the leading quiet bars of a one-symbol replay's ``cols[start:stop]``, up to
        the first timed at or after ``through`` included, as :meth:`step` on each would
        (execution/quiet.py); return how many (0: step the next bar)."""
        return skip_quiet(self, cols, start, stop, through)

    def exit_counts_stand(self) -> bool:
        """Whether a scan of bars that reach no TP/SL would report the exit counts last reported
        (so make no diagnostics call): nothing open and zeros reported, or every open position
        with its TP/SL (the under-water canary then reads no mark)."""
        if not self.ledger.positions:
            return self._reported_counts is _NONE_OPEN
        scan = find_exits(
            self.ledger, self.registry, _NO_PRICES, self.book.marks_view, 0.0,
            self._underwater, self._canary,
        )  # fmt: skip
        return not scan.missing_symbols and scan.counts is self._reported_counts

    def step_live(self, marks: Mapping[str, float], bars: Sequence[BarTuple]) -> None:
        """Run one live iteration: exits on the marks, the screener on newly closed bars."""
        now, index, outside = self.clock.now(), self.book.index, {}
        for symbol, mark in marks.items():
            i = index.get(symbol)
            if i is not None and mark > 0:
                self.book.set_mark(i, now, mark)
            elif mark > 0:
                outside[symbol] = mark
        self._outside_marks = outside
        self._cycle(bars, {s: (m, m, m, m) for s, m in marks.items()}, closes_are_marks=False)
        diag.record_loop_end()  # records made between live loops read the wall clock again

    def _cycle(
        self,
        bars: Sequence[BarTuple],
        prices: Mapping[str, PriceObs] | None,
        closes_are_marks: bool = True,
        *,
        poll: bool = True,
    ) -> None:
        """One pass of the stages; ``prices`` None means "each bar's open/high/low/close";
        ``poll`` False: the venue said it has no fill or funding payment to report.

        Hot path: a stage is a try/except, which costs nothing until it raises, rather than a
        context manager entered once per stage; the bar prices are only gathered, and the exit
        scanner only asked, when a position is open or its counts have to go back to zero.
        """
        now = self.clock.now()
        diag.record_loop(now)  # also the exit scan's run: the scan below is in every loop
        positions = self.ledger.positions
        try:
            if poll:
                self.apply_fills()
            if closes_are_marks:
                self.book.on_closes(bars)
            else:
                self.book.push_closes(bars)
        except Exception as exc:
            self._stage_failed("positions", exc)
        if positions or self._reported_counts is not _NONE_OPEN:
            try:
                if prices is None:
                    prices = bar_prices(self.symbols, bars, positions) if positions else _NO_PRICES
                self.scan_exits(prices, now)
            except Exception as exc:
                self._stage_failed("exit_scanner", exc)
        intents: Sequence[Intent] = ()
        screener_error: Exception | None = None
        try:
            if self._exit_only:
                bars = [b for b in bars if b[0] not in self._exit_only]
            # A strategy that raised on one bar: the other symbols' signals still get outcomes.
            intents, screener_error = self.screener.screen(bars)
        except Exception as exc:
            self._stage_failed("screener", exc)
        for intent in intents:
            try:
                self.handle_intent(intent)
            except Exception as exc:  # this intent stays unaccounted: the identity shows it
                self._stage_failed("risk", exc)
        if screener_error is not None:
            self._stage_failed("screener", screener_error)
        self.book.update_nav(self.exchange.balance(), positions.values())

    def _stage_failed(self, name: str, exc: Exception) -> None:
        """Record a stage error in liveness; in a replay (strict) it is a bug: re-raise it."""
        diag.record_stage_error(name, exc)
        if self.strict:  # the run stops on it and says so in one line (-v: with the trace)
            raise exc
        log.exception("stage %s failed", name)

    # --- fills -> ledger / registry -------------------------------------------------------------

    def apply_fills(self) -> None:
        # Funding first: it was settled on the positions held before this loop's fills.
        if self._poll_funding is not None:
            for payment in self._poll_funding():
                self.ledger.apply_funding(payment.symbol, payment.payment)
                if self.journal is not None:
                    self.journal.funding(payment)
        for fill in self.exchange.poll_fills():
            self.apply_fill(fill)
        for cid, status, ts in (
            self._order_ends_venue.poll_order_ends() if self._order_ends_venue is not None else ()
        ):
            if self.journal is not None:  # after the order's fills: its end is its last word
                self.journal.order_status(cid, status, ts)

    def apply_fill(self, fill: Fill) -> None:
        symbol = fill.symbol
        levels = self.registry.get(symbol)
        closed = self.ledger.apply_fill(fill)
        if self.journal is not None:
            self.journal.fill(fill)
            if closed is not None:
                self.journal.closed_trade(closed, levels)
        if fill.kind is OrderKind.ENTRY:
            intent = self.pending_intents.pop(fill.intent_id or "", None)
            if symbol in self.ledger.positions:
                self._register_levels(fill, intent)
        if fill.exit_kind is ExitKind.LIQUIDATION:  # the venue's own exit: no trigger counted it
            diag.record_exit_trigger(ExitKind.LIQUIDATION.value, symbol)
        if symbol not in self.ledger.positions:
            self.registry.remove(symbol)
            if fill.exit_kind is ExitKind.SL or fill.exit_kind is ExitKind.LIQUIDATION:
                cooldown = self.cfg.risk.cooldown_seconds_after_sl
                self.book.cooldown_until[symbol] = fill.ts + cooldown

    def _register_levels(self, fill: Fill, intent: Intent | None) -> None:
        """Register TP/SL at the entry's distances from the actual fill price.

        The levels come with the fill (the order carried them); the intent is the fallback for
        a venue that does not carry them back.
        """
        if fill.ref_price is not None and fill.tp is not None and fill.sl is not None:
            ref, tp0, sl0 = fill.ref_price, fill.tp, fill.sl
        elif intent is not None:
            ref, tp0, sl0 = intent.ref_price, intent.tp, intent.sl
        else:
            return  # nothing says where the levels are: the canary counts the position
        pos = self.ledger.positions[fill.symbol]
        if pos.side.order_side != fill.side:
            return  # the fill reduced or flipped an opposite position: not this entry's levels
        tp, sl = levels_at_fill(ref, tp0, sl0, fill.price)
        if tp <= 0 or sl <= 0:
            return
        self.registry.register(TpSlEntry(fill.symbol, pos.side, tp, sl, fill.ts))

    # --- exits ----------------------------------------------------------------------------------

    def scan_exits(self, prices: Mapping[str, PriceObs], now: float | None = None) -> None:
        """Route the exits this loop's prices trigger; report the exit pipeline's counts."""
        marks = self.book.marks_view if self.ledger.positions else _NO_PRICES
        if self._outside_marks:
            marks = self.book.marks_by_symbol() | self._outside_marks
        result = find_exits(
            self.ledger, self.registry, prices, marks, self.clock.now() if now is None else now,
            self._underwater, self._canary,
        )  # fmt: skip
        counts = result.counts
        if counts is not self._reported_counts:
            diag.update_exit_pipeline_status(
                counts.open_positions_count, counts.tp_sl_registered_count,
                counts.tp_sl_missing_count, counts.underwater_without_tp_sl_count,
            )  # fmt: skip
            self._reported_counts = counts
        exit_intents = result.exit_intents
        if exit_intents:
            for exit_intent in exit_intents:
                diag.record_exit_trigger(exit_intent.kind.value, exit_intent.symbol)
            for exit_intent in exit_intents:
                self.route_exit(exit_intent)
            self.apply_fills()

    def route_exit(self, ei: ExitIntent) -> RouteResult:
        """Send a reduce-only exit (never through risk: exits are never vetoed)."""
        trigger = ei.price if ei.kind is not ExitKind.SIGNAL else None
        req = OrderRequest(
            client_order_id=client_order_id(
                f"{ei.symbol}:{int(ei.ts * 1000)}", OrderKind.EXIT, ei.kind.value, ei.ts
            ),
            symbol=ei.symbol,
            side="sell" if ei.side.sign > 0 else "buy",
            qty=ei.qty,
            kind=OrderKind.EXIT,
            reduce_only=True,
            trigger_price=trigger,
            exit_kind=ei.kind,
            ts=ei.ts,
        )
        return self._submit(req)

    def _submit(self, req: OrderRequest) -> RouteResult:
        result = self.router.submit(req)
        if self.journal is not None:
            ack = result.ack
            status = ack.status if ack is not None else "failed"
            venue_id = ack.exchange_order_id if ack is not None else ""
            self.journal.order(req, result.placed, status, venue_id)
        return result

    # --- entries --------------------------------------------------------------------------------

    def handle_intent(self, intent: Intent) -> None:
        """Reverse an opposite position if configured, then risk, then the router."""
        closing: frozenset[str] = frozenset()
        pos = self.ledger.positions.get(intent.symbol)
        if (
            pos is not None
            and pos.side is not intent.side
            and self.cfg.strategy.reverse_on_opposite
        ):
            ei = ExitIntent(
                intent.symbol, pos.side, pos.qty, intent.ref_price, ExitKind.SIGNAL, intent.ts
            )
            if self.route_exit(ei).placed:
                diag.record_exit_trigger(ExitKind.SIGNAL.value, intent.symbol)
                closing = frozenset({intent.symbol})
        view = self.book.view(self.ledger.positions.values(), self.clock.now(), closing)
        verdict = evaluate_intent(intent, view, self.limits)
        if verdict.vetoed:
            return
        try:
            self._send_entry(intent)
        except Exception as exc:
            self._stage_failed("router", exc)

    def entry_request(self, intent: Intent) -> OrderRequest:
        """The market order an entry intent is sent as (a restart rebuilds the one in flight)."""
        return entry_order(intent, self.rules.get(intent.symbol))

    def _send_entry(self, intent: Intent) -> None:
        req = self.entry_request(intent)
        self.pending_intents[intent.intent_id] = intent
        if self.before_entry is not None:
            self.before_entry(intent)
        result = self._submit(req)
        if result.placed:
            self.apply_fills()  # live venues fill market orders at once
        elif not (result.error or "").startswith("transient"):
            self.pending_intents.pop(intent.intent_id, None)
        # A transient failure may hide an order the venue accepted (its lookups failed too):
        # keep the intent until prune_pending ages it out (the order carries its TP/SL anyway).

    def prune_pending(self, max_age_seconds: float = PENDING_MAX_AGE_SECONDS) -> None:
        """Forget intents whose order never filled within ``max_age_seconds``."""
        cutoff = self.clock.now() - max_age_seconds
        stale = [k for k, i in self.pending_intents.items() if i.ts < cutoff]
        for key in stale:
            del self.pending_intents[key]

    # --- views for publishing -------------------------------------------------------------------

    def gating(self) -> dict[str, list[str]]:
        view = self.book.view(self.ledger.positions.values(), self.clock.now())
        return {s: gating_flags(s, view, self.limits) for s in self.symbols}
