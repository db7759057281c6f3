"""CcxtExchange on the canned Binance API: API keys and secrets never leak, errors map to the
engine's kinds, reconciliation, and the margin set-up read back at start."""

from __future__ import annotations

import logging

import ccxt
import pytest
from ccxt_canned import (
    API_KEY,
    API_SECRET,
    SERVER_MS,
    CannedBinance,
    canned_client,
    leaked_secrets,
)
from ccxt_venue_kit import ORDER, entry, make, quiet_order_diagnostics, router

from execution.clock import ReplayClock
from execution.config import EngineConfig, ExchangeConfig, SymbolSpec
from execution.order_router import client_order_id
from execution.position_ledger import PositionLedger
from execution.position_tp_sl_registry import TpSlRegistry
from execution.run.reconcile import reconcile
from execution.types import OrderKind, Side
from execution.venues.base import (
    AuthenticationFailed,
    ExchangeError,
    OrderRejected,
    TransientExchangeError,
)
from execution.venues.ccxt_guard import RedactingLogger, Redactor
from execution.venues.ccxt_venue import (
    CcxtExchange,
    DuplicateClientOrderId,
    MissingKeysError,
    OrderNotFound,
    keys_from_env,
    map_ccxt_error,
    venue_client_id,
)

# --- keys and secrets ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def quiet_diagnostics(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet_order_diagnostics(monkeypatch)


def test_keys_come_from_the_named_environment_variables() -> None:
    cfg = ExchangeConfig(api_key_env="K", api_secret_env="S")
    assert keys_from_env(cfg, {"K": "abc", "S": "def"}) == ("abc", "def")
    with pytest.raises(MissingKeysError, match="K, S"):
        keys_from_env(cfg, {})
    with pytest.raises(MissingKeysError) as err:
        keys_from_env(cfg, {"K": "visible-key-value"})
    assert "S" in str(err.value) and "visible-key-value" not in str(err.value)


def test_from_config_reads_keys_and_testnet_uses_binance_demo_trading() -> None:
    cfg = EngineConfig(universe=(SymbolSpec(symbol="BTCUSDT"),))
    env = {"V7_API_KEY": API_KEY, "V7_API_SECRET": API_SECRET}
    client, fake = canned_client(testnet=True)
    ex = CcxtExchange.from_config(cfg, ReplayClock(SERVER_MS / 1000), testnet=True, env=env,
                                  ccxt_client=client)  # fmt: skip
    assert ex.balance() == 10_000.0
    assert all(r.url.startswith("https://demo-fapi.binance.com/") for r in fake.requests)
    with pytest.raises(MissingKeysError):
        CcxtExchange.from_config(cfg, ReplayClock(0.0), env={})


def test_no_key_or_secret_in_any_log_line_message_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ex, fake, _ = make()
    fake.fail(*ORDER, "timeout_after_accept")
    fake.fail("GET", "/fapi/v3/positionRisk", "timeout", "429")
    fake.fail("GET", "/fapi/v3/account", "bad_key")
    texts = [repr(ex), str(ex.stats())]
    rt = router(ex)[0]
    rt.submit(entry())
    ex.poll_fills()
    ex.positions()
    ex.marks()
    for call in (ex.balance, lambda: ex.place_order(entry(qty=10.0, intent="big"))):
        with pytest.raises(ExchangeError) as err:
            call()
        texts.append(str(err.value))
    texts += [r.getMessage() for r in caplog.records]
    http = [r for r in caplog.records if r.name == "execution.venues.ccxt_venue.http"]
    assert http and any("X-MBX-APIKEY" in r.getMessage() for r in http)  # redacted, not absent
    assert all(leaked_secrets(t) == [] for t in texts)
    assert not any("signature=" in t and "signature=***" not in t for t in texts)


def test_error_mapping_table() -> None:
    redact = Redactor(API_KEY)
    cases = {
        ccxt.RequestTimeout: ("timeout", TransientExchangeError),
        ccxt.NetworkError: ("network", TransientExchangeError),
        ccxt.RateLimitExceeded: ("rate_limit", TransientExchangeError),
        ccxt.DDoSProtection: ("rate_limit", TransientExchangeError),
        ccxt.ExchangeNotAvailable: ("unavailable", TransientExchangeError),
        ccxt.OnMaintenance: ("unavailable", TransientExchangeError),
        ccxt.InsufficientFunds: ("insufficient_funds", OrderRejected),
        ccxt.InvalidOrder: ("invalid_order", OrderRejected),
        ccxt.OrderNotFound: ("not_found", OrderNotFound),
        ccxt.DuplicateOrderId: ("duplicate", DuplicateClientOrderId),
        ccxt.AuthenticationError: ("auth", AuthenticationFailed),
        ccxt.PermissionDenied: ("auth", AuthenticationFailed),
        ccxt.BadSymbol: ("error", ExchangeError),
    }
    for ccxt_type, (kind, ours) in cases.items():
        got_kind, got = map_ccxt_error(ccxt_type(f"boom {API_KEY}"), redact)
        assert (got_kind, type(got)) == (kind, ours), ccxt_type
        assert API_KEY not in str(got)
    assert isinstance(map_ccxt_error(ccxt.InsufficientFunds("x"), redact)[1], OrderRejected)


def test_venue_client_ids_keep_router_ids_and_hash_long_ones() -> None:
    rid = client_order_id("intent-1", OrderKind.ENTRY)
    assert venue_client_id(rid) == rid
    long_id = "x" * 80
    assert venue_client_id(long_id) == venue_client_id(long_id)
    assert len(venue_client_id(long_id)) <= 36 and venue_client_id("a b") != "a b"


def test_exchange_positions_drive_each_reconciliation_case() -> None:
    fake = CannedBinance(positions={"BTCUSDT": (0.02, 60_000.0), "ETHUSDT": (-0.5, 3_100.0)})
    ex, _, _ = make(fake)
    ledger, registry = PositionLedger(), TpSlRegistry()
    ledger.adopt("BTCUSDT", Side.LONG, 0.03, 60_000.0, 0.0)  # drifted: the exchange holds 0.02
    ledger.adopt("XRPUSDT", Side.LONG, 100.0, 0.6, 0.0)  # closed outside the engine
    report = reconcile(ledger, registry, ex.positions(), SERVER_MS / 1000)
    assert (report.adopted, report.closed_external, report.qty_corrected) == (
        ["ETHUSDT"],
        ["XRPUSDT"],
        ["BTCUSDT"],
    )
    eth = ledger.get("ETHUSDT")
    assert eth is not None and (eth.side, eth.qty) == (Side.SHORT, 0.5)
    assert registry.get("ETHUSDT") is None  # adopted without TP/SL: the canary sees it
    btc = ledger.get("BTCUSDT")
    assert btc is not None and btc.qty == 0.02 and ledger.get("XRPUSDT") is None


def test_redacting_logger_never_raises_and_blanks_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logger = RedactingLogger(logging.getLogger("t.redact"), Redactor(API_KEY, API_SECRET))
    logger.debug("headers %s", {"X-MBX-APIKEY": API_KEY})
    logger.debug("bad format %d", "not a number")
    logger.debug(f"GET /x?a=1&signature=abc123 {API_SECRET}")
    texts = [r.getMessage() for r in caplog.records]
    assert len(texts) == 3 and all(leaked_secrets(t) == [] for t in texts)
    assert "signature=***" in texts[2]


# --- margin set-up and read-back ----------------------------------------------------------------


def test_margin_mode_and_leverage_are_set_at_start_and_a_mode_already_set_is_no_error() -> None:
    ex, fake, _ = make()
    ex.load_markets()
    granted = ex.set_margin({"BTCUSDT": 10.0, "ETHUSDT": 120.0}, "isolated")
    assert granted == {"BTCUSDT": 10.0, "ETHUSDT": 100.0}  # the exchange caps ETH at 100x
    assert fake.margin_types == {"BTCUSDT": "ISOLATED", "ETHUSDT": "ISOLATED"}
    assert fake.leverage_by_symbol == {"BTCUSDT": 10, "ETHUSDT": 100}
    assert ex.set_margin({"BTCUSDT": 5.0}, "isolated") == {"BTCUSDT": 5.0}  # -4046 tolerated


def test_a_symbol_holding_a_position_keeps_its_margin_mode_and_still_gets_its_leverage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ex, fake, _ = make()
    fake.positions["BTCUSDT"] = (0.5, 60_000.0)  # held in cross margin, Binance's default
    ex.load_markets()
    granted = ex.set_margin({"BTCUSDT": 10.0, "ETHUSDT": 10.0}, "isolated")  # -4048 for BTC
    assert granted == {"BTCUSDT": 10.0, "ETHUSDT": 10.0}
    assert fake.margin_types == {"ETHUSDT": "ISOLATED"}
    assert "BTCUSDT: holds a position, so its margin stays cross (not isolated)" in caplog.text


def test_the_venue_liquidation_price_and_leverage_are_read_back_with_the_positions() -> None:
    ex, fake, _ = make()
    fake.positions["BTCUSDT"] = (0.5, 60_000.0)
    fake.liquidation_prices["BTCUSDT"] = 54_321.5
    ex.load_markets()
    assert "BTCUSDT" in ex.positions()
    risk = ex.position_risk()["BTCUSDT"]
    assert risk.liquidation_price == 54_321.5
    assert risk.margin > 0
