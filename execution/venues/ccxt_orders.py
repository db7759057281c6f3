"""The orders the ccxt venue sent, and the fills their trades report (each trade once).

A fill is read from the exchange's trades of the order: exact price, fee and realized PnL. A
venue that shows no trades for a closed order (some never list them for reduce-only orders)
still gets its fill, built from the order itself after a few polls, the fee estimated.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from execution.types import Fill, OrderAck, OrderRequest
from execution.venues.base import OrderEnd, SentOrder
from execution.venues.ccxt_parse import fill_from_trades, make_fill

log = logging.getLogger(__name__)
EMPTY_POLLS_BEFORE_FALLBACK = 3  # polls without trades before a fill is built from the order
MAX_UNSURE_LOOKUPS = 10  # polls spent looking for an order whose send failed
# Quantities below this are float noise, not an unreported part of a fill.
QTY_EPSILON = 1e-12


@dataclass
class TrackedOrder:
    """An order we sent: what the engine asked for and how much of it was reported filled."""

    req: OrderRequest
    venue_cid: str
    unified: str
    order_id: str | None = None
    status: str = "open"
    filled: float = 0.0  # base units
    average: float | None = None
    placed_ms: int | None = None
    reported: float = 0.0
    seen_trades: set[str] = field(default_factory=set)
    empty_polls: int = 0
    lookups: int = 0
    end_reported: bool = False  # a fill said it completes the order

    def has_unreported_fill(self) -> bool:
        return self.filled > self.reported + QTY_EPSILON

    def is_done(self) -> bool:
        """Closed on the venue and every filled unit reported: no need to poll it again."""
        return self.status != "open" and self.reported >= self.filled - QTY_EPSILON

    def is_complete(self) -> bool:
        """Every unit reported: closed on the venue with its fills reported, or all the qty
        asked for reported (a market order's trades can be seen before its closed status)."""
        return self.is_done() or self.reported >= self.req.qty - QTY_EPSILON

    def as_sent(self, ack: OrderAck, market: Mapping[str, Any]) -> SentOrder:
        """This order as :meth:`CcxtExchange._ack` read it from the venue, its fee estimated at
        the market's taker rate (the order does not carry it; a fill built from an order whose
        trades are not visible estimates it so too)."""
        fee = self.filled * (self.average or 0.0) * float(market.get("taker") or 0.0)
        ts = self.placed_ms / 1000 if self.placed_ms else None
        return SentOrder(ack, self.filled, self.average, ts, fee)

    def unreported_end(self, now: float) -> OrderEnd | None:
        """The end of this closed order if no fill said it: canceled or expired unfilled
        (``canceled``), or after a part filled (``filled``, as :meth:`CcxtExchange.find_order`
        shows it)."""
        if self.end_reported:
            return None
        status = "filled" if self.filled > 0 else "canceled"
        return OrderEnd(self.req.client_order_id, status, now)


def trades_query(order: TrackedOrder, exchange_id: str, now: float) -> tuple[Any, ...]:
    """Return the ``fetch_my_trades`` arguments that find ``order``'s trades."""
    if exchange_id.startswith("binance"):  # Binance filters trades by order id itself
        return (order.unified, None, None, {"orderId": order.order_id})
    # Elsewhere: every trade of the symbol since a minute before the order was placed.
    return (order.unified, (order.placed_ms or int(now * 1e3)) - 60_000)


def next_fill(
    order: TrackedOrder, trades: Sequence[Mapping[str, Any]], market: Mapping[str, Any], now: float
) -> Fill | None:
    """Return the fill ``order``'s trades not reported yet make (saying whether it completes the
    order), and note them as reported.

    Without new trades, a closed order that stays without any for EMPTY_POLLS_BEFORE_FALLBACK
    polls is filled from the order's own filled quantity and average price.
    """
    new = [
        trade
        for trade in trades
        if str(trade.get("order")) == order.order_id
        and str(trade.get("id")) not in order.seen_trades
    ]
    if new:
        order.seen_trades.update(str(trade.get("id")) for trade in new)
        fill = fill_from_trades(order.req, new, market)
        order.reported += fill.qty
        return _saying_if_done(order, fill)
    order.empty_polls += 1
    if order.status == "open" or order.empty_polls < EMPTY_POLLS_BEFORE_FALLBACK:
        return None
    qty = order.filled - order.reported
    if order.average is None or qty <= 0:
        return None
    order.reported = order.filled
    log.warning("order %s: no trades visible; fill from the order, fee estimated", order.venue_cid)
    fee = qty * order.average * float(market.get("taker") or 0.0)
    fill = make_fill(order.req, round(qty, 12), order.average, fee, now)
    return _saying_if_done(order, fill)


def _saying_if_done(order: TrackedOrder, fill: Fill) -> Fill:
    """``fill`` saying whether it completes ``order`` (then the order's end needs no report)."""
    order.end_reported = order.is_complete()
    return replace(fill, order_done=order.end_reported)
