"""PaperExchange: fills, fees, slippage, net positions, rejections and faults (its saved
account: test_exchange_paper_state.py)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paper_venue_kit import FEE, SLIP, SYM, bar, make_exchange, order

from execution.types import ExitKind, OrderKind, OrderRequest, Side
from execution.venues.base import Exchange, OrderRejected, TransientExchangeError
from execution.venues.paper import FaultPlan


def test_paper_exchange_satisfies_the_exchange_protocol() -> None:
    assert isinstance(make_exchange(), Exchange)


def test_entry_is_pending_then_fills_at_next_bar_open_with_slippage_and_fee() -> None:
    ex = make_exchange()
    ex.on_bar(bar(100.0, ts=0))
    ack = ex.place_order(order("buy", 1.0))
    assert ack.status == "open" and not ex.poll_fills() and ex.positions() == {}
    ex.on_bar(bar(110.0, close=112.0, ts=60))
    [fill] = ex.poll_fills()
    assert fill.price == pytest.approx(110.0 * (1 + SLIP))
    assert fill.fee == pytest.approx(110.0 * (1 + SLIP) * FEE)
    assert fill.ts == 60 and fill.intent_id == "intent-1" and fill.kind is OrderKind.ENTRY
    assert ex.balance() == pytest.approx(10_000.0 - fill.fee)
    pos = ex.positions()[SYM]
    assert (pos.side, pos.qty, pos.mark_price) == (Side.LONG, 1.0, 112.0)
    assert ex.unrealized_pnl() == pytest.approx(112.0 - fill.price)
    assert ex.find_order(ack.client_order_id).status == "filled"  # type: ignore[union-attr]
    assert not ex.poll_fills()


def test_on_bars_says_whether_a_fill_waits_to_be_polled() -> None:
    ex = make_exchange()
    symbols = [SYM, "ETHUSDT"]
    assert ex.on_bars(symbols, [(0, 0.0, 100.0, 100.0, 100.0, 100.0, 1.0)]) is False
    ex.place_order(order("buy", 1.0))
    # The entry fills at the next bar's open of its symbol; the other symbol's bar first.
    loop = [(1, 60.0, 50.0, 50.0, 50.0, 50.0, 1.0), (0, 60.0, 101.0, 102.0, 100.0, 101.5, 1.0)]
    assert ex.on_bars(symbols, loop) is True
    [fill] = ex.poll_fills()
    assert fill.price == pytest.approx(101.0 * (1 + SLIP))
    assert ex.positions()[SYM].mark_price == 101.5
    assert ex.on_bars(symbols, [(0, 120.0, 101.0, 101.0, 101.0, 101.0, 1.0)]) is False


def test_order_before_any_bar_waits_for_the_first_bar() -> None:
    ex = make_exchange()
    ex.place_order(order("sell", 0.5))
    ex.on_bar(bar(200.0))
    [fill] = ex.poll_fills()
    assert fill.price == pytest.approx(200.0 * (1 - SLIP))
    assert ex.positions()[SYM].side is Side.SHORT


def test_trigger_price_fills_immediately_at_the_level_with_slippage() -> None:
    ex = make_exchange()
    ex.on_bar(bar(100.0))
    ex.place_order(order("buy", 1.0, trigger=100.0))
    ack = ex.place_order(order("sell", 1.0, reduce_only=True, trigger=105.0))
    assert ack.status == "filled"
    buy, sell = ex.poll_fills()
    assert buy.price == pytest.approx(100.0 * (1 + SLIP))
    assert sell.price == pytest.approx(105.0 * (1 - SLIP))
    assert sell.exit_kind is ExitKind.TP and sell.reduce_only
    assert ex.positions() == {}


def test_adding_to_a_position_averages_the_entry_price() -> None:
    ex = make_exchange(faults=None)
    ex.on_bar(bar(100.0))
    ex.place_order(order("buy", 1.0, trigger=100.0))
    ex.place_order(order("buy", 3.0, trigger=200.0))
    pos = ex.positions()[SYM]
    expected = (100.0 * (1 + SLIP) + 3 * 200.0 * (1 + SLIP)) / 4
    assert pos.qty == 4.0 and pos.entry_price == pytest.approx(expected)


def test_closing_realizes_pnl_into_the_balance() -> None:
    ex = make_exchange()
    ex.on_bar(bar(100.0))
    ex.place_order(order("sell", 2.0, trigger=100.0))
    ex.place_order(order("buy", 2.0, reduce_only=True, trigger=90.0))
    short, cover = ex.poll_fills()
    expected_pnl = (short.price - cover.price) * 2.0
    assert cover.realized_pnl == pytest.approx(expected_pnl) and short.realized_pnl == 0
    assert ex.balance() == pytest.approx(10_000.0 + expected_pnl - short.fee - cover.fee)
    assert ex.positions() == {}


def test_opposite_order_larger_than_position_flips_it() -> None:
    ex = make_exchange()
    ex.on_bar(bar(100.0))
    ex.place_order(order("buy", 1.0, trigger=100.0))
    ex.place_order(order("sell", 3.0, trigger=110.0))
    _, flip = ex.poll_fills()
    assert flip.realized_pnl == pytest.approx(flip.price - 100.0 * (1 + SLIP))
    pos = ex.positions()[SYM]
    assert (pos.side, pos.qty, pos.entry_price) == (Side.SHORT, 2.0, flip.price)


def test_reduce_only_larger_than_position_is_clamped() -> None:
    ex = make_exchange()
    ex.on_bar(bar(100.0))
    ex.place_order(order("buy", 0.5, trigger=100.0))
    ex.place_order(order("sell", 2.0, reduce_only=True))
    ex.on_bar(bar(101.0))
    fills = ex.poll_fills()
    assert fills[-1].qty == 0.5 and ex.positions() == {}


@pytest.mark.parametrize("setup_side", [None, "buy"])
def test_reduce_only_that_would_not_reduce_is_rejected(setup_side: str | None) -> None:
    ex = make_exchange()
    ex.on_bar(bar(100.0))
    if setup_side:
        ex.place_order(order(setup_side, 1.0, trigger=100.0))
    with pytest.raises(OrderRejected, match="reduce_only"):
        ex.place_order(order("buy", 1.0, reduce_only=True))


def test_pending_reduce_only_is_cancelled_when_the_position_is_gone_at_fill_time() -> None:
    ex = make_exchange()
    ex.on_bar(bar(100.0))
    ex.place_order(order("buy", 1.0, trigger=100.0))
    first = ex.place_order(order("sell", 1.0, reduce_only=True))
    second = ex.place_order(order("sell", 1.0, reduce_only=True))
    ex.on_bar(bar(101.0))
    assert [f.client_order_id for f in ex.poll_fills()][1:] == [first.client_order_id]
    assert ex.find_order(second.client_order_id).status == "canceled"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("req", "reason"),
    [
        (order("buy", 0.0), "qty must be positive"),
        (order("buy", 0.0015), "qty not a multiple of qty_step"),
        (order("buy", 0.01), "notional below min_notional"),
        (order("buy", 1.0, symbol="DOGEUSDT"), "unknown symbol"),
        (order("buy", 2_000.0), "insufficient_funds"),  # 200k notional, 20k margin at 10x
    ],
)
def test_invalid_orders_are_rejected_with_a_short_reason(req: OrderRequest, reason: str) -> None:
    ex = make_exchange()
    ex.on_bar(bar(100.0))
    with pytest.raises(OrderRejected) as info:
        ex.place_order(req)
    assert str(info.value) == reason
    assert ex.find_order(req.client_order_id) is None


def test_qty_multiple_of_step_tolerates_float_error() -> None:
    ex = make_exchange()
    ex.on_bar(bar(100.0))
    assert ex.place_order(order("buy", 0.1 + 0.2)).status == "open"  # 0.30000000000000004


def test_flip_only_needs_margin_for_the_new_side() -> None:
    ex = make_exchange(balance=1_000.0, leverage=1.0)
    ex.on_bar(bar(100.0))
    ex.place_order(order("buy", 9.0, trigger=100.0))
    ex.place_order(order("sell", 9.0))  # closes exposure: no margin needed
    with pytest.raises(OrderRejected, match="insufficient_funds"):
        ex.place_order(order("buy", 5.0))


def test_duplicate_client_order_id_is_rejected() -> None:
    ex = make_exchange()
    ex.on_bar(bar(100.0))
    ex.place_order(order("buy", 1.0, cid="same"))
    with pytest.raises(OrderRejected, match="duplicate client order id"):
        ex.place_order(order("buy", 1.0, cid="same"))


def test_fault_timeout_after_accept_records_the_order_then_raises() -> None:
    ex = make_exchange(FaultPlan(seed=1, script=["timeout_after_accept"]))
    ex.on_bar(bar(100.0))
    with pytest.raises(TransientExchangeError, match="timeout"):
        ex.place_order(order("buy", 1.0, cid="t"))
    assert ex.find_order("t") is not None
    ex.on_bar(bar(100.0))
    assert len(ex.poll_fills()) == 1 and ex.faults_injected == {"timeout_after_accept": 1}


@pytest.mark.parametrize(
    ("fault", "exc", "message"),
    [
        ("rate_limit", TransientExchangeError, "429 rate limit"),
        ("server_error", TransientExchangeError, "503 server error"),
        ("reject", OrderRejected, "rejected by fault plan"),
    ],
)
def test_faults_before_accept_leave_no_order(
    fault: str, exc: type[Exception], message: str
) -> None:
    ex = make_exchange(FaultPlan(seed=1, script=[fault, "ok"]))
    ex.on_bar(bar(100.0))
    with pytest.raises(exc, match=message):
        ex.place_order(order("buy", 1.0, cid="f"))
    assert ex.find_order("f") is None and ex.faults_injected == {fault: 1}
    assert ex.place_order(order("buy", 1.0, cid="f")).status == "open"  # same id, now fine


def test_fault_partial_fill_fills_half_now_and_the_rest_at_the_next_bar() -> None:
    ex = make_exchange(FaultPlan(seed=1, script=["partial_fill", "partial_fill"]))
    ex.on_bar(bar(10_000.0))
    ack = ex.place_order(order("buy", 0.005, trigger=10_000.0))
    assert ack.status == "open" and [f.qty for f in ex.poll_fills()] == [0.002]
    pending = ex.place_order(order("buy", 0.01))
    ex.on_bar(bar(10_100.0))
    assert [f.qty for f in ex.poll_fills()] == [0.003, 0.005]
    assert ex.find_order(ack.client_order_id).status == "filled"  # type: ignore[union-attr]
    ex.on_bar(bar(10_200.0))
    assert [f.qty for f in ex.poll_fills()] == [0.005]
    assert ex.find_order(pending.client_order_id).status == "filled"  # type: ignore[union-attr]
    assert ex.positions()[SYM].qty == 0.015 and ex.faults_injected == {"partial_fill": 2}


def test_random_faults_are_reproducible_from_the_seed() -> None:
    def outcomes(seed: int) -> list[str]:
        ex = make_exchange(FaultPlan(seed=seed, rate_limit=0.3, reject=0.2, server_error=0.1))
        ex.on_bar(bar(100.0))
        seen = []
        for _ in range(50):
            try:
                seen.append(ex.place_order(order("buy", 0.1)).status)
            except (TransientExchangeError, OrderRejected) as err:
                seen.append(str(err))
        return seen

    assert outcomes(3) == outcomes(3) and len(set(outcomes(3))) == 4


def test_fault_plan_rejects_bad_probabilities_and_unknown_script_entries() -> None:
    with pytest.raises(ValueError):
        FaultPlan(seed=0, rate_limit=0.8, reject=0.5)
    with pytest.raises(ValueError):
        FaultPlan(seed=0, script=["explode"])


_actions = st.lists(
    st.one_of(
        st.tuples(st.just("bar"), st.floats(50.0, 150.0)),
        st.tuples(
            st.sampled_from(["buy", "sell"]),
            st.integers(1, 3_000),  # qty in steps of 0.001
            st.booleans(),  # reduce_only
            st.one_of(st.none(), st.floats(50.0, 150.0)),  # trigger price
        ),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(actions=_actions, partial=st.floats(0.0, 0.5))
def test_balance_and_position_always_match_the_fills(actions: list[tuple], partial: float) -> None:
    ex = make_exchange(FaultPlan(seed=0, partial_fill=partial), balance=50_000.0)
    fills = []
    for action in actions:
        if action[0] == "bar":
            ex.on_bar(bar(action[1]))
        else:
            side, steps, reduce_only, trigger = action
            with contextlib.suppress(OrderRejected):
                ex.place_order(order(side, steps / 1000, reduce_only=reduce_only, trigger=trigger))
        fills += ex.poll_fills()
    realized = sum(f.realized_pnl for f in fills)
    fees = sum(f.fee for f in fills)
    assert ex.balance() == pytest.approx(50_000.0 + realized - fees, abs=1e-6)
    signed = sum(f.qty if f.side == "buy" else -f.qty for f in fills)
    pos = ex.positions().get(SYM)
    held = 0.0 if pos is None else pos.qty * pos.side.sign
    assert held == pytest.approx(signed, abs=1e-9)
