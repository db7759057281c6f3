"""PaperExchange's account saved and loaded: exact round trips with pending orders, the file as
compact JSON, a missing or corrupt file, the account built from the config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from paper_venue_kit import FEE_BPS, SLIP_BPS, SYM, bar, make_exchange, order

from execution.clock import ReplayClock
from execution.config import parse_config
from execution.types import MarketRules
from execution.venues.paper import PaperExchange


def test_save_and_load_round_trip_is_exact_including_pending_orders(tmp_path: Path) -> None:
    ex = make_exchange()
    ex.on_bar(bar(100.0, close=101.3))
    ex.on_bar(bar(3_000.0, symbol="ETHUSDT"))
    ex.place_order(order("buy", 1.234, trigger=100.0))
    ex.place_order(order("sell", 0.5, reduce_only=True))  # pending
    ex.place_order(order("sell", 2.0, symbol="ETHUSDT"))  # pending
    ex.poll_fills()
    ex.place_order(order("buy", 0.1, trigger=101.0))  # an unpolled fill
    path = tmp_path / "paper_exchange.json"
    ex.save(path)
    back = make_exchange()
    assert back.load(path) == "ok"
    assert back.to_dict() == ex.to_dict()
    assert back.positions() == ex.positions() and back.balance() == ex.balance()
    assert back.poll_fills() == ex.poll_fills()
    for venue in (ex, back):
        venue.on_bar(bar(102.0))
        venue.on_bar(bar(2_900.0, symbol="ETHUSDT"))
    assert back.poll_fills() == ex.poll_fills() and back.to_dict() == ex.to_dict()


def test_saved_file_is_the_compact_json_of_the_account_as_its_orders_change(
    tmp_path: Path,
) -> None:
    ex = make_exchange()
    ex.on_bar(bar(100.0, close=101.3))
    path = tmp_path / "paper_exchange.json"
    for step in range(3):
        ex.place_order(order("buy", 0.1 * (step + 1), cid=f"o{step}"))  # pending until a bar
        ex.save(path)
        plain = json.dumps(ex.to_dict(), separators=(",", ":"), allow_nan=False)
        assert path.read_text(encoding="utf-8") == plain
        ex.on_bar(bar(100.0 + step))  # fills it: the order's status changes
    ex.save(path)
    assert json.loads(path.read_text(encoding="utf-8"))["orders"]["o2"]["status"] == "filled"


def test_an_order_time_that_is_not_finite_is_saved_as_null(tmp_path: Path) -> None:
    ex = make_exchange()
    ex.on_bar(bar(100.0))
    ex.place_order(order("buy", 1.0, trigger=100.0, cid="odd"))
    data = ex.to_dict()
    data["orders"] = {"odd": {**data["orders"]["odd"], "ts": float("nan")}}
    back = PaperExchange.restore(
        data, {SYM: MarketRules(SYM)}, 1.0, FEE_BPS, SLIP_BPS, ReplayClock()
    )
    path = tmp_path / "paper_exchange.json"
    back.save(path)
    saved = json.loads(path.read_text(encoding="utf-8"), parse_constant=pytest.fail)
    assert saved["orders"]["odd"]["ts"] is None


def test_restore_from_dict_keeps_the_account() -> None:
    ex = make_exchange()
    ex.on_bar(bar(100.0))
    ex.place_order(order("buy", 1.0, trigger=100.0, cid="keep"))
    data = json.loads(json.dumps(ex.to_dict()))
    back = PaperExchange.restore(
        data, {SYM: MarketRules(SYM)}, 1.0, FEE_BPS, SLIP_BPS, ReplayClock()
    )
    assert back.balance() == ex.balance() and back.find_order("keep") == ex.find_order("keep")


def test_load_missing_file_gives_a_fresh_account(tmp_path: Path) -> None:
    ex = make_exchange()
    assert ex.load(tmp_path / "absent.json") == "missing"
    assert ex.balance() == 10_000.0 and ex.positions() == {}


def test_load_corrupt_file_starts_fresh_and_keeps_the_bad_copy(tmp_path: Path) -> None:
    path = tmp_path / "paper_exchange.json"
    path.write_text('{"balance": ')
    ex = make_exchange()
    assert ex.load(path) == "corrupt"
    assert ex.balance() == 10_000.0
    assert (tmp_path / "paper_exchange.json.corrupt").exists() and not path.exists()


def test_from_config_uses_symbol_overrides_and_exchange_defaults(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "universe": [
                {"symbol": "BTCUSDT", "qty_step": 0.01, "min_notional": 0},
                {"symbol": "X"},
            ],
            "exchange": {"starting_balance": 500, "default_qty_step": 0.1},
        }
    )
    ex = PaperExchange.from_config(cfg, ReplayClock(), state_path=tmp_path / "p.json")
    assert ex.market_rules("BTCUSDT").qty_step == 0.01
    assert ex.market_rules("BTCUSDT").min_notional == 0
    assert ex.market_rules("X").qty_step == 0.1 and ex.market_rules("X").min_notional == 5.0
    assert ex.balance() == 500 and ex.load_status == "missing"
