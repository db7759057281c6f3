"""Send orders to any Exchange with bounded retries and idempotent client order ids.

A retry always reuses the request's client order id, and before each retry the router asks the
exchange whether the previous attempt was accepted after all (a timeout after accept): one
intent never becomes two orders.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from execution.diagnostics_metrics import record_order_failed, record_order_placed
from execution.rounding import round_qty
from execution.types import Intent, MarketRules, OrderAck, OrderKind, OrderRequest
from execution.venues.base import (
    Exchange,
    ExchangeError,
    OrderRejected,
    TransientExchangeError,
)

log = logging.getLogger(__name__)

CLIENT_ID_MAX_LEN = 36  # Binance USD-M limit
ERROR_CATEGORIES = (
    "insufficient_funds",
    "rejected",
    "transient",
    "invalid_order",
    "duplicate",
    "error",
    "lost_at_restart",  # counted by a restart, not here (execution/run/in_flight.py)
)
# Substrings of rejection messages (ours and the venues') mapped to a bounded metric label.
_REJECTION_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("insufficient", "insufficient_funds"),
    ("margin is", "insufficient_funds"),
    ("duplicate", "duplicate"),
    ("qty", "invalid_order"),
    ("quantity", "invalid_order"),
    ("notional", "invalid_order"),
    ("lot_size", "invalid_order"),
    ("step", "invalid_order"),
    ("unknown symbol", "invalid_order"),
    ("reduce_only", "invalid_order"),
    ("reduceonly", "invalid_order"),
    ("invalid", "invalid_order"),
)


def client_order_id(
    intent_id: str, kind: OrderKind, attempt_group: str = "", ts: float | None = None
) -> str:
    """Derive a deterministic client order id (<= 36 chars) from the intent.

    Retries of the same intent get the same id, so the exchange can refuse a second order.
    ``attempt_group`` makes a deliberately new order for the same intent (e.g. a second exit
    after the first one was cancelled) get a new id. ``ts`` (the intent's time) leads the id
    as seven base-36 digits of its second, so ids sort by time: the journal's unique index on
    them then takes each new id at its end instead of at a random page, and a long run's
    commits stay as cheap as its first (random digests made each one dirty a page of its own).
    """
    prefix, value = _KIND_PARTS[kind]
    digest = hashlib.sha1(f"{intent_id}|{value}|{attempt_group}".encode()).hexdigest()
    if ts is None:
        return prefix + digest[:20]
    return prefix + _base36(max(int(ts), 0)).rjust(7, "0") + digest[:20]


# Each order kind's id prefix and the name its digest hashes (a dict: cheaper than ``.value``).
_KIND_PARTS: dict[OrderKind, tuple[str, str]] = {
    kind: ("v7e" if kind is OrderKind.ENTRY else "v7x", kind.value) for kind in OrderKind
}
_DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_PAIRS36 = tuple(a + b for a in _DIGITS36 for b in _DIGITS36)  # "00" .. "zz": 36**2 of them


def entry_order(intent: Intent, rules: MarketRules | None) -> OrderRequest:
    """The market order an entry intent is sent as; it carries the intent's TP/SL.

    ``rules`` None: a restart rebuilds an order left in flight on a symbol the universe has
    dropped since, and without its market rules the quantity stays unrounded.
    """
    qty = intent.notional / intent.ref_price
    return OrderRequest(
        client_order_id=client_order_id(intent.intent_id, OrderKind.ENTRY, ts=intent.ts),
        symbol=intent.symbol,
        side=intent.side.order_side,
        qty=round_qty(qty, rules.qty_step) if rules is not None else qty,
        kind=OrderKind.ENTRY,
        intent_id=intent.intent_id,
        ts=intent.ts,
        ref_price=intent.ref_price,
        tp=intent.tp,
        sl=intent.sl,
    )


def _base36(n: int) -> str:
    """Return ``n >= 0`` in base 36 without leading zeros, two digits per step."""
    out = ""
    while n >= 1296:
        n, r = divmod(n, 1296)
        out = _PAIRS36[r] + out
    return (_PAIRS36[n] if n >= 36 else _DIGITS36[n]) + out


def classify_rejection(message: str) -> str:
    """Map a rejection message to a bounded error category for metrics."""
    lowered = message.lower()
    for needle, category in _REJECTION_KEYWORDS:
        if needle in lowered:
            return category
    return "rejected"


@dataclass(frozen=True, slots=True)
class RouteResult:
    """The outcome of one submit: placed (the exchange has the order) or failed."""

    status: Literal["placed", "failed"]
    ack: OrderAck | None = None
    error: str | None = None
    attempts: int = 0
    category: str | None = None  # a failure's category (classify_rejection, or "transient")

    @property
    def placed(self) -> bool:
        """Return whether the exchange has the order."""
        return self.status == "placed"


class OrderRouter:
    """Place orders on one exchange: retry transient errors, never retry rejections."""

    def __init__(
        self,
        exchange: Exchange,
        max_retries: int = 3,
        backoff_seconds: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.exchange = exchange
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self.retries_total = 0  # how hard the venue was to reach; outcomes are diagnostics'

    def submit(self, req: OrderRequest) -> RouteResult:
        """Place ``req``; on a transient error check the exchange, back off and retry."""
        last_transient = ""
        for attempt in range(self.max_retries + 1):
            if attempt > 0:
                self.retries_total += 1
                self._sleep(self.backoff_seconds * 2 ** (attempt - 1))
            try:
                return self._placed(req, self.exchange.place_order(req), attempt + 1)
            except TransientExchangeError as err:
                last_transient = str(err) or type(err).__name__
                log.warning("order %s: transient error %r", req.client_order_id, last_transient)
            except OrderRejected as err:
                message = str(err) or "rejected"
                category = classify_rejection(message)
                # A duplicate on a retry means an earlier attempt got through after all.
                found = self._lookup(req) if attempt > 0 and category == "duplicate" else None
                if found is not None:
                    return self._placed(req, found, attempt + 1)
                return self._failed(req, category, message, attempt + 1)
            except ExchangeError as err:
                return self._failed(req, "error", str(err) or type(err).__name__, attempt + 1)
            found = self._lookup(req)
            if found is not None:
                return self._placed(req, found, attempt + 1)
        attempts = self.max_retries + 1
        return self._failed(req, "transient", f"transient: {last_transient}", attempts)

    def _lookup(self, req: OrderRequest) -> OrderAck | None:
        """Return the exchange's copy of the order, or None if absent or unknown for now."""
        try:
            return self.exchange.find_order(req.client_order_id)
        except ExchangeError as err:  # cannot tell: the retry's duplicate check still guards
            log.warning("order %s: lookup failed: %r", req.client_order_id, err)
            return None

    def _placed(self, req: OrderRequest, ack: OrderAck, attempts: int) -> RouteResult:
        try:
            record_order_placed(req.kind.value, req.symbol)
        except Exception:  # diagnostics observe; they must never change the outcome
            log.exception("record_order_placed failed")
        return RouteResult("placed", ack=ack, attempts=attempts)

    def _failed(self, req: OrderRequest, category: str, error: str, attempts: int) -> RouteResult:
        log.warning("order %s failed (%s): %s", req.client_order_id, category, error)
        try:
            record_order_failed(category, req.kind.value, req.symbol)
        except Exception:  # diagnostics observe; they must never change the outcome
            log.exception("record_order_failed failed")
        return RouteResult("failed", error=error, attempts=attempts, category=category)
