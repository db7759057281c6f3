"""The executor on its own (execution/executor_live.py), built as the runner builds it: an
EngineConfig, the paper venue and a replay clock. It is driven with ``step`` and
``handle_intent``; what it did is read from its ledger and registry, the venue, the orders it
reports to its journal, and diagnostics through ``capture_diagnostics``.

Every position here comes from real trading: an intent, then a bar that fills its order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from execution.clock import ReplayClock, to_iso
from execution.config import EngineConfig, parse_config
from execution.diagnostics.testing import DiagnosticsView, capture_diagnostics
from execution.executor_live import Executor, Restored
from execution.perps.funding import FundingPayment
from execution.position_ledger import ClosedTrade, PositionLedger
from execution.position_tp_sl_registry import TpSlEntry, TpSlRegistry
from execution.run.runner import diagnostics_settings
from execution.state_snapshots import intent_from_dict, intent_to_dict
from execution.strategy.api import BarContext, Signal
from execution.strategy.per_symbol import SymbolStrategies
from execution.types import ExitKind, Fill, Intent, OrderKind, OrderRequest, Side
from execution.venues.paper import PaperExchange

T0 = 1_704_070_800.0  # 2024-01-01T01:00:00Z: clear of the 00/08/16 UTC funding times
SLIPPAGE_BPS = 10.0  # large enough that a fill visibly differs from the bar's open
COOLDOWN_SECONDS = 600.0
BTC_STEP = 0.001

Ohlc = tuple[float, float, float, float]


def small_config(*, eth_exit_only: bool = False) -> EngineConfig:
    """Two symbols; ETH can be left in the universe for its exits only (a restart after the
    config dropped it)."""
    return parse_config(
        {
            "universe": [
                {"symbol": "BTCUSDT", "qty_step": BTC_STEP},
                {"symbol": "ETHUSDT", "qty_step": 0.01, "exit_only": eth_exit_only},
            ],
            "exchange": {"slippage_bps": SLIPPAGE_BPS},
            "risk": {"cooldown_seconds_after_sl": COOLDOWN_SECONDS},
        }
    )


def flat(price: float) -> Ohlc:
    return (price, price, price, price)


class Watcher:
    """A v1 strategy that never signals: it notes which symbols' bars reach it (the screener)
    and raises on the bar times it is given (a screener stage that fails)."""

    name = "watcher"

    def __init__(self, seen: list[str], fail_at: frozenset[float]) -> None:
        self.seen = seen
        self.fail_at = fail_at
        self.bars = 0

    def on_bar(self, bar: BarContext) -> None:
        self.bars += 1
        self.seen.append(bar.symbol)
        if bar.time in self.fail_at:
            raise RuntimeError("strategy broke")

    def state(self) -> dict[str, Any]:
        return {"bars": self.bars}

    def load_state(self, state: dict[str, Any]) -> None:
        self.bars = int(state.get("bars", 0))


class Journal:
    """The executor's JournalSink, keeping the orders it reports as sent."""

    def __init__(self) -> None:
        self.orders: list[OrderRequest] = []

    def order(self, req: OrderRequest, placed: bool, status: str, venue_order_id: str) -> None:
        if placed:
            self.orders.append(req)

    def fill(self, fill: Fill) -> None: ...
    def order_status(self, cid: str, status: str, ts: float) -> None: ...
    def closed_trade(self, trade: ClosedTrade, entry: TpSlEntry | None) -> None: ...
    def funding(self, payment: FundingPayment) -> None: ...

    def exits(self) -> list[OrderRequest]:
        return [o for o in self.orders if o.kind is OrderKind.EXIT]


class Rig:
    """One executor as the runner builds it, stepped one minute of bar time per loop."""

    def __init__(
        self,
        cfg: EngineConfig | None = None,
        *,
        strict: bool = True,
        fail_at: frozenset[float] = frozenset(),
        restored: Restored | None = None,
        account: dict[str, Any] | None = None,
        start: float = T0,
    ) -> None:
        self.cfg = cfg or small_config()
        self.clock = ReplayClock(start)
        self.exchange = PaperExchange.from_config(self.cfg, self.clock)
        if account is not None:  # the venue kept its account across the restart
            self.exchange.resume(account)
        self.seen: list[str] = []
        self.journal = Journal()
        n = len(self.cfg.symbols)
        strategy = SymbolStrategies(lambda _cfg: Watcher(self.seen, fail_at), self.cfg.strategy, n)
        self.ex = Executor(
            self.cfg, self.exchange, self.clock, strict=strict, strategy=strategy,
            restored=restored, journal=self.journal,
        )  # fmt: skip

    def step(self, **bars: Ohlc) -> None:
        """Step one bar per symbol named (``BTCUSDT=(o, h, l, c)``), a minute after the last."""
        self.step_at(self.clock.now() + 60.0, **bars)

    def step_at(self, t: float, /, **bars: Ohlc) -> None:
        """Step one bar per symbol named at bar time ``t``."""
        self.clock.set(t)
        symbols = self.cfg.symbols
        self.ex.step([(symbols.index(s), t, *ohlc, 1.0) for s, ohlc in bars.items()])

    def intent(
        self, symbol: str, notional: float, ref: float, tp: float, sl: float, age: float = 0.0
    ) -> Intent:
        """A long entry intent emitted ``age`` seconds ago."""
        ts = self.clock.now() - age
        return Intent(f"{symbol}:{ts}:long", symbol, Side.LONG, notional, ref, tp, sl, ts)

    def open_long(self, symbol: str, price: float) -> TpSlEntry:
        """Enter a long at ``price`` (TP +5 %, SL -2 %) and fill it on the next bar; return its
        registered levels."""
        self.ex.handle_intent(self.intent(symbol, 500.0, price, price * 1.05, price * 0.98))
        self.step(**{symbol: flat(price)})
        levels = self.ex.registry.get(symbol)
        assert symbol in self.ex.ledger.positions and levels is not None
        return levels

    @contextmanager
    def diagnostics(self) -> Iterator[DiagnosticsView]:
        """Fresh diagnostics with the config's settings, on this rig's clock."""
        with capture_diagnostics(diagnostics_settings(self.cfg), self.clock.now) as view:
            yield view


def restart(before: Rig, cfg: EngineConfig | None = None) -> Rig:
    """Build a new executor from ``before``'s memory as a resumed run reads it back."""
    ex, now = before.ex, before.clock.now()
    memory = Restored(
        ledger=PositionLedger.from_memory(ex.ledger.to_dict(now)),
        registry=TpSlRegistry.from_memory(ex.registry.to_dict(now)),
        pending_intents={
            i.intent_id: i
            for i in (intent_from_dict(intent_to_dict(p)) for p in ex.pending_intents.values())
            if i is not None
        },
        strategy_state=ex.strategy.state(),
        book_state=ex.book.to_dict(),
    )
    return Rig(cfg, restored=memory, account=before.exchange.to_dict(), start=now)


# --- entries -------------------------------------------------------------------------------------


def test_a_passed_entry_is_one_rounded_market_order_and_its_fill_registers_shifted_tp_sl() -> None:
    rig = Rig()
    rig.step(BTCUSDT=flat(60_000.0))
    intent = rig.intent("BTCUSDT", 987.6, 60_000.0, 63_000.0, 59_000.0)
    rig.ex.handle_intent(intent)

    (order,) = rig.journal.orders
    assert order.kind is OrderKind.ENTRY and order.trigger_price is None  # a plain market order
    assert (order.side, order.reduce_only, order.intent_id) == ("buy", False, intent.intent_id)
    assert order.qty == 0.016  # 987.6 / 60 000 = 0.01646 BTC, rounded down to the 0.001 step
    assert (order.ref_price, order.tp, order.sl) == (60_000.0, 63_000.0, 59_000.0)

    rig.step(BTCUSDT=(60_200.0, 60_300.0, 60_100.0, 60_250.0))  # fills at this bar's open
    fill_price = 60_200.0 * (1 + SLIPPAGE_BPS / 1e4)  # a buy pays the slippage
    pos = rig.ex.ledger.get("BTCUSDT")
    assert pos is not None and (pos.side, pos.qty) == (Side.LONG, 0.016)
    assert pos.entry_price == pytest.approx(fill_price)
    levels = rig.ex.registry.get("BTCUSDT")
    assert levels is not None and levels.side is Side.LONG
    # The intent's distances (+3 000 to the TP, -1 000 to the SL), kept from the actual fill.
    assert levels.tp_price == pytest.approx(fill_price + 3_000.0)
    assert levels.sl_price == pytest.approx(fill_price - 1_000.0)
    assert len(rig.journal.orders) == 1 and rig.exchange.positions()["BTCUSDT"].qty == 0.016


def test_an_intent_risk_vetoes_sends_no_order_and_leaves_ledger_and_registry_untouched() -> None:
    rig = Rig()
    with rig.diagnostics() as diagnostics:
        rig.step(BTCUSDT=flat(60_000.0))
        nav = rig.exchange.balance()
        too_big = nav * rig.cfg.risk.per_trade_nav_pct * 2
        rig.ex.handle_intent(rig.intent("BTCUSDT", too_big, 60_000.0, 63_000.0, 59_000.0))
        rig.step(BTCUSDT=flat(60_000.0))  # a bar that would have filled an order

        assert diagnostics.counts_by_reason() == {"per_trade_nav_pct": 1}
    assert rig.journal.orders == [] and rig.exchange.positions() == {}
    assert rig.ex.ledger.positions == {} and rig.ex.registry.get_all_entries() == []
    assert rig.ex.pending_intents == {}


def test_entry_request_for_a_symbol_the_universe_dropped_keeps_its_quantity_unrounded() -> None:
    rig = Rig()
    gone = Intent("SOLUSDT:1:long", "SOLUSDT", Side.LONG, 100.0, 150.0, 160.0, 145.0, T0)

    req = rig.ex.entry_request(gone)  # a restart rebuilding the order it left in flight

    assert req.qty == 100.0 / 150.0  # no market rules to round it with: the raw quantity
    assert (req.symbol, req.side, req.intent_id) == ("SOLUSDT", "buy", gone.intent_id)
    assert (req.ref_price, req.tp, req.sl) == (150.0, 160.0, 145.0)


def test_prune_pending_forgets_only_the_intents_older_than_its_max_age() -> None:
    rig = Rig()
    rig.step(BTCUSDT=flat(60_000.0))
    ages = {"old": 601.0, "at_the_limit": 600.0, "fresh": 0.0}
    ids = {}
    for name, age in ages.items():
        intent = rig.intent("BTCUSDT", 200.0, 60_000.0, 63_000.0, 59_000.0, age=age)
        rig.ex.handle_intent(intent)
        ids[name] = intent.intent_id
    assert set(rig.ex.pending_intents) == set(ids.values())

    rig.ex.prune_pending(max_age_seconds=600.0)

    assert set(rig.ex.pending_intents) == {ids["at_the_limit"], ids["fresh"]}


def test_an_entry_whose_intent_was_pruned_still_gets_the_tp_sl_its_order_carried() -> None:
    rig = Rig()
    rig.step(BTCUSDT=flat(60_000.0))
    rig.ex.handle_intent(rig.intent("BTCUSDT", 600.0, 60_000.0, 63_000.0, 59_000.0, age=4_000.0))
    rig.ex.prune_pending()  # the default age: an hour
    assert rig.ex.pending_intents == {}

    rig.step(BTCUSDT=flat(60_000.0))

    fill_price = 60_000.0 * (1 + SLIPPAGE_BPS / 1e4)
    levels = rig.ex.registry.get("BTCUSDT")
    assert levels is not None and "BTCUSDT" in rig.ex.ledger.positions
    assert levels.tp_price == pytest.approx(fill_price + 3_000.0)
    assert levels.sl_price == pytest.approx(fill_price - 1_000.0)


# --- exits ---------------------------------------------------------------------------------------


def test_a_bar_whose_low_crosses_the_stop_exits_drops_the_levels_and_starts_the_cooldown() -> None:
    rig = Rig()
    with rig.diagnostics() as diagnostics:
        rig.step(BTCUSDT=flat(60_000.0), ETHUSDT=flat(3_000.0))
        sl = rig.open_long("BTCUSDT", 60_000.0).sl_price
        held = rig.ex.ledger.positions["BTCUSDT"].qty
        rig.step(BTCUSDT=(sl + 200.0, sl + 300.0, sl - 300.0, sl - 100.0), ETHUSDT=flat(3_000.0))
        stopped_at = rig.clock.now()

        assert rig.ex.ledger.get("BTCUSDT") is None and rig.ex.registry.get("BTCUSDT") is None
        assert rig.exchange.positions() == {}
        (exit_order,) = rig.journal.exits()
        assert (exit_order.exit_kind, exit_order.side, exit_order.reduce_only) == (
            ExitKind.SL, "sell", True,
        )  # fmt: skip
        assert (exit_order.trigger_price, exit_order.qty) == (sl, held)  # all of it, at the stop
        assert diagnostics.snapshot().exit_triggers_by_kind == {"sl": 1}

        last_blocked = stopped_at + COOLDOWN_SECONDS - 1.0
        rig.step_at(last_blocked, BTCUSDT=flat(58_900.0), ETHUSDT=flat(3_000.0))
        assert "cooldown" in rig.ex.gating()["BTCUSDT"]
        assert "cooldown" not in rig.ex.gating()["ETHUSDT"]  # only the stopped symbol waits
        rig.ex.handle_intent(rig.intent("BTCUSDT", 500.0, 58_900.0, 60_000.0, 58_000.0))
        assert diagnostics.counts_by_reason() == {"cooldown": 1}

        rig.step_at(stopped_at + COOLDOWN_SECONDS, BTCUSDT=flat(58_900.0))
        assert "cooldown" not in rig.ex.gating()["BTCUSDT"]


# --- stage errors --------------------------------------------------------------------------------


def test_a_stage_that_raises_in_a_replay_is_recorded_in_liveness_then_raised() -> None:
    rig = Rig(strict=True, fail_at=frozenset({T0 + 120.0}))
    with rig.diagnostics() as diagnostics:
        rig.step(BTCUSDT=flat(60_000.0))
        with pytest.raises(RuntimeError, match="strategy broke"):
            rig.step(BTCUSDT=flat(60_000.0))

        screener = diagnostics.liveness()["stages"]["screener"]
    assert screener["error_count"] == 1 and "strategy broke" in screener["last_error"]
    assert screener["last_error_ts"] == to_iso(T0 + 120.0)


def test_a_stage_that_raises_live_is_recorded_and_the_next_loops_still_run_to_the_exits() -> None:
    rig = Rig(strict=False, fail_at=frozenset({T0 + 180.0}))
    with rig.diagnostics() as diagnostics:
        rig.step(BTCUSDT=flat(60_000.0))
        sl = rig.open_long("BTCUSDT", 60_000.0).sl_price  # the second loop
        rig.step(BTCUSDT=flat(60_000.0))  # the third: the screener raises, nothing else does
        rig.step(BTCUSDT=(sl + 100.0, sl + 100.0, sl - 100.0, sl))  # the fourth: the stop

        liveness = diagnostics.liveness()
    assert liveness["loop_count"] == 4
    assert liveness["stages"]["screener"]["error_count"] == 1
    assert liveness["stages"]["screener"]["last_error_ts"] == to_iso(T0 + 180.0)
    assert liveness["stages"]["exit_scanner"]["error_count"] == 0
    assert rig.ex.ledger.positions == {}
    assert [o.exit_kind for o in rig.journal.exits()] == [ExitKind.SL]


class SignalsOrBreaks:
    """A v1 strategy that enters BTC long on every bar and raises on every ETH bar."""

    name = "signals_or_breaks"

    def on_bar(self, bar: BarContext) -> Signal | None:
        if bar.symbol == "ETHUSDT":
            raise RuntimeError("ETH strategy broke")
        return Signal(Side.LONG, bar.close * 1.05, bar.close * 0.98)

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        return None


def breaking_rig(strict: bool) -> Rig:
    rig = Rig(strict=strict)
    strategy = SymbolStrategies(lambda _cfg: SignalsOrBreaks(), rig.cfg.strategy, 2)
    rig.ex = Executor(rig.cfg, rig.exchange, rig.clock, strict=strict, strategy=strategy,
                      journal=rig.journal)  # fmt: skip
    return rig


@pytest.mark.parametrize("order", [("BTCUSDT", "ETHUSDT"), ("ETHUSDT", "BTCUSDT")])
def test_a_strategy_that_raises_on_one_symbol_loses_no_other_symbols_signal(
    order: tuple[str, str],
) -> None:
    rig = breaking_rig(strict=False)
    with rig.diagnostics() as diagnostics:
        rig.step(**{symbol: flat(60_000.0 if symbol == "BTCUSDT" else 3_000.0) for symbol in order})
        accounting = diagnostics.snapshot().accounting
        screener = diagnostics.liveness()["stages"]["screener"]
    # BTC's signal was counted and went on to risk and the router, whichever bar came first.
    assert [(o.symbol, o.kind) for o in rig.journal.orders] == [("BTCUSDT", OrderKind.ENTRY)]
    assert accounting["total_signals"] == accounting["entry_orders"] == 1
    assert accounting["identity_ok"], accounting
    assert screener["error_count"] == 1 and "ETH strategy broke" in screener["last_error"]


def test_in_a_replay_the_strategy_error_stops_the_run_after_the_other_signals_outcomes() -> None:
    rig = breaking_rig(strict=True)
    with rig.diagnostics() as diagnostics:
        with pytest.raises(RuntimeError, match="ETH strategy broke"):
            rig.step(ETHUSDT=flat(3_000.0), BTCUSDT=flat(60_000.0))
        accounting = diagnostics.snapshot().accounting
    assert [o.symbol for o in rig.journal.orders] == ["BTCUSDT"]
    assert accounting["identity_ok"], accounting


# --- restart -------------------------------------------------------------------------------------


def test_an_executor_built_from_restored_memory_runs_the_positions_and_entries_in_it() -> None:
    before = Rig()
    before.step(BTCUSDT=flat(60_000.0), ETHUSDT=flat(3_000.0))
    sl = before.open_long("BTCUSDT", 60_000.0).sl_price
    eth = before.intent("ETHUSDT", 300.0, 3_000.0, 3_150.0, 2_940.0)
    before.ex.handle_intent(eth)  # accepted by the venue, not filled yet: pending at the stop

    after = restart(before)
    held = after.ex.ledger.get("BTCUSDT")
    assert held is not None and held.qty == before.ex.ledger.positions["BTCUSDT"].qty
    assert set(after.ex.pending_intents) == {eth.intent_id}

    after.step(BTCUSDT=(sl + 100.0, sl + 100.0, sl - 100.0, sl), ETHUSDT=flat(3_000.0))

    assert "BTCUSDT" not in after.ex.ledger.positions  # the restored stop fired
    assert [(o.symbol, o.exit_kind) for o in after.journal.exits()] == [("BTCUSDT", ExitKind.SL)]
    assert "ETHUSDT" in after.ex.ledger.positions and after.ex.registry.get("ETHUSDT") is not None
    assert after.ex.pending_intents == {}  # the restored entry filled: no longer pending
    # The strategy went on from the bars it had seen (two BTC, one ETH), plus this loop's.
    assert after.ex.strategy.state() == {"bars": [3, 2]}


def test_an_exit_only_symbol_never_reaches_the_screener_but_its_position_still_exits() -> None:
    before = Rig()
    before.step(BTCUSDT=flat(60_000.0), ETHUSDT=flat(3_000.0))
    sl = before.open_long("ETHUSDT", 3_000.0).sl_price

    after = restart(before, small_config(eth_exit_only=True))
    after.step(BTCUSDT=flat(60_000.0), ETHUSDT=flat(3_000.0))
    after.step(BTCUSDT=flat(60_000.0), ETHUSDT=(sl + 10.0, sl + 10.0, sl - 10.0, sl))

    assert after.seen == ["BTCUSDT", "BTCUSDT"]  # ETH's bars never reached the strategy
    assert "ETHUSDT" not in after.ex.ledger.positions and after.ex.registry.get("ETHUSDT") is None
    assert [(o.symbol, o.exit_kind) for o in after.journal.exits()] == [("ETHUSDT", ExitKind.SL)]
