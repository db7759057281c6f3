"""A live engine SIGKILLed just after the commit before an entry's send, restarted on the same
state dir: the restart looks that entry up on the exchange by the client id and symbol it was
sent under (a new process has no record of its own orders), so an entry the exchange filled
counts as placed and is journaled even when its position was closed while the engine was down.

The child engine (``killed_before_send``) dies with its canned Binance, so the exchange the
restart meets is rebuilt here: the order the child was about to send is sent to it as the
restart rebuilds it (the memory's pending intent through ``entry_order``), by the real ccxt
binanceusdm, under the same client id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ccxt_canned import CannedBinance, canned_client
from test_live_loop import ENV, _config, _fake
from test_live_restart_protection import _accounting, _clock, _signal, _start, killed_before_send

from execution.clock import ReplayClock
from execution.order_router import entry_order
from execution.state_snapshots import intent_from_dict
from execution.store import read_external_closes, read_orders
from execution.types import Intent, OrderRequest
from execution.venues.ccxt_guard import venue_client_id
from execution.venues.ccxt_venue import CcxtExchange

SYMBOL = "BTCUSDT"
UNIFIED = "BTC/USDT:USDT"
SLIPPAGE = 50.0  # the exchange fills the entry this far above the intent's reference price


def _killed_with_an_entry_in_flight(state: Path) -> Intent:
    """The intent a real child engine was about to send when it was SIGKILLed."""
    memory = killed_before_send(state)
    (raw,) = memory.pending_intents
    intent = intent_from_dict(raw, strict=True, key="[0]")
    assert intent is not None and intent.symbol == SYMBOL
    assert memory.progress["entry_in_flight"] == intent.intent_id
    return intent


def _exchange(intent: Intent) -> tuple[CannedBinance, ReplayClock]:
    """The canned exchange with the market the child saw, its mark SLIPPAGE off the intent's."""
    fake, clock = _fake(), _clock()
    _signal(fake, clock)
    fake.marks[SYMBOL] = intent.ref_price + SLIPPAGE
    return fake, clock


def _sent_to(fake: CannedBinance, intent: Intent, clock: ReplayClock) -> OrderRequest:
    """Send the entry as the killed engine would have (another process: its adapter is gone)."""
    client, _ = canned_client(fake)
    venue = CcxtExchange.from_config(_config(), clock, env=ENV, ccxt_client=client)
    req = entry_order(intent, venue.market_rules(SYMBOL))
    assert venue.place_order(req).status == "filled"
    return req


def _closed_by_hand(fake: CannedBinance) -> None:
    """Close the position with a reduce-only market order of nobody's engine (the web site)."""
    client, _ = canned_client(fake)
    qty, _ = fake.positions[SYMBOL]
    client.create_order(UNIFIED, "market", "sell", qty, None, {"reduceOnly": True})
    assert SYMBOL not in fake.positions


def _venue_order(fake: CannedBinance, req: OrderRequest) -> dict[str, Any]:
    (order,) = [
        o for o in fake.orders if o["clientOrderId"] == venue_client_id(req.client_order_id)
    ]
    return order


def test_an_entry_filled_and_closed_by_hand_while_down_counts_as_placed_and_is_journaled(
    tmp_path: Path,
) -> None:
    intent = _killed_with_an_entry_in_flight(tmp_path)
    fake, clock = _exchange(intent)
    req = _sent_to(fake, intent, clock)
    _closed_by_hand(fake)
    sent_before = len(fake.orders)

    _, again = _start(tmp_path, fake, clock)
    try:
        accounting = _accounting()
        assert (accounting["entry_orders"], accounting["in_flight"]) == (1, 0)
        assert accounting["order_failures_by_error"] == {}, "a filled entry counted as lost"
        assert accounting["identity_ok"] and accounting["total_signals"] == 1
        assert SYMBOL not in again.executor.ledger.positions, "a position the exchange lacks"
        assert not again.executor.pending_intents, "the entry is done: its intent too"
    finally:
        again.finish()
    assert len(fake.orders) == sent_before, "the restart sent an order"
    venue = _venue_order(fake, req)
    (order,) = read_orders(tmp_path, SYMBOL)
    assert (order["client_order_id"], order["kind"], order["status"]) == (
        req.client_order_id, "entry", "filled",
    )  # fmt: skip
    assert order["venue_order_id"] == str(venue["orderId"])
    (closed,) = read_external_closes(tmp_path, SYMBOL)
    fill_price = float(venue["avgPrice"])
    assert (closed["side"], closed["qty"], closed["entry_price"]) == ("long", req.qty, fill_price)
    shift = fill_price - intent.ref_price  # the levels move with the fill, as a fill's would
    assert closed["tp"] == intent.tp + shift and closed["sl"] == intent.sl + shift
    assert closed["entry_ts"] == venue["updateTime"] / 1000
    assert closed["entry_fees"] > 0 and closed["seen_ts"] == clock.now()


def test_an_entry_the_exchange_never_got_is_looked_up_by_its_client_id_and_lost_at_restart(
    tmp_path: Path,
) -> None:
    intent = _killed_with_an_entry_in_flight(tmp_path)
    fake, clock = _exchange(intent)  # no order, no position

    _, again = _start(tmp_path, fake, clock)
    try:
        accounting = _accounting()
        assert accounting["order_failures_by_error"] == {"lost_at_restart": 1}
        assert (accounting["entry_orders"], accounting["in_flight"]) == (0, 0)
        assert accounting["identity_ok"]
        req = again.executor.entry_request(intent)
    finally:
        again.finish()
    (lookup,) = fake.calls("GET", "/fapi/v1/order")
    assert lookup.params["symbol"] == SYMBOL
    assert lookup.params["origClientOrderId"] == venue_client_id(req.client_order_id)
    assert not fake.orders and read_orders(tmp_path) == [] and not read_external_closes(tmp_path)


def test_an_entry_whose_position_is_still_open_is_adopted_with_its_levels_and_its_order_id(
    tmp_path: Path,
) -> None:
    intent = _killed_with_an_entry_in_flight(tmp_path)
    fake, clock = _exchange(intent)
    req = _sent_to(fake, intent, clock)

    _, again = _start(tmp_path, fake, clock)
    try:
        pos = again.executor.ledger.get(SYMBOL)
        assert pos is not None and pos.qty == req.qty
        level = again.executor.registry.get(SYMBOL)
        shift = fake.positions[SYMBOL][1] - intent.ref_price
        assert level is not None
        assert (level.tp_price, level.sl_price) == (intent.tp + shift, intent.sl + shift)
        accounting = _accounting()
        assert (accounting["entry_orders"], accounting["in_flight"]) == (1, 0)
        assert accounting["order_failures_by_error"] == {} and accounting["identity_ok"]
    finally:
        again.finish()
    (order,) = read_orders(tmp_path, SYMBOL)
    assert order["status"] == "filled"
    assert order["venue_order_id"] == str(_venue_order(fake, req)["orderId"])
    assert read_external_closes(tmp_path) == [], "a held position is not an external close"
