"""The paper exchange's account state, its JSON form, and the fault plan (execution.venues.paper)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, TypeVar

from execution import memory_errors as memory
from execution.state_io import SCHEMA_VERSION
from execution.types import ExitKind, Fill, OrderAck, OrderKind, OrderRequest

FAULT_KINDS = ("ok", "timeout_after_accept", "rate_limit", "server_error", "reject", "partial_fill")

_T = TypeVar("_T", OrderRequest, Fill)


@dataclass(frozen=True)
class FaultPlan:
    """Which failures to inject: a script consumed first, then seeded draws by probability."""

    seed: int
    timeout_after_accept: float = 0.0
    rate_limit: float = 0.0
    server_error: float = 0.0
    reject: float = 0.0
    partial_fill: float = 0.0
    script: list[str] | None = None

    def __post_init__(self) -> None:
        probs = self.probabilities()
        if any(not 0.0 <= p <= 1.0 for p in probs.values()) or sum(probs.values()) > 1.0:
            raise ValueError(f"fault probabilities must be in [0, 1] and sum to <= 1: {probs}")
        unknown = [s for s in self.script or [] if s not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown scripted faults {unknown}; expected one of {FAULT_KINDS}")

    def probabilities(self) -> dict[str, float]:
        """Return the probability of each random fault kind, in draw order."""
        return {k: float(getattr(self, k)) for k in FAULT_KINDS[1:]}

    def draws(self) -> Iterator[str]:
        """Yield the fault for each successive place_order call: the script, then seeded draws."""
        yield from self.script or []
        rng, probs = random.Random(self.seed), self.probabilities()
        while True:
            u, kind = rng.random(), "ok"
            for candidate, p in probs.items():
                if u < p:
                    kind = candidate
                    break
                u -= p
            yield kind


@dataclass(slots=True)
class Position:
    qty: float  # signed: > 0 long, < 0 short
    entry: float


@dataclass(slots=True)
class Pending:
    req: OrderRequest
    chunks: list[float]  # qty to fill at each of the next bars of the symbol
    filled: float = 0.0


def is_multiple(qty: float, step: float) -> bool:
    ratio = qty / step
    return abs(ratio - round(ratio)) <= 1e-9 * max(1.0, abs(ratio))


def encode(obj: OrderRequest | Fill) -> dict[str, Any]:
    return {
        f.name: v.value if isinstance(v := getattr(obj, f.name), Enum) else v for f in fields(obj)
    }


def decode(cls: type[_T], data: dict[str, Any]) -> _T:
    d = dict(data)
    d["kind"] = OrderKind(d["kind"])
    d["exit_kind"] = ExitKind(d["exit_kind"]) if d.get("exit_kind") is not None else None
    return cls(**d)


@dataclass
class PaperAccount:
    """The account's mutable state: everything :meth:`PaperExchange.to_dict` persists."""

    starting_balance: float
    balance: float
    positions: dict[str, Position] = field(default_factory=dict)
    pending: list[Pending] = field(default_factory=list)
    orders: dict[str, OrderAck] = field(default_factory=dict)
    last_prices: dict[str, float] = field(default_factory=dict)
    order_seq: int = 0
    fill_seq: int = 0
    fills: list[Fill] = field(default_factory=list)


def account_to_dict(b: PaperAccount, now: float) -> dict[str, Any]:
    """Return the whole account as a JSON-ready dict."""
    return {
        "schema_version": SCHEMA_VERSION,
        "updated_ts": now,
        "starting_balance": b.starting_balance,
        "balance": b.balance,
        "positions": {s: {"qty": p.qty, "entry_price": p.entry} for s, p in b.positions.items()},
        "pending": [
            {"req": encode(p.req), "chunks": list(p.chunks), "filled": p.filled} for p in b.pending
        ],
        "orders": {
            cid: {"exchange_order_id": a.exchange_order_id, "status": a.status, "ts": a.ts}
            for cid, a in b.orders.items()
        },
        "last_prices": dict(b.last_prices),
        "order_seq": b.order_seq,
        "fill_seq": b.fill_seq,
        "unpolled_fills": [encode(f) for f in b.fills],
    }


def account_from_dict(data: dict[str, Any]) -> PaperAccount:
    """Rebuild an account; raise MemoryCorrupt (a ValueError) naming a non-finite balance, price
    or quantity, and KeyError/TypeError/ValueError if ``data`` is otherwise malformed.
    """
    c = "paper_account"

    def checked(obj: _T, key: str) -> _T:
        # A NaN an order or a fill carries reaches the ledger and the TP/SL registry at its fill.
        memory.finite(c, f"{key}.qty", obj.qty, positive=True)
        for name in ("price", "trigger_price", "ref_price", "tp", "sl"):
            if (value := getattr(obj, name, None)) is not None:
                memory.price(c, f"{key}.{name}", value)
        if isinstance(obj, Fill):
            memory.finite(c, f"{key}.fee", obj.fee)
        return obj

    top = memory.Fields(c, "", data)
    account = PaperAccount(top.number("starting_balance", positive=True), top.number("balance"))
    for sym, p in memory.mapping(c, "positions", top.value("positions")).items():
        pos = memory.Fields(c, f"positions.{sym}", p)
        account.positions[sym] = Position(pos.number("qty"), pos.price("entry_price"))
    for n, p in enumerate(data["pending"]):
        req = checked(decode(OrderRequest, p["req"]), f"pending[{n}].req")
        chunks = [memory.finite(c, f"pending[{n}].chunks", q) for q in p["chunks"]]
        filled = memory.finite(c, f"pending[{n}].filled", p["filled"])
        account.pending.append(Pending(req, chunks, filled))
    for cid, a in data["orders"].items():
        account.orders[cid] = OrderAck(cid, str(a["exchange_order_id"]), str(a["status"]), a["ts"])
    last = memory.mapping(c, "last_prices", top.value("last_prices"))
    account.last_prices = {s: memory.price(c, f"last_prices.{s}", v) for s, v in last.items()}
    account.order_seq = top.count("order_seq")
    account.fill_seq = top.count("fill_seq")
    fills = enumerate(data.get("unpolled_fills", []))
    account.fills = [checked(decode(Fill, f), f"unpolled_fills[{n}]") for n, f in fills]
    return account
