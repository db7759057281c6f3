"""The paper exchange's account state, its JSON form, and the fault plan (execution.venues.paper)."""

from __future__ import annotations

import json
import logging
import math
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from enum import Enum
from json.encoder import encode_basestring_ascii as _text  # what json.dumps uses for a str
from pathlib import Path
from typing import Any, TypeVar

from execution import memory_errors as memory
from execution.clock import to_iso
from execution.perps.funding import FundingPayment
from execution.rounding import step_decimals
from execution.state_io import SCHEMA_VERSION, PreEncoded, read_json_defensive
from execution.types import ExitKind, Fill, OrderAck, OrderKind, OrderRequest
from execution.venues.base import OrderEnd

log = logging.getLogger("execution.venues.paper")
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
    sl: float | None = None  # the stop the opening order carried (liquidation comes after it?)
    funding: float = 0.0  # funding received (negative: paid) since it opened


@dataclass(slots=True)
class Pending:
    req: OrderRequest
    chunks: list[float]  # qty to fill at each of the next bars of the symbol
    filled: float = 0.0


def split_in_two(qty: float, step: float) -> list[float]:
    """Return ``qty`` as two fills (a partial fill), or one when it is a single step."""
    first = max(step, round(math.floor(qty / step / 2 + 1e-9) * step, step_decimals(step)))
    rest = round(qty - first, step_decimals(step))
    return [first, rest] if rest > 0 else [qty]


def net_into(
    positions: dict[str, Position],
    symbol: str,
    signed_qty: float,
    price: float,
    digits: int,
    sl: float | None = None,
) -> float:
    """Net a fill of ``signed_qty`` at ``price`` into the symbol's position; return realized PnL.

    An opening or increasing fill keeps ``sl`` as the position's stop; a fill that flips the
    position opens the remainder at ``price``.
    """  # fmt: skip
    direction = 1 if signed_qty > 0 else -1
    qty = abs(signed_qty)
    pos = positions.get(symbol)
    if pos is None or pos.qty * direction > 0:
        held = abs(pos.qty) if pos else 0.0
        entry = (held * (pos.entry if pos else 0.0) + qty * price) / (held + qty)
        funding = pos.funding if pos else 0.0
        stop = sl if sl is not None else (pos.sl if pos else None)
        positions[symbol] = Position(round(direction * (held + qty), digits), entry, stop, funding)
        return 0.0
    closing = min(qty, abs(pos.qty))
    realized = (price - pos.entry) * closing * (1 if pos.qty > 0 else -1)
    pos.qty = round(pos.qty + direction * closing, digits)
    remainder = round(qty - closing, digits)
    if pos.qty == 0:
        del positions[symbol]
    if remainder > 0:
        positions[symbol] = Position(direction * remainder, price, sl)
    return realized


def fill_of(
    req: OrderRequest,
    qty: float,
    price: float,
    fee: float,
    ts: float,
    realized: float,
    order_done: bool | None = None,
) -> Fill:
    """Return the fill of ``qty`` of ``req``, carrying the order's intent and protection."""
    return Fill(
        req.client_order_id, req.symbol, req.side, qty, price, fee, ts, req.kind,
        req.reduce_only, req.intent_id, req.exit_kind, realized, req.ref_price, req.tp, req.sl,
        order_done,
    )  # fmt: skip


def liquidation_fill(
    cid: str,
    symbol: str,
    side: str,
    qty: float,
    price: float,
    fee: float,
    ts: float,
    realized: float,
) -> Fill:
    """Return the venue's own closing fill of a liquidated position."""  # fmt: skip
    return Fill(
        cid, symbol, side, qty, price, fee, ts, OrderKind.EXIT, True, None,
        ExitKind.LIQUIDATION, realized,
    )  # fmt: skip


def end_order(account: PaperAccount, pend: Pending, ts: float, last_filled: float) -> None:
    """Close ``pend``'s order at ``ts``: ``filled`` if any of it filled, else ``canceled``.

    When its last chunk filled nothing (``last_filled`` 0: a reduce-only rest whose position
    was gone), no fill told the engine the order ended: report the end itself.
    """
    status = "filled" if pend.filled > 0 else "canceled"
    cid = pend.req.client_order_id
    ack = account.orders.get(cid)
    if ack is not None:  # built directly: dataclasses.replace is slow per fill
        account.orders[cid] = OrderAck(ack.client_order_id, ack.exchange_order_id, status, ack.ts)
    if not last_filled:
        account.order_ends.append(OrderEnd(cid, status, ts))


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
    funding_until: float | None = None  # settlements up to this time are done
    funding: list[FundingPayment] = field(default_factory=list)  # not yet polled
    order_ends: list[OrderEnd] = field(default_factory=list)  # not yet polled
    # Not state: each order's JSON entry, and its JSON text once asked for, with the ack they
    # were made from (see encoded_orders).
    encoded_orders: dict[str, _Encoded] = field(default_factory=dict, repr=False, compare=False)


_Encoded = tuple[OrderAck, dict[str, Any], str | None]


class EncodedOrders(dict[str, Any], PreEncoded):
    """The order history as JSON-ready entries, and as compact strict JSON (:attr:`json`).

    The history holds up to ``ORDER_HISTORY_LIMIT`` orders that barely change between two
    commits of the engine's memory: each order is encoded once (when its ack changes), and the
    writers splice the text instead of encoding the whole history at every commit and publish.
    """

    __slots__ = ("_cache",)

    def __init__(self, cache: dict[str, _Encoded]) -> None:
        super().__init__({cid: hit[1] for cid, hit in cache.items()})
        self._cache = cache

    @property
    def json(self) -> str:
        """The history as compact strict JSON; ValueError if an order holds a NaN or infinity."""
        cache = self._cache
        for cid, (ack, entry, text) in cache.items():
            if text is None:
                text = _order_json(cid, ack)
                cache[cid] = (ack, entry, text)  # same key: the dict's size does not change
        return "{" + ",".join(hit[2] or "" for hit in cache.values()) + "}"


def _order_json(cid: str, ack: OrderAck) -> str:
    """One history entry as ``json.dumps`` writes it, built from the same C string encoder
    and float repr (a ``json.dumps`` call per order would cost more than the whole history)."""
    ts = ack.ts
    if type(ts) is not float or not math.isfinite(ts):
        if isinstance(ts, float):
            raise ValueError(f"orders.{cid}.ts is {ts} (NaN and infinity are not stored)")
        ts_text = json.dumps(ts)
    else:
        ts_text = float.__repr__(ts)
    return (
        f'{_text(cid)}:{{"exchange_order_id":{_text(ack.exchange_order_id)},'
        f'"status":{_text(ack.status)},"ts":{ts_text}}}'
    )


def encoded_orders(b: PaperAccount) -> EncodedOrders:
    """Return the account's order history, reusing the entry of every order whose ack is the same.

    An ack is frozen and replaced when its order's status changes, so an entry (and its JSON)
    cached with the very same ack object is still exact.
    """
    cache, fresh = b.encoded_orders, {}
    for cid, ack in b.orders.items():
        hit = cache.get(cid)
        if hit is None or hit[0] is not ack:
            entry = {"exchange_order_id": ack.exchange_order_id, "status": ack.status, "ts": ack.ts}
            hit = (ack, entry, None)
        fresh[cid] = hit
    b.encoded_orders = fresh  # pruned orders drop out of the cache
    return EncodedOrders(fresh)


def _position_dict(p: Position) -> dict[str, Any]:
    d: dict[str, Any] = {"qty": p.qty, "entry_price": p.entry}
    if p.sl is not None:
        d["sl"] = p.sl
    if p.funding:
        d["funding"] = p.funding
    return d


def account_to_dict(b: PaperAccount, now: float) -> dict[str, Any]:
    """Return the whole account as a JSON-ready dict."""
    return {
        "schema_version": SCHEMA_VERSION,
        "updated_ts": to_iso(now),  # ISO like every state file (docs/state_files.md)
        "starting_balance": b.starting_balance,
        "balance": b.balance,
        "positions": {s: _position_dict(p) for s, p in b.positions.items()},
        "pending": [
            {"req": encode(p.req), "chunks": list(p.chunks), "filled": p.filled} for p in b.pending
        ],
        "orders": encoded_orders(b),
        "last_prices": dict(b.last_prices),
        "order_seq": b.order_seq,
        "fill_seq": b.fill_seq,
        "unpolled_fills": [encode(f) for f in b.fills],
        "funding_until": b.funding_until,
        "unpolled_funding": [asdict(f) for f in b.funding],
        "unpolled_order_ends": [list(e) for e in b.order_ends],
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
        sl = pos.price("sl") if pos.doc.get("sl") is not None else None
        funding = pos.number("funding", default=0.0)
        account.positions[sym] = Position(pos.number("qty"), pos.price("entry_price"), sl, funding)
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
    until = data.get("funding_until")
    account.funding_until = memory.finite(c, "funding_until", until) if until is not None else None
    account.funding = [FundingPayment(**f) for f in data.get("unpolled_funding", [])]
    ends = enumerate(data.get("unpolled_order_ends", []))  # absent from older saves
    account.order_ends = [
        OrderEnd(str(cid), str(status), memory.finite(c, f"unpolled_order_ends[{n}].ts", ts))
        for n, (cid, status, ts) in ends
    ]
    return account


def unrealized(account: PaperAccount) -> float:
    """Return the open positions' PnL at the last close seen."""
    marks = account.last_prices
    total: float = 0  # (sum() over a generator, written out: this runs on every order)
    for s, p in account.positions.items():
        total += (marks.get(s, p.entry) - p.entry) * p.qty
    return total


def initial_margin_used(account: PaperAccount, leverage: Callable[[str], float]) -> float:
    """Return the initial margin of the positions and of the pending entry orders."""
    used = 0.0
    for sym, p in account.positions.items():
        used += abs(p.qty) * account.last_prices.get(sym, p.entry) / leverage(sym)
    for pend in account.pending:
        price = account.last_prices.get(pend.req.symbol)
        if not pend.req.reduce_only and price is not None:
            used += sum(pend.chunks) * price / leverage(pend.req.symbol)
    return used


def prune_orders(orders: dict[str, OrderAck], limit: int) -> None:
    """Forget the oldest closed orders beyond ``limit`` (open ones stay)."""
    excess = len(orders) - limit
    if excess <= 0:
        return
    # Oldest first (dicts keep insertion order) and nearly all closed: stop at `excess`,
    # so a long replay pays O(1) per order instead of a scan of the whole history.
    closed: list[str] = []
    for cid, ack in orders.items():
        if ack.status != "open":
            closed.append(cid)
            if len(closed) == excess:
                break
    for cid in closed:
        del orders[cid]


def read_account(path: str | Path) -> tuple[PaperAccount | None, str]:
    """Read the account saved at ``path``: (account or None, "ok"/"missing"/"corrupt"...).

    A corrupt file is moved aside to ``<path>.corrupt`` so the next save cannot destroy the
    evidence, with a warning.
    """
    read = read_json_defensive(path)
    if read.ok:
        try:
            return account_from_dict(read.data), "ok"
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            read = replace(read, status="corrupt", error=f"malformed account: {err!r}")
    if read.status != "missing":
        log.warning("paper account %s %s (%s): starting fresh", path, read.status, read.error)
        target = Path(path)
        if target.exists():
            os.replace(target, target.with_name(target.name + ".corrupt"))
    return None, read.status
