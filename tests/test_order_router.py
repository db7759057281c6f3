"""OrderRouter: bounded retries, idempotent client ids, never two orders for one intent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import execution.order_router as order_router
from execution.clock import ReplayClock
from execution.order_router import (
    OrderRouter,
    RouteResult,
    classify_rejection,
    client_order_id,
)
from execution.rounding import round_price, round_qty
from execution.types import Bar, MarketRules, OrderAck, OrderKind, OrderRequest
from execution.venues.base import ExchangeError, OrderRejected, TransientExchangeError
from execution.venues.paper import FaultPlan, PaperExchange

SYM = "BTCUSDT"


class Recorder:
    """Stand-in for the diagnostics calls: remembers each call's arguments."""

    def __init__(self) -> None:
        self.placed: list[tuple[str, str | None]] = []
        self.failed: list[tuple[str, str, str | None]] = []

    def record_placed(self, kind: str = "entry", symbol: str | None = None) -> None:
        self.placed.append((kind, symbol))

    def record_failed(self, error: str, kind: str = "entry", symbol: str | None = None) -> None:
        self.failed.append((error, kind, symbol))


@pytest.fixture
def diag(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    monkeypatch.setattr(order_router, "record_order_placed", rec.record_placed)
    monkeypatch.setattr(order_router, "record_order_failed", rec.record_failed)
    return rec


def make_exchange(*script: str, balance: float = 10_000.0) -> PaperExchange:
    rules = {SYM: MarketRules(SYM, min_notional=5.0, qty_step=0.001)}
    faults = FaultPlan(seed=0, script=list(script)) if script else None
    ex = PaperExchange(rules, balance, 4.0, 1.0, ReplayClock(0.0), faults=faults)
    ex.on_bar(Bar(SYM, 0.0, 100.0, 100.0, 100.0, 100.0))
    return ex


def make_router(ex: object, max_retries: int = 3) -> tuple[OrderRouter, list[float]]:
    sleeps: list[float] = []
    return OrderRouter(ex, max_retries, 0.5, sleep=sleeps.append), sleeps  # type: ignore[arg-type]


def entry(qty: float = 1.0, intent_id: str = "intent-1") -> OrderRequest:
    cid = client_order_id(intent_id, OrderKind.ENTRY)
    return OrderRequest(cid, SYM, "buy", qty, OrderKind.ENTRY, intent_id=intent_id)


def test_rate_limit_is_retried_and_places_exactly_one_order(diag: Recorder) -> None:
    ex = make_exchange("rate_limit", "ok")
    router, sleeps = make_router(ex)
    result = router.submit(entry())
    assert result.status == "placed" and result.attempts == 2 and result.ack is not None
    assert ex.to_dict()["order_seq"] == 1 and sleeps == [0.5]
    assert router.retries_total == 1 and diag.placed == [("entry", SYM)] and diag.failed == []


def test_timeout_after_accept_is_found_and_never_placed_twice(diag: Recorder) -> None:
    ex = make_exchange("timeout_after_accept", "ok", "ok")
    router, sleeps = make_router(ex)
    req = entry()
    result = router.submit(req)
    assert result.status == "placed" and result.attempts == 1
    assert result.ack == ex.find_order(req.client_order_id) and sleeps == []
    assert ex.to_dict()["order_seq"] == 1
    ex.on_bar(Bar(SYM, 60.0, 101.0, 101.0, 101.0, 101.0))
    assert len(ex.poll_fills()) == 1 and ex.positions()[SYM].qty == 1.0
    assert diag.placed == [("entry", SYM)]


def test_a_retried_intent_hits_the_duplicate_check_instead_of_a_second_order(
    diag: Recorder,
) -> None:
    ex = make_exchange()
    router, _ = make_router(ex)
    assert router.submit(entry()).status == "placed"
    again = router.submit(entry())
    assert again.status == "failed" and again.error == "duplicate client order id"
    assert ex.to_dict()["order_seq"] == 1 and diag.failed == [("duplicate", "entry", SYM)]


def test_rejection_is_not_retried(diag: Recorder) -> None:
    ex = make_exchange(balance=100.0)
    router, sleeps = make_router(ex)
    result = router.submit(entry(qty=100.0))
    assert result == RouteResult("failed", None, "insufficient_funds", 1, "insufficient_funds")
    assert sleeps == []
    assert diag.failed == [("insufficient_funds", "entry", SYM)] and diag.placed == []


def test_retries_exhausted_fail_as_transient_with_growing_backoff(diag: Recorder) -> None:
    ex = make_exchange(*["server_error"] * 4)
    router, sleeps = make_router(ex, max_retries=3)
    result = router.submit(entry())
    assert result.status == "failed" and result.error == "transient: 503 server error"
    assert result.attempts == 4 and sleeps == [0.5, 1.0, 2.0]
    assert router.retries_total == 3 and result.category == "transient"
    assert diag.failed == [("transient", "entry", SYM)]
    assert ex.find_order(entry().client_order_id) is None
    assert diag.failed == [("transient", "entry", SYM)]


class DuplicateAfterLostAck:
    """First call accepts but loses the ack and the lookup; the retry then sees a duplicate."""

    name = "fake"

    def __init__(self) -> None:
        self.calls = 0
        self.known: OrderAck | None = None
        self.lookups = 0

    def place_order(self, req: OrderRequest) -> OrderAck:
        self.calls += 1
        if self.known is not None:
            raise OrderRejected("duplicate client order id")
        self.known = OrderAck(req.client_order_id, "x-1", "open", 0.0)
        raise TransientExchangeError("timeout")

    def find_order(self, client_order_id: str) -> OrderAck | None:
        self.lookups += 1
        if self.lookups == 1:
            raise TransientExchangeError("lookup timed out")
        return self.known


def test_duplicate_on_retry_means_the_first_attempt_got_through(diag: Recorder) -> None:
    fake = DuplicateAfterLostAck()
    router, _ = make_router(fake)
    result = router.submit(entry())
    assert result.status == "placed" and result.ack == fake.known and fake.calls == 2
    assert diag.placed == [("entry", SYM)]


class Broken:
    name = "broken"

    def place_order(self, req: OrderRequest) -> OrderAck:
        raise ExchangeError("")

    def find_order(self, client_order_id: str) -> OrderAck | None:
        return None


def test_other_exchange_errors_fail_without_retry(diag: Recorder) -> None:
    router, sleeps = make_router(Broken())
    result = router.submit(entry())
    assert result.status == "failed" and result.attempts == 1 and sleeps == []
    assert diag.failed == [("error", "entry", SYM)]


def test_a_failing_diagnostics_hook_never_changes_the_outcome(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*_: object) -> None:
        raise RuntimeError("metrics down")

    monkeypatch.setattr(order_router, "record_order_placed", boom)
    router, _ = make_router(make_exchange())
    assert router.submit(entry()).status == "placed"


def test_client_order_id_is_deterministic_short_and_distinct_per_kind() -> None:
    a = client_order_id("BTCUSDT-1704067200-long-" + "x" * 80, OrderKind.ENTRY)
    assert a == client_order_id("BTCUSDT-1704067200-long-" + "x" * 80, OrderKind.ENTRY)
    assert len(a) <= 36 and a.startswith("v7e") and a.isalnum()
    assert client_order_id("i", OrderKind.EXIT) != client_order_id("i", OrderKind.ENTRY)
    assert client_order_id("i", OrderKind.EXIT, "2") != client_order_id("i", OrderKind.EXIT)


@given(st.lists(st.floats(0, 4e9, allow_nan=False), min_size=2, max_size=30, unique=True))
def test_client_order_ids_with_a_time_sort_by_that_time(times: list[float]) -> None:
    """The journal's unique index on the ids then grows at its end (a long run's commits stay
    as cheap as its first); the ids stay short, alphanumeric and deterministic."""
    by_time = sorted(times, key=int)
    ids = [client_order_id(f"BTCUSDT:{t}", OrderKind.ENTRY, ts=t) for t in by_time]
    assert [i[:10] for i in ids] == sorted(i[:10] for i in ids)
    assert all(len(i) <= 36 and i.startswith("v7e") and i.isalnum() for i in ids)
    assert ids[0] == client_order_id(f"BTCUSDT:{by_time[0]}", OrderKind.ENTRY, ts=by_time[0])


@pytest.mark.parametrize(
    ("qty", "step", "expected"),
    [(0.3, 0.1, 0.3), (0.29999999, 0.1, 0.2), (1.23456, 0.001, 1.234), (7.0, 5.0, 5.0)],
)
def test_round_qty_floors_to_step_despite_float_error(
    qty: float, step: float, expected: float
) -> None:
    assert round_qty(qty, step) == expected


def test_round_qty_of_a_sum_that_float_makes_slightly_short() -> None:
    assert round_qty(0.1 + 0.2, 0.1) == 0.3 and round_qty(0.0009, 0.001) == 0.0
    assert round_qty(3 * 0.1, 0.1) == 0.3 and round_qty(1e-5 * 3, 1e-5) == 3e-5


def test_round_price_rounds_to_the_nearest_tick() -> None:
    assert round_price(100.04, 0.1) == 100.0 and round_price(100.06, 0.1) == 100.1
    assert round_price(12345.678, 0.5) == 12345.5


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("insufficient_funds", "insufficient_funds"),
        ("Margin is insufficient.", "insufficient_funds"),
        ("duplicate client order id", "duplicate"),
        ("notional below min_notional", "invalid_order"),
        ("rejected by fault plan", "rejected"),
    ],
)
def test_rejections_map_to_bounded_categories(message: str, category: str) -> None:
    assert classify_rejection(message) == category
