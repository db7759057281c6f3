"""Exchange faults: timeouts after accept, 429, 5xx, rejections, partial fills.

Two venues: the paper exchange's seeded FaultPlan under a whole engine replay, and the ccxt
adapter against canned Binance answers (ccxt's real request, error and parsing code). In both,
every call to the venue is recorded, and the record proves: no order lost (every order the venue
accepted is one the engine knows as placed and whose fills it applied), none doubled (one client
id, one venue order, one accept), and every failure counted once in the router, the adapter and
the diagnostics.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ccxt_canned import API_KEY, API_SECRET, SERVER_MS, CannedBinance, canned_client

from execution import diagnostics_metrics as diag
from execution.clock import ReplayClock
from execution.config import load_config
from execution.market.bars import merge_series, synthetic_series
from execution.order_router import OrderRouter, RouteResult, client_order_id
from execution.position_ledger import PositionLedger
from execution.position_tp_sl_registry import TpSlRegistry
from execution.run.reconcile import reconcile
from execution.run.runner import EngineRunner, RunOptions
from execution.types import Fill, OrderAck, OrderKind, OrderRequest
from execution.venues.base import OrderRejected, TransientExchangeError
from execution.venues.ccxt_venue import CcxtExchange, venue_client_id
from execution.venues.paper import FaultPlan, PaperExchange

from .helpers import BASE_CONFIG, FIGURES

pytestmark = pytest.mark.timeout(120)


# --- the paper exchange's fault mode under a whole replay -----------------------------------------


@dataclass
class Call:
    cid: str
    fault: str  # what the plan drew for this call
    accepted: bool  # the venue now holds the order (whatever the caller was told)
    raised: str | None


class RecordingPaper(PaperExchange):
    """The paper venue, recording every place_order call and every fill it reports."""

    def __init__(self, *args: Any, plan: FaultPlan, **kwargs: Any) -> None:
        super().__init__(*args, faults=plan, **kwargs)
        self._shadow = plan.draws()  # the same seeded sequence: which fault each call gets
        self.calls: list[Call] = []
        self.fills: list[Fill] = []

    def place_order(self, req: OrderRequest) -> OrderAck:
        fault = next(self._shadow)
        before = self._account.order_seq
        try:
            ack = super().place_order(req)
        except Exception as err:
            accepted = self._account.order_seq > before
            self.calls.append(Call(req.client_order_id, fault, accepted, type(err).__name__))
            raise
        self.calls.append(Call(req.client_order_id, fault, True, None))
        return ack

    def poll_fills(self) -> list[Fill]:
        fills = super().poll_fills()
        self.fills.extend(fills)
        return fills


class RecordingRouter(OrderRouter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.results: list[tuple[OrderRequest, RouteResult]] = []

    def submit(self, req: OrderRequest) -> RouteResult:
        result = super().submit(req)
        self.results.append((req, result))
        return result


PLANS = {
    "mixed": dict(
        timeout_after_accept=0.06, rate_limit=0.06, server_error=0.06, reject=0.04,
        partial_fill=0.12,
    ),
    "storm": dict(timeout_after_accept=0.25, rate_limit=0.25, server_error=0.25, reject=0.05),
    "partial_fills": dict(partial_fill=0.6, timeout_after_accept=0.2),
}  # fmt: skip


def _replay_under_faults(state_dir: Path, plan: FaultPlan, bars: int = 21_000) -> EngineRunner:
    cfg = load_config(BASE_CONFIG)
    per_symbol = -(-bars // len(cfg.symbols))
    merged = merge_series(
        synthetic_series(cfg.universe, per_symbol, cfg.data.synthetic, 60), cfg.symbols
    )
    clock = ReplayClock(merged.ts[0])

    def factory(saved: dict[str, Any] | None) -> PaperExchange:
        fresh = PaperExchange.from_config(cfg, clock)
        rules = {s: fresh.market_rules(s) for s in cfg.symbols}
        ex = cfg.exchange
        return RecordingPaper(rules, ex.starting_balance, ex.taker_fee_bps, ex.slippage_bps,
                              clock, plan=plan)  # fmt: skip

    runner = EngineRunner(cfg, RunOptions("replay", f"faults:{plan.seed}", bars, False),
                          state_dir, clock, factory)  # fmt: skip
    ex = runner.executor
    # Same retries as the engine, minus the wall-clock waits between them.
    ex.router = RecordingRouter(ex.exchange, cfg.exchange.max_retries, 0.0, sleep=lambda s: None)
    runner.run_replay(merged)
    runner.finish()
    return runner


def _check_paper_run(runner: EngineRunner) -> Counter[str]:
    ex = runner.executor
    venue: RecordingPaper = ex.exchange  # type: ignore[assignment]
    router: RecordingRouter = ex.router  # type: ignore[assignment]
    max_tries = router.max_retries + 1
    calls_by_cid: dict[str, list[Call]] = {}
    for call in venue.calls:
        calls_by_cid.setdefault(call.cid, []).append(call)
    accepted = Counter(c.cid for c in venue.calls if c.accepted)
    # None doubled: one accept per client id, and the router never submitted an id twice.
    assert max(accepted.values()) == 1
    assert len({r.client_order_id for r, _ in router.results}) == len(router.results)
    # None lost: placed <=> the venue holds it; failed <=> it never got there.
    for req, result in router.results:
        calls = calls_by_cid[req.client_order_id]
        assert result.placed == (accepted[req.client_order_id] == 1), (req, result, calls)
        assert len(calls) == result.attempts <= max_tries
        if result.error and result.error.startswith("transient"):
            assert len(calls) == max_tries and all(c.raised for c in calls)
        if any(c.fault == "timeout_after_accept" and c.accepted for c in calls):
            assert result.placed, "an order accepted before a timeout was given up"
    # Fills: each order fills at most its quantity, and the ledger saw every fill.
    qty_by_cid = {r.client_order_id: r.qty for r, _ in router.results}
    filled = Counter[str]()
    for f in venue.fills:
        filled[f.client_order_id] += f.qty
    for cid, qty in filled.items():
        assert qty <= qty_by_cid[cid] * (1 + 1e-9), f"{cid} filled {qty} of {qty_by_cid[cid]}"
    entry_ids = Counter(f.intent_id for f in venue.fills if f.kind is OrderKind.ENTRY)
    entry_cids = {f.intent_id: set() for f in venue.fills if f.kind is OrderKind.ENTRY}
    for f in venue.fills:
        if f.kind is OrderKind.ENTRY:
            entry_cids[f.intent_id].add(f.client_order_id)
    assert all(len(c) == 1 for c in entry_cids.values()), "an intent filled by two orders"
    assert sum(entry_ids.values()) >= len(entry_cids)
    report = reconcile(ex.ledger, TpSlRegistry(), venue.positions(), 0.0)
    assert not report.qty_corrected and not report.adopted and not report.closed_external
    # Every failed submit counted once by the diagnostics, under its category.
    snap = diag.build_runtime_diagnostics_snapshot()
    failed = [r for _, r in router.results if not r.placed]
    by_category = Counter(r.category for r in failed)
    assert snap.accounting["order_failures_by_error"] == dict(by_category)
    by_kind = Counter(r.kind.value for r, res in router.results if not res.placed)
    assert {k: v for k, v in snap.accounting["order_failures_by_kind"].items() if v} == dict(
        by_kind
    )
    placed_kinds = Counter(r.kind.value for r, res in router.results if res.placed)
    assert {k: v for k, v in snap.accounting["orders_by_kind"].items() if v} == dict(placed_kinds)
    assert by_category.get("rejected", 0) == venue.faults_injected.get("reject", 0)
    assert snap.accounting["identity_ok"] is True
    return Counter(venue.faults_injected)


@pytest.mark.parametrize("name", sorted(PLANS))
@pytest.mark.parametrize("seed", [1, 2])
def test_paper_fault_plan_loses_and_doubles_no_order_and_counts_every_failure(
    name: str, seed: int, tmp_path: Path
) -> None:
    plan = FaultPlan(seed=seed, **PLANS[name])
    runner = _replay_under_faults(tmp_path, plan)
    injected = _check_paper_run(runner)
    assert sum(injected.values()) >= 50, injected
    for kind in PLANS[name]:
        assert injected[kind] > 0, f"{kind} never injected: {injected}"
    for kind, n in injected.items():
        FIGURES[f"faults.paper.{kind}"] += n
    FIGURES["faults.injected"] += sum(injected.values())


# --- the ccxt adapter against canned Binance ------------------------------------------------------

ORDER = ("POST", "/fapi/v1/order")
QUERY = ("GET", "/fapi/v1/order")
# What the canned venue can do to one order request, and to the lookup after it.
ORDER_FAULTS = ("timeout", "timeout_after_accept", "429", "503", "insufficient", "notional")
LOOKUP_FAULTS = ("503", "429", "timeout")


@dataclass
class CannedRun:
    ex: CcxtExchange
    fake: CannedBinance
    router: RecordingRouter
    ledger: PositionLedger = field(default_factory=PositionLedger)
    injected: Counter[str] = field(default_factory=Counter)
    errors_seen: int = 0  # error answers and timeouts the fake produced
    split_next: bool = False  # answer the next accepted order as partly filled
    unfinished: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    def forget_unused_faults(self) -> None:
        """Drop what the last order did not run into, so that it neither counts nor carries on."""
        for (_method, path), kinds in self.fake.faults.items():
            prefix = "order" if path == ORDER[1] else "lookup"
            self.injected.subtract(f"{prefix}:{k}" for k in kinds)
        self.fake.faults.clear()
        if self.fake.hidden_orders:
            self.injected["lookup:eventually_consistent"] -= 1
        self.fake.hidden_orders = 0
        self.injected = +self.injected

    def poll(self) -> None:
        for fill in self.ex.poll_fills():
            self.ledger.apply_fill(fill)

    def split(self, order: dict[str, Any]) -> None:
        """Turn a just-filled order into a partial fill: half now, the rest in a later trade."""
        qty = float(order["origQty"])
        first = round(int(qty / 2 / 0.001) * 0.001, 3)
        if first <= 0 or first >= qty:
            return
        trade = self.fake.trades[-1]
        rest = dict(trade, id=trade["id"] + 1_000_000, qty=f"{qty - first:.3f}")
        share = first / qty
        for key in ("commission", "realizedPnl"):
            rest[key] = f"{float(trade[key]) * (1 - share):.8f}"
            trade[key] = f"{float(trade[key]) * share:.8f}"
        trade["qty"] = f"{first:.3f}"
        order.update(status="PARTIALLY_FILLED", executedQty=f"{first:.3f}", cumQty=f"{first:.3f}")
        self.unfinished.append((order, rest))
        self.injected["order:partial_fill"] += 1

    def finish_one(self) -> None:
        """The venue fills the rest of the oldest partly filled order."""
        order, rest = self.unfinished.pop(0)
        order.update(status="FILLED", executedQty=order["origQty"], cumQty=order["origQty"])
        self.fake.trades.append(rest)


def _canned() -> CannedRun:
    client, fake = canned_client()
    ex = CcxtExchange(
        api_key=API_KEY, secret=API_SECRET, clock=ReplayClock(SERVER_MS / 1000),
        ccxt_client=client, sleep=lambda s: None, backoff_seconds=0.0,
    )  # fmt: skip
    run = CannedRun(ex, fake, RecordingRouter(ex, 3, 0.0, sleep=lambda s: None))
    respond = fake.respond

    def counting(method: str, url: str, headers: dict[str, str], body: str | None) -> Any:
        try:
            status, payload = respond(method, url, headers, body)
        except Exception:
            run.errors_seen += 1
            raise
        run.errors_seen += status >= 400
        return status, payload

    fake.respond = counting  # type: ignore[method-assign]
    new_order = fake._new_order

    def maybe_partial(params: dict[str, str]) -> tuple[int, Any]:
        status, order = new_order(params)
        if status == 200 and run.split_next:
            run.split_next = False
            run.split(order)
        return status, order

    fake._new_order = maybe_partial  # type: ignore[method-assign]
    return run


def _random_order(rng: random.Random, run: CannedRun, i: int) -> OrderRequest:
    symbol = rng.choice(("BTCUSDT", "ETHUSDT"))
    held = run.fake.positions.get(symbol, (0.0, 0.0))[0]
    if held and rng.random() < 0.4:  # close (part of) it, reduce-only
        side = "sell" if held > 0 else "buy"
        qty = round(abs(held) * rng.choice((0.5, 1.0)), 3) or abs(held)
        cid = client_order_id(f"{symbol}:{i}", OrderKind.EXIT, "tp")
        return OrderRequest(cid, symbol, side, qty, OrderKind.EXIT, True, intent_id=f"x{i}")
    qty = rng.choice((0.002, 0.003, 0.005)) if symbol == "BTCUSDT" else rng.choice((0.01, 0.02))
    cid = client_order_id(f"{symbol}:{i}", OrderKind.ENTRY)
    side = rng.choice(("buy", "sell"))
    return OrderRequest(cid, symbol, side, qty, OrderKind.ENTRY, intent_id=f"{symbol}:{i}")


def _script_faults(rng: random.Random, run: CannedRun) -> None:
    n = rng.choice((0, 0, 1, 1, 2, 4))  # 4 in a row exhausts the router's retries
    order_faults = [rng.choice(ORDER_FAULTS) for _ in range(n)]
    run.fake.fail(*ORDER, *order_faults)
    run.injected.update(f"order:{k}" for k in order_faults)
    if rng.random() < 0.25:
        lookup = [rng.choice(LOOKUP_FAULTS) for _ in range(rng.choice((1, 2)))]
        run.fake.fail(*QUERY, *lookup)
        run.injected.update(f"lookup:{k}" for k in lookup)
    run.split_next = rng.random() < 0.2
    if run.unfinished and rng.random() < 0.5:
        run.finish_one()
    if rng.random() < 0.15:
        run.fake.hidden_orders = 1  # the venue answers "does not exist" once, then sees it
        run.injected["lookup:eventually_consistent"] += 1


def _venue_orders(fake: CannedBinance, cid: str) -> list[dict[str, Any]]:
    return [o for o in fake.orders if o["clientOrderId"] == venue_client_id(cid)]


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_ccxt_adapter_under_canned_faults_loses_and_doubles_no_order(seed: int) -> None:
    rng = random.Random(seed)
    run = _canned()
    for i in range(120):
        _script_faults(rng, run)
        req = _random_order(rng, run, i)
        result = run.router.submit(req)
        run.poll()
        on_venue = _venue_orders(run.fake, req.client_order_id)
        assert len(on_venue) <= 1, f"order {i} doubled on the venue"
        assert result.placed == (len(on_venue) == 1), f"order {i}: {result} vs venue {on_venue}"
        run.forget_unused_faults()
    while run.unfinished:
        run.finish_one()
    for _ in range(12):  # fills of orders whose answers were lost arrive over a few polls
        run.poll()
    ledger_view = {s: round(p.qty * p.side.sign, 8) for s, p in run.ledger.positions.items()}
    venue_view = {s: round(q, 8) for s, (q, _) in run.fake.positions.items()}
    assert ledger_view == venue_view, "the fills reported differ from the venue's positions"
    report = reconcile(run.ledger, TpSlRegistry(), run.ex.positions(), 0.0)
    assert not report.changed
    # Every failure counted: each error answer or timeout once in the adapter's counters,
    # each failed submit once in the diagnostics.
    errors = run.ex.stats()["errors_by_kind"]
    assert sum(errors.values()) == run.errors_seen, (errors, run.errors_seen)
    failed = [r for _, r in run.router.results if not r.placed]
    counted = diag.build_runtime_diagnostics_snapshot().accounting["order_failures_by_error"]
    assert sum(counted.values()) == len(failed)
    assert sum(run.injected.values()) >= 60
    for kind, n in run.injected.items():
        FIGURES[f"faults.ccxt.{kind}"] += n
    FIGURES["faults.injected"] += sum(run.injected.values())


def test_ccxt_lookup_that_keeps_failing_never_leads_to_a_blind_resend() -> None:
    run = _canned()
    req = OrderRequest(
        client_order_id("BTCUSDT:1", OrderKind.ENTRY), "BTCUSDT", "buy", 0.002,
        OrderKind.ENTRY, intent_id="BTCUSDT:1",
    )  # fmt: skip
    run.fake.fail(*ORDER, "timeout_after_accept")
    run.fake.fail(*QUERY, *["503"] * 40)  # the venue cannot answer lookups for a while
    result = run.router.submit(req)
    assert len(_venue_orders(run.fake, req.client_order_id)) == 1
    assert not result.placed and result.error is not None
    # The venue has it though: once lookups work again the fill still reaches the ledger.
    run.fake.faults.clear()
    for _ in range(3):
        run.poll()
    assert run.ledger.positions["BTCUSDT"].qty == pytest.approx(0.002)
    FIGURES["faults.injected"] += 41
    FIGURES["faults.ccxt.lookup:503"] += 40
    FIGURES["faults.ccxt.order:timeout_after_accept"] += 1


def test_rejections_are_final_and_transient_errors_map_to_our_exceptions() -> None:
    run = _canned()
    for fault, exc in (("insufficient", OrderRejected), ("notional", OrderRejected),
                       ("429", TransientExchangeError), ("503", TransientExchangeError),
                       ("timeout", TransientExchangeError)):  # fmt: skip
        run.fake.fail(*ORDER, fault)
        req = OrderRequest(
            client_order_id(f"BTCUSDT:{fault}", OrderKind.ENTRY), "BTCUSDT", "buy", 0.002,
            OrderKind.ENTRY, intent_id=f"BTCUSDT:{fault}",
        )  # fmt: skip
        with pytest.raises(exc):
            run.ex.place_order(req)
        run.fake.faults.clear()
        FIGURES["faults.injected"] += 1
        FIGURES[f"faults.ccxt.order:{fault}"] += 1
