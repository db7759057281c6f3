"""The frozen messages stages pass: built by keyword or position, equal by value, immutable."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest

from execution.types import (
    ExitIntent,
    ExitKind,
    Fill,
    Intent,
    MarketRules,
    OrderAck,
    OrderKind,
    OrderRequest,
    Side,
    VetoReason,
    VetoResult,
)

MESSAGES = [
    Intent("i1", "BTCUSDT", Side.LONG, 100.0, 50_000.0, 51_000.0, 49_000.0, 1.0),
    VetoResult(True, VetoReason.COOLDOWN, 1.0, 2.0, "wait"),
    MarketRules("BTCUSDT"),
    OrderRequest("c1", "BTCUSDT", "buy", 0.01, OrderKind.ENTRY, tp=51_000.0, sl=49_000.0),
    OrderAck("c1", "paper-1", "open", 1.0),
    Fill("c1", "BTCUSDT", "buy", 0.01, 50_000.0, 0.2, 1.0, OrderKind.ENTRY, realized_pnl=3.0),
    ExitIntent("BTCUSDT", Side.LONG, 0.01, 49_000.0, ExitKind.SL, 2.0),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_a_message_built_by_keyword_equals_the_one_built_by_position(message: object) -> None:
    values = {f.name: getattr(message, f.name) for f in dataclasses.fields(message)}  # type: ignore[arg-type]
    by_keyword = type(message)(**values)
    assert by_keyword == message and hash(by_keyword) == hash(message)
    assert repr(by_keyword) == repr(message)
    assert pickle.loads(pickle.dumps(message)) == message
    assert list(inspect.signature(type(message)).parameters) == list(values)


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_a_message_cannot_be_changed_only_replaced(message: object) -> None:
    first = dataclasses.fields(message)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(message, first, "other")
    with pytest.raises((AttributeError, TypeError)):  # (TypeError: CPython's frozen+slots)
        message.not_a_field = 1  # type: ignore[attr-defined]
    changed = dataclasses.replace(message, **{first: "other"})  # type: ignore[type-var]
    assert getattr(changed, first) == "other" and changed != message


def test_defaults_and_missing_arguments_behave_as_declared() -> None:
    req = OrderRequest("c1", "BTCUSDT", "sell", 1.0, OrderKind.EXIT)
    assert (req.reduce_only, req.trigger_price, req.ts, req.sl) == (False, None, 0.0, None)
    with pytest.raises(TypeError):
        OrderAck("c1", "paper-1", "open")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        OrderAck("c1", "paper-1", "open", 1.0, nope=2)  # type: ignore[call-arg]
