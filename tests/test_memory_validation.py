"""The engine's memory on restart: strict loaders refuse what the engine never writes, naming the
key; the lenient loaders never load a TP/SL that is not protection, so the canary sees it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.clock import ReplayClock
from execution.exit_scanner import scan_tp_sl_exits
from execution.memory_errors import MemoryCorrupt
from execution.position_ledger import PositionLedger
from execution.position_tp_sl_registry import TpSlEntry, TpSlRegistry, has_valid_levels
from execution.state_snapshots import intent_from_dict, intent_to_dict
from execution.types import ExitKind, Fill, Intent, MarketRules, OrderKind, Side
from execution.venues.paper import PaperExchange
from execution.venues.paper_account import account_from_dict

T0 = 1_704_067_200.0
SYM = "BTCUSDT"
GIANT = 10**400  # parses as a Python int, has no float

# Levels that are not protection: each must be refused, and never count as covered.
NOT_A_LEVEL: dict[str, object] = {
    "nan": math.nan, "inf": math.inf, "minus_inf": -math.inf, "string_n_a": "n/a",
    "numeric_string": "100", "null": None, "negative": -1.0, "zero": 0, "true": True,
    "list": [100.0], "giant_integer": GIANT,
}  # fmt: skip
_MISSING = object()


def registry_memory() -> dict[str, Any]:
    reg = TpSlRegistry()
    reg.register(TpSlEntry(SYM, Side.LONG, 110.0, 90.0, T0))
    reg.register(TpSlEntry("ETHUSDT", Side.SHORT, 2900.0, 3100.0, T0, "sync"))
    return json.loads(json.dumps(reg.to_dict(T0)))


def ledger_memory() -> dict[str, Any]:
    ledger = PositionLedger()
    ledger.apply_fill(Fill("c1", SYM, "buy", 0.5, 100.0, 0.02, T0, OrderKind.ENTRY))
    ledger.apply_fill(Fill("c2", "ETHUSDT", "sell", 1.0, 3000.0, 1.2, T0, OrderKind.ENTRY))
    ledger.apply_fill(Fill("c3", "ETHUSDT", "buy", 0.5, 2950.0, 0.6, T0, OrderKind.EXIT))
    return json.loads(json.dumps(ledger.to_dict(T0)))


def with_value(doc: dict[str, Any], path: tuple[str, ...], value: object) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is _MISSING:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


def refusal(load: Any, data: object) -> str:
    with pytest.raises(MemoryCorrupt) as info:
        load(data)
    return str(info.value)


def test_strict_loaders_read_back_exactly_what_the_engine_saved() -> None:
    reg, ledger = registry_memory(), ledger_memory()
    assert TpSlRegistry.from_memory(reg).to_dict(T0) == reg
    assert PositionLedger.from_memory(ledger).to_dict(T0) == ledger


def test_registry_entry_with_tp_price_n_a_is_refused_naming_the_key() -> None:
    bad = with_value(registry_memory(), ("entries", SYM, "sl_price"), "n/a")
    assert refusal(TpSlRegistry.from_memory, bad) == (
        "registry.BTCUSDT.sl_price: 'n/a' is not a finite price"
    )


@pytest.mark.parametrize("level", ["tp_price", "sl_price"])
@pytest.mark.parametrize("value", [*NOT_A_LEVEL, "missing"])
def test_a_level_that_is_not_protection_is_refused_strictly_and_never_loaded_leniently(
    level: str, value: str
) -> None:
    bad = with_value(registry_memory(), ("entries", SYM, level), NOT_A_LEVEL.get(value, _MISSING))
    assert refusal(TpSlRegistry.from_memory, bad).startswith(f"registry.{SYM}.{level}: ")
    lenient = TpSlRegistry.from_dict(bad)
    assert lenient.get(SYM) is None and lenient.get("ETHUSDT") is not None
    assert not has_valid_levels(bad["entries"][SYM])


@pytest.mark.parametrize("value", ["nan", "string_n_a", "null"])
def test_a_position_whose_entry_has_a_bad_level_counts_as_missing_and_the_canary_sees_it(
    value: str,
) -> None:
    reg = TpSlRegistry.from_dict(
        with_value(registry_memory(), ("entries", SYM, "sl_price"), NOT_A_LEVEL[value])
    )
    ledger = PositionLedger.from_memory(ledger_memory())
    result = scan_tp_sl_exits(ledger, reg, {}, {SYM: 95.0, "ETHUSDT": 3000.0}, T0)
    assert list(result.missing_symbols) == [SYM]
    counts = result.counts
    assert (counts.tp_sl_registered_count, counts.tp_sl_missing_count) == (1, 1)
    assert counts.underwater_without_tp_sl_count == 1  # long at 100, marked at 95


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "registry: expected an object, got null"),
        ({"entries": [registry_memory()["entries"][SYM]]},
         "registry.entries: expected an object, got list"),
        ({"schema_version": 1}, "registry.entries: is missing"),
        (with_value(registry_memory(), ("entries", SYM, "side"), "up"),
         "registry.BTCUSDT.side: 'up' is not a side"),
        (with_value(registry_memory(), ("entries", SYM, "symbol"), "ETHUSDT"),
         "registry.BTCUSDT.symbol: 'ETHUSDT' differs from its key"),
        (with_value(registry_memory(), ("entries", SYM, "created_ts"), 5),
         "registry.BTCUSDT.created_ts: 5 is not an ISO-8601 time"),
    ],
)  # fmt: skip
def test_registry_of_the_wrong_shape_is_refused_naming_the_key(data: object, message: str) -> None:
    assert refusal(TpSlRegistry.from_memory, data) == message


def test_registry_entries_given_as_a_list_load_leniently_as_nothing_registered() -> None:
    entries = list(registry_memory()["entries"].values())
    assert TpSlRegistry.from_dict({"entries": entries}).get_all_entries() == []


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("positions", SYM, "qty"), math.nan, "ledger.BTCUSDT.qty: nan is not a finite positive number"),
        (("positions", SYM, "qty"), "0.5", "ledger.BTCUSDT.qty: '0.5' is not a finite positive number"),
        (("positions", SYM, "qty"), -0.5, "ledger.BTCUSDT.qty: -0.5 is not a finite positive number"),
        (("positions", SYM, "qty"), GIANT, "ledger.BTCUSDT.qty: an integer of 1329 bits is not a finite positive number"),
        (("positions", SYM, "entry_price"), math.inf, "ledger.BTCUSDT.entry_price: inf is not a finite price"),
        (("positions", SYM, "entry_price"), _MISSING, "ledger.BTCUSDT.entry_price: is missing"),
        (("positions", SYM, "side"), "flat", "ledger.BTCUSDT.side: 'flat' is not a side"),
        (("positions", SYM, "adopted"), "no", "ledger.BTCUSDT.adopted: 'no' is not true/false"),
        (("positions", SYM), [1, 2], "ledger.BTCUSDT: expected an object, got list"),
        (("positions",), None, "ledger.positions: expected an object, got null"),
        (("fees_paid",), math.nan, "ledger.fees_paid: nan is not a finite number"),
        (("realized_pnl",), "12.5", "ledger.realized_pnl: '12.5' is not a finite number"),
        (("closed_count",), 1.5, "ledger.closed_count: 1.5 is not a count"),
        (("closed_count",), _MISSING, "ledger.closed_count: is missing"),
        (("last_fill_ts",), "yesterday", "ledger.last_fill_ts: 'yesterday' is not an ISO-8601 time"),
    ],
)  # fmt: skip
def test_ledger_with_a_bad_value_is_refused_naming_the_key(
    path: tuple[str, ...], value: object, message: str
) -> None:
    assert refusal(PositionLedger.from_memory, with_value(ledger_memory(), path, value)) == message


def test_ledger_null_is_refused() -> None:
    assert refusal(PositionLedger.from_memory, None) == "ledger: expected an object, got null"


def test_lenient_ledger_drops_a_nan_position_and_reads_nan_totals_as_zero() -> None:
    bad = with_value(ledger_memory(), ("positions", SYM, "entry_price"), math.nan)
    bad = with_value(bad, ("fees_paid",), math.nan)
    bad = with_value(bad, ("closed_count",), math.nan)
    ledger = PositionLedger.from_dict(bad)
    assert ledger.get(SYM) is None and ledger.get("ETHUSDT") is not None
    assert (ledger.fees_paid, ledger.closed_count) == (0.0, 0)
    assert ledger.realized_pnl == ledger_memory()["realized_pnl"]


# --- pending intents -----------------------------------------------------------------------------


def intent_memory() -> dict[str, Any]:
    return intent_to_dict(Intent("i-1", SYM, Side.LONG, 50.0, 100.0, 103.0, 98.0, T0, "sma"))


def test_a_saved_intent_reads_back_strictly() -> None:
    intent = intent_from_dict(intent_memory(), strict=True)
    assert intent is not None and intent_to_dict(intent) == intent_memory()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tp", math.nan, "pending_intents.[0].tp: nan is not a finite price"),
        ("sl", "n/a", "pending_intents.[0].sl: 'n/a' is not a finite price"),
        ("ref_price", -1.0, "pending_intents.[0].ref_price: -1.0 is not a finite price"),
        ("notional", math.inf, "pending_intents.[0].notional: inf is not a finite positive number"),
        ("side", "buy", "pending_intents.[0].side: 'buy' is not a side"),
        ("ts", _MISSING, "pending_intents.[0].ts: is missing"),
    ],
)
def test_a_pending_intent_with_a_bad_value_is_none_or_refused_in_strict_mode(
    field: str, value: object, message: str
) -> None:
    bad = with_value(intent_memory(), (field,), value)
    assert intent_from_dict(bad) is None
    with pytest.raises(MemoryCorrupt) as info:
        intent_from_dict(bad, strict=True, key="[0]")
    assert str(info.value) == message


# --- the paper account ---------------------------------------------------------------------------


def paper_memory() -> dict[str, Any]:
    ex = PaperExchange({SYM: MarketRules(SYM)}, 10_000.0, 4.0, 10.0, ReplayClock(T0))
    return json.loads(json.dumps(ex.to_dict())) | {
        "last_prices": {SYM: 100.0},
        "positions": {SYM: {"qty": 0.5, "entry_price": 100.0}},
    }


def _fill(**overrides: Any) -> dict[str, Any]:
    fill = {
        "client_order_id": "c1", "symbol": SYM, "side": "buy", "qty": 0.5, "price": 100.0,
        "fee": 0.02, "ts": T0, "kind": "entry", "reduce_only": False, "intent_id": "i-1",
        "exit_kind": None, "realized_pnl": 0.0, "ref_price": 100.0, "tp": 103.0, "sl": 98.0,
    }  # fmt: skip
    return fill | overrides


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("balance",), math.nan, "paper_account.balance: nan is not a finite number"),
        (("starting_balance",), math.inf, "paper_account.starting_balance: inf is not a finite positive number"),
        (("last_prices", SYM), math.nan, "paper_account.last_prices.BTCUSDT: nan is not a finite price"),
        (("positions", SYM, "entry_price"), "100", "paper_account.positions.BTCUSDT.entry_price: '100' is not a finite price"),
        (("unpolled_fills",), [_fill(sl=math.nan)], "paper_account.unpolled_fills[0].sl: nan is not a finite price"),
        (("unpolled_fills",), [_fill(price=-math.inf)], "paper_account.unpolled_fills[0].price: -inf is not a finite price"),
    ],
)  # fmt: skip
def test_paper_account_with_a_non_finite_balance_or_price_is_refused(
    path: tuple[str, ...], value: object, message: str, tmp_path: Path
) -> None:
    good = paper_memory() | {"unpolled_fills": [_fill()]}
    assert account_from_dict(good).fills[0].tp == 103.0
    bad = with_value(good, path, value)
    assert refusal(account_from_dict, bad) == message
    saved = tmp_path / "paper_exchange.json"
    saved.write_text(json.dumps(bad))
    venue = PaperExchange({SYM: MarketRules(SYM)}, 10_000.0, 4.0, 10.0, ReplayClock(T0))
    assert venue.load(saved) == "corrupt" and venue.balance() == 10_000.0


# --- random garbage ------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.just(GIANT), st.floats(), st.text(max_size=4),
    st.sampled_from(["long", "short", "n/a", "2024-01-01T00:00:00Z", "NaN"]),
)  # fmt: skip
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)  # fmt: skip
_entry_fields = ("symbol", "side", "tp_price", "sl_price", "created_ts", "source")
_entries = st.dictionaries(
    st.sampled_from([SYM, "ETHUSDT"]),
    st.dictionaries(st.sampled_from(_entry_fields), _json, max_size=6) | _json,
    max_size=2,
)
_position_fields = ("symbol", "side", "qty", "entry_price", "entry_ts", "adopted")
_positions = st.dictionaries(
    st.sampled_from([SYM, "ETHUSDT"]),
    st.dictionaries(st.sampled_from(_position_fields), _json, max_size=6) | _json,
    max_size=2,
)


def _finite_positive(x: float) -> bool:
    return isinstance(x, float) and math.isfinite(x) and x > 0


@settings(max_examples=300, deadline=None)
@given(
    payload=st.one_of(
        _json,
        st.fixed_dictionaries({"entries": _entries}),
        st.fixed_dictionaries({"entries": _json}),
    )
)
def test_garbage_registry_never_loads_a_non_finite_level_and_only_raises_memory_corrupt(
    payload: Any,
) -> None:  # fmt: skip
    loaded = [TpSlRegistry.from_dict(payload)]
    with contextlib.suppress(MemoryCorrupt):
        loaded.append(TpSlRegistry.from_memory(payload))
    for reg in loaded:
        for entry in reg.get_all_entries():
            assert _finite_positive(entry.tp_price) and _finite_positive(entry.sl_price)
            assert entry.side in (Side.LONG, Side.SHORT)


@settings(max_examples=300, deadline=None)
@given(
    positions=st.one_of(_positions, _json),
    totals=st.dictionaries(st.sampled_from(["closed_count", "realized_pnl", "fees_paid", "last_fill_ts"]), _json),
)  # fmt: skip
def test_garbage_ledger_never_loads_a_non_finite_position_and_only_raises_memory_corrupt(
    positions: Any, totals: dict[str, Any]
) -> None:
    payload = {"positions": positions, **totals}
    loaded = [PositionLedger.from_dict(payload)]
    with contextlib.suppress(MemoryCorrupt):
        loaded.append(PositionLedger.from_memory(payload))
    for ledger in loaded:
        for pos in ledger.get_open_positions():
            assert _finite_positive(pos.qty) and _finite_positive(pos.entry_price)
            assert math.isfinite(pos.entry_fees)
        assert math.isfinite(ledger.realized_pnl) and math.isfinite(ledger.fees_paid)


@settings(max_examples=200, deadline=None)
@given(raw=st.one_of(_json, st.dictionaries(st.sampled_from(list(intent_memory())), _json)))
def test_garbage_intent_is_none_leniently_and_only_raises_memory_corrupt_strictly(raw: Any) -> None:
    intent = intent_from_dict(raw)
    try:
        strict = intent_from_dict(raw, strict=True)
    except MemoryCorrupt:
        strict = None
    assert strict == intent
    if intent is not None:
        assert all(_finite_positive(x) for x in (intent.ref_price, intent.tp, intent.sl))


def test_an_exit_fill_without_protection_levels_is_accepted() -> None:
    fill = _fill(kind="exit", reduce_only=True, exit_kind="sl", tp=None, sl=None, ref_price=None)
    account = account_from_dict(paper_memory() | {"unpolled_fills": [fill]})
    assert account.fills[0].exit_kind is ExitKind.SL
