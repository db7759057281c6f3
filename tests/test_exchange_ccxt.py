"""CcxtExchange against the real ccxt.binanceusdm class with canned Binance responses.

ccxt builds, signs and sends every request and parses every answer (and error) itself; only the
HTTP session answers from memory (tests/ccxt_canned.py). Orders go through the real OrderRouter.
"""

from __future__ import annotations

from typing import Any

import pytest
from ccxt_canned import (
    API_KEY,
    SERVER_MS,
    CannedBinance,
)
from ccxt_venue_kit import ORDER, QUERY, entry, exit_order, make, quiet_order_diagnostics, router

from execution.types import ExitKind, OrderKind, Side
from execution.venues.base import (
    AuthenticationFailed,
    Exchange,
    ExchangeError,
    OrderRejected,
    TransientExchangeError,
)

# --- markets ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def quiet_diagnostics(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet_order_diagnostics(monkeypatch)


def test_market_rules_come_from_exchange_info_filters_and_leverage_brackets() -> None:
    ex, fake, _ = make()
    btc, eth = ex.market_rules("BTCUSDT"), ex.market_rules("ETHUSDT")
    assert (btc.min_notional, btc.qty_step, btc.price_tick, btc.max_leverage) == (
        100.0,
        0.001,
        0.1,  # PRICE_FILTER tickSize, not pricePrecision=2: ccxt's TICK_SIZE mode
        125.0,
    )
    assert (eth.min_notional, eth.price_tick, eth.max_leverage) == (20.0, 0.01, 100.0)
    assert ex.market_rules("BTC/USDT:USDT").qty_step == 0.001
    assert ex.to_unified("ETHUSDT") == "ETH/USDT:USDT"
    assert [r.path for r in fake.requests].count("/fapi/v1/exchangeInfo") == 1


def test_unknown_symbols_are_rejected_and_listed() -> None:
    ex, _, _ = make()
    assert ex.unknown_symbols(["BTCUSDT", "NOPEUSDT"]) == ["NOPEUSDT"]
    with pytest.raises(OrderRejected, match="unknown symbol"):
        ex.market_rules("NOPEUSDT")


def test_ccxt_exchange_satisfies_the_exchange_protocol() -> None:
    ex, _, _ = make()
    assert isinstance(ex, Exchange)


# --- orders -------------------------------------------------------------------------------------


def test_entry_is_a_market_order_carrying_the_client_id_and_rounded_qty() -> None:
    ex, fake, _ = make()
    req = entry(qty=0.0129)
    ack = ex.place_order(req)
    [sent] = fake.calls(*ORDER)
    assert sent.params["newClientOrderId"] == req.client_order_id
    assert (sent.params["type"], sent.params["side"], sent.params["quantity"]) == (
        "MARKET",
        "BUY",
        "0.012",  # truncated to the 0.001 step by ccxt's amount_to_precision
    )
    assert sent.params.get("reduceOnly") != "true"
    assert sent.headers["X-MBX-APIKEY"] == API_KEY
    assert (ack.client_order_id, ack.status) == (req.client_order_id, "filled")
    assert ack.exchange_order_id == str(fake.orders[0]["orderId"])


def test_exit_is_reduce_only() -> None:
    ex, fake, _ = make()
    ex.place_order(entry())
    ex.place_order(exit_order())
    sent = fake.calls(*ORDER)[-1]
    assert (sent.params["reduceOnly"], sent.params["side"]) == ("true", "SELL")
    assert ex.positions() == {}


def test_qty_below_the_step_is_rejected_before_anything_is_sent() -> None:
    ex, fake, _ = make()
    with pytest.raises(OrderRejected, match="invalid_order"):
        ex.place_order(entry(qty=0.0004))
    assert fake.calls(*ORDER) == []


def test_timeout_after_accept_then_router_lookup_gives_exactly_one_order() -> None:
    ex, fake, _ = make()
    fake.fail(*ORDER, "timeout_after_accept")
    result = router(ex)[0].submit(entry())
    assert result.placed and result.ack is not None and result.ack.status == "filled"
    assert len(fake.orders) == 1 and len(fake.calls(*ORDER)) == 1
    assert fake.calls(*QUERY)[0].params["origClientOrderId"] == entry().client_order_id
    assert ex.stats()["errors_by_kind"] == {"timeout": 1}


def test_order_invisible_at_first_lookup_is_found_before_any_resend() -> None:
    ex, fake, _ = make()
    fake.fail(*ORDER, "timeout_after_accept")
    fake.hidden_orders = 1  # the router's lookup says "does not exist"
    result = router(ex)[0].submit(entry())
    assert result.placed and result.attempts == 2
    assert len(fake.orders) == 1 and len(fake.calls(*ORDER)) == 1
    assert ex.duplicates_prevented == 1


def test_timeout_before_accept_is_resent_with_the_same_client_id() -> None:
    ex, fake, _ = make()
    fake.fail(*ORDER, "timeout")
    result = router(ex)[0].submit(entry())
    assert result.placed and len(fake.orders) == 1
    sent = fake.calls(*ORDER)
    assert (
        len(sent) == 2 and sent[0].params["newClientOrderId"] == sent[1].params["newClientOrderId"]
    )


def test_rate_limited_order_is_retried_after_a_cooldown() -> None:
    ex, fake, sleeps = make()
    fake.fail(*ORDER, "429")
    result = router(ex)[0].submit(entry())
    assert result.placed and len(fake.orders) == 1 and len(fake.calls(*ORDER)) == 2
    # the router's lookup and the adapter's own pre-resend check both found nothing
    assert ex.stats()["errors_by_kind"] == {"rate_limit": 1, "not_found": 2}
    assert sleeps and sleeps[0] == pytest.approx(2.0, abs=0.05)  # 4 x 0.5 s: adapter cooldown


def test_insufficient_funds_fails_at_once_without_retry() -> None:
    ex, fake, _ = make(CannedBinance(wallet=10.0))
    rt = router(ex)[0]
    result = rt.submit(entry(qty=0.01))
    assert not result.placed and result.attempts == 1
    assert result.error is not None and "insufficient_funds" in result.error
    assert result.category == "insufficient_funds"
    assert len(fake.calls(*ORDER)) == 1 and fake.calls(*QUERY) == []


def test_invalid_order_fails_with_the_reason_without_retry() -> None:
    ex, fake, _ = make()
    rt = router(ex)[0]
    result = rt.submit(entry(qty=0.001))  # 60 USDT < the 100 USDT min notional
    assert not result.placed and result.error is not None and "-4164" in result.error
    assert result.category == "invalid_order"
    assert len(fake.calls(*ORDER)) == 1


def test_duplicate_client_id_resolves_to_the_existing_order() -> None:
    ex, fake, _ = make()
    req = entry()
    ex.place_order(req)
    fake.orders[0]["status"] = "NEW"  # still open: Binance refuses the id
    ack = ex.place_order(req)
    assert ack.exchange_order_id == str(fake.orders[0]["orderId"]) and len(fake.orders) == 1
    assert ex.stats()["errors_by_kind"] == {"duplicate": 1}


def test_find_order_of_an_unknown_id_is_none() -> None:
    ex, fake, _ = make()
    assert ex.find_order("never-sent") is None
    req = entry()
    ex.place_order(req)
    fake.orders.clear()
    assert ex.find_order(req.client_order_id) is None


# --- fills, positions, marks, bars, balance -------------------------------------------------------


def test_poll_fills_reports_each_fill_once_with_fee_and_realized_pnl() -> None:
    ex, fake, _ = make()
    ex.place_order(entry())
    [f1] = ex.poll_fills()
    assert (f1.symbol, f1.side, f1.qty, f1.price, f1.kind) == (
        "BTCUSDT",
        "buy",
        0.01,
        60_000.0,
        OrderKind.ENTRY,
    )
    assert f1.fee == pytest.approx(0.24) and f1.intent_id == "i-1" and f1.ts == SERVER_MS / 1000
    assert ex.poll_fills() == []
    fake.marks["BTCUSDT"] = 61_000.0
    ex.place_order(exit_order())
    [f2] = ex.poll_fills()
    assert f2.reduce_only and f2.exit_kind is ExitKind.TP
    assert f2.realized_pnl == pytest.approx(10.0)
    assert ex.stats()["orders_tracked"] == 0


def test_fill_is_built_from_the_order_when_the_venue_shows_no_trades() -> None:
    ex, fake, _ = make()
    ex.place_order(entry())
    fake.trades.clear()
    assert ex.poll_fills() == [] and ex.poll_fills() == []
    [fill] = ex.poll_fills()
    assert (fill.qty, fill.price) == (0.01, 60_000.0) and fill.fee > 0


def test_positions_and_marks_are_parsed_by_our_symbols() -> None:
    fake = CannedBinance(positions={"BTCUSDT": (0.02, 59_000.0), "ETHUSDT": (-0.5, 3_100.0)})
    ex, _, _ = make(fake)
    pos = ex.positions()
    assert pos["BTCUSDT"].side is Side.LONG and pos["BTCUSDT"].qty == 0.02
    assert (pos["BTCUSDT"].entry_price, pos["BTCUSDT"].mark_price) == (59_000.0, 60_000.0)
    assert pos["ETHUSDT"].side is Side.SHORT and pos["ETHUSDT"].qty == 0.5
    assert ex.marks() == {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0}
    assert ex.marks(["ETHUSDT"]) == {"ETHUSDT": 3_000.0}


def test_recent_bars_are_closed_bars_in_epoch_seconds() -> None:
    ex, fake, _ = make()
    start = SERVER_MS - 5 * 60_000
    fake.set_klines("BTCUSDT", start, [100.0, 101.0, 102.0, 103.0, 104.0, 105.0])
    ex._clock.set(SERVER_MS / 1000 + 30)  # type: ignore[attr-defined]  # last bar still forming
    bars = ex.fetch_recent_bars("BTCUSDT", "1m", limit=3)
    assert [b.ts for b in bars] == [(start + i * 60_000) / 1000 for i in (2, 3, 4)]
    assert bars[-1].close == 104.0 and bars[-1].symbol == "BTCUSDT"
    assert fake.calls("GET", "/fapi/v1/klines")[0].params["interval"] == "1m"


def test_balance_is_the_wallet_balance_after_fees() -> None:
    ex, _, _ = make()
    assert ex.balance() == 10_000.0
    ex.place_order(entry())
    assert ex.balance() == pytest.approx(10_000.0 - 0.24)


def test_read_hit_by_429_is_retried_with_backoff() -> None:
    ex, fake, sleeps = make()
    fake.fail("GET", "/fapi/v3/positionRisk", "429", "503")
    assert ex.positions() == {}
    assert ex.stats()["errors_by_kind"] == {"rate_limit": 1, "network": 1}
    assert ex.stats()["retries_total"] == 2 and len(sleeps) == 2


def test_reads_give_up_after_max_retries_with_a_transient_error() -> None:
    ex, fake, _ = make()
    fake.fail("GET", "/fapi/v1/premiumIndex", *["503"] * 4)
    with pytest.raises(TransientExchangeError):
        ex.marks()
    assert ex.stats()["retries_total"] == 3


def test_refused_key_is_an_authentication_failure() -> None:
    ex, fake, _ = make()
    fake.fail("GET", "/fapi/v3/account", "bad_key")
    with pytest.raises(AuthenticationFailed):
        ex.balance()


def test_hedge_mode_positions_are_refused_clearly() -> None:
    ex, fake, _ = make()

    def both_sides(p: dict[str, str]) -> tuple[int, Any]:
        row = {"symbol": "BTCUSDT", "positionAmt": "0.010", "entryPrice": "1", "markPrice": "1"}
        return 200, [row | {"positionSide": "LONG"}, row | {"positionAmt": "-0.010",
                                                            "positionSide": "SHORT"}]  # fmt: skip

    fake._position_risk = both_sides  # type: ignore[method-assign]
    with pytest.raises(ExchangeError, match="hedge mode"):
        ex.positions()
