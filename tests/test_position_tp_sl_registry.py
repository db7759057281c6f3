"""position_tp_sl_registry.TpSlRegistry: the one owner of each open position's TP/SL levels.

Scenarios: register, replace, remove, the spec's accessor, the JSON round trip, and a saved
registry whose bad entries are left out on load (a level that can never trigger is not
protection, so its position must count as uncovered).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from execution.position_tp_sl_registry import TpSlEntry, TpSlRegistry
from execution.types import Side

T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z
BTC, ETH = "BTCUSDT", "ETHUSDT"


def btc_long(tp: float = 110.0, sl: float = 95.0, ts: float = T0) -> TpSlEntry:
    return TpSlEntry(BTC, Side.LONG, tp, sl, ts)


def test_a_registered_entry_is_found_by_symbol_and_listed() -> None:
    registry = TpSlRegistry()
    entry = btc_long()
    registry.register(entry)
    assert registry.get(BTC) == entry
    assert registry.get(ETH) is None
    assert registry.get_all_entries() == [entry]
    assert entry.source == "strategy"


def test_registering_a_symbol_again_replaces_its_levels() -> None:
    registry = TpSlRegistry()
    registry.register(btc_long())
    moved = btc_long(tp=120.0, sl=101.0, ts=T0 + 60)
    registry.register(moved)
    assert registry.get_all_entries() == [moved]  # one entry per symbol, the latest


def test_removing_returns_the_entry_once_and_then_nothing() -> None:
    registry = TpSlRegistry()
    entry = btc_long()
    registry.register(entry)
    registry.register(TpSlEntry(ETH, Side.SHORT, 1_900.0, 2_100.0, T0))
    assert registry.remove(BTC) == entry
    assert registry.remove(BTC) is None
    assert [e.symbol for e in registry.get_all_entries()] == [ETH]


def test_the_registry_round_trips_through_its_json_dict() -> None:
    registry = TpSlRegistry()
    registry.register(btc_long())
    registry.register(TpSlEntry(ETH, Side.SHORT, 1_900.0, 2_100.0, T0 + 60, source="adopted"))
    data = json.loads(json.dumps(registry.to_dict(T0 + 120)))
    assert data["updated_ts"] == "2024-01-01T00:02:00Z"
    assert data["entries"][ETH]["side"] == "short"
    again = TpSlRegistry.from_dict(data)
    assert again.get_all_entries() == registry.get_all_entries()
    assert again.to_dict(T0 + 120) == data


GOOD: dict[str, Any] = {
    "symbol": BTC,
    "side": "long",
    "tp_price": 110.0,
    "sl_price": 95.0,
    "created_ts": "2024-01-01T00:00:00Z",
    "source": "strategy",
}


@pytest.mark.parametrize(
    "bad",
    [
        {**GOOD, "sl_price": 0.0},
        {**GOOD, "tp_price": -110.0},
        {**GOOD, "sl_price": float("nan")},  # never crossed: a stop that never fires
        {**GOOD, "tp_price": float("inf")},
        {**GOOD, "sl_price": "95"},
        {**GOOD, "side": "sideways"},
        {k: v for k, v in GOOD.items() if k != "sl_price"},
        "not an entry",
    ],
    ids=["zero_sl", "negative_tp", "nan_sl", "inf_tp", "text_sl", "bad_side", "no_sl", "text"],
)
def test_a_saved_entry_with_levels_that_cannot_trigger_is_left_out_on_load(bad: Any) -> None:
    data = json.loads(json.dumps({"entries": {BTC: GOOD, ETH: bad}}))
    registry = TpSlRegistry.from_dict(data)
    assert [e.symbol for e in registry.get_all_entries()] == [BTC]
    assert registry.get(BTC) == TpSlEntry(BTC, Side.LONG, 110.0, 95.0, T0)


def test_a_saved_registry_without_entries_loads_empty() -> None:
    for data in ({}, {"entries": None}, {"entries": ["BTCUSDT"]}):
        assert TpSlRegistry.from_dict(data).get_all_entries() == []
