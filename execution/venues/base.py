"""The one small interface every exchange adapter implements, and our own exceptions.

Adapters (PaperExchange, CcxtExchange) translate their failures into these exceptions so the
router handles every venue the same way: transient errors are retried, rejections are not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from execution.types import (
    Bar,
    BarTuple,
    ExchangePosition,
    Fill,
    MarketRules,
    OrderAck,
    OrderRequest,
)


class ExchangeError(Exception):
    """Base class for every adapter failure."""


class TransientExchangeError(ExchangeError):
    """Timeout, rate limit, 5xx, exchange unavailable: safe to retry after checking the order."""


class OrderRejected(ExchangeError):
    """The exchange refused the order (insufficient funds, invalid order): never retried."""


class AuthenticationFailed(ExchangeError):
    """Keys missing or refused."""


@runtime_checkable
class Exchange(Protocol):
    """What the engine needs from a venue."""

    name: str

    def market_rules(self, symbol: str) -> MarketRules:
        """Return min notional, qty step and price tick for ``symbol``."""
        ...

    def place_order(self, req: OrderRequest) -> OrderAck:
        """Send a market order. Raise TransientExchangeError or OrderRejected on failure."""
        ...

    def find_order(self, client_order_id: str) -> OrderAck | None:
        """Return the order with this client id if the exchange knows it (idempotent retries)."""
        ...

    def poll_fills(self) -> Sequence[Fill]:
        """Return fills that happened since the last call, oldest first."""
        ...

    def positions(self) -> dict[str, ExchangePosition]:
        """Return open positions by symbol."""
        ...

    def balance(self) -> float:
        """Return wallet balance in quote currency (realized PnL and fees included)."""
        ...

    def on_bar(self, bar: Bar) -> None:
        """Feed a new bar (the paper exchange fills pending orders at its open; live: no-op)."""
        ...


class OrderEnd(NamedTuple):
    """An order the venue ended without a fill saying so: canceled or expired unfilled, or
    ``filled`` when the rest of a partly filled order found nothing left to fill."""

    client_order_id: str
    status: str
    ts: float  # epoch seconds the venue ended it


@runtime_checkable
class OrderEndsVenue(Protocol):
    """A venue that reports the orders it ended without a fill (paper, ccxt); the executor
    polls it with the fills, so the journal's order row reads what the venue says."""

    def poll_order_ends(self) -> Sequence[OrderEnd]:
        """Return and clear the orders ended without a fill since the last call, oldest first."""
        ...


class SentOrder(NamedTuple):
    """An order an earlier process sent, as the venue has it: its ack and what it filled."""

    ack: OrderAck
    filled: float  # base units
    average: float | None  # the average fill price; None: nothing filled
    ts: float | None  # epoch seconds the venue took it; None: the venue does not say
    fee: float  # estimated from the venue's taker fee: the order itself does not carry it


@runtime_checkable
class SentOrdersVenue(Protocol):
    """A venue that can find an order another process sent, from the request it was sent as
    (ccxt: by the client id and symbol it was sent under). A restart settles the entry a kill
    left in flight with it; a venue without it is asked ``find_order`` (the paper venue keeps
    its orders with its account, and is rewound with the memory anyway)."""

    def find_sent_order(self, req: OrderRequest) -> SentOrder | None:
        """Return the order sent as ``req`` if the venue has it, else None."""
        ...


@runtime_checkable
class QuietBarsVenue(Protocol):
    """A venue that can say when a replay's bars would only mark prices (execution/quiet.py):
    the paper exchange. A venue without these is stepped bar by bar."""

    def quiet_until(self, symbol: str) -> float | None:
        """The time before which bars of ``symbol`` settle nothing; None: the next one may."""
        ...

    def quiet_levels(self, symbol: str) -> tuple[float, float] | None:
        """The prices a bar must stay strictly between to only be marked; None: cannot tell."""
        ...

    def pass_quiet(self, symbol: str, close: float) -> None:
        """Take the last bar of a quiet stretch: its close marks the symbol."""
        ...


def feed_bars(
    on_bar: Callable[[Bar], None], symbols: Sequence[str], bars: Iterable[BarTuple]
) -> None:
    """Give ``on_bar`` each ``(idx, ts, open, high, low, close, volume)`` bar of a loop as a
    :class:`Bar`: how a venue without a bulk ``on_bars`` is fed a loop's bars."""
    for idx, ts, o, h, lo, c, v in bars:
        on_bar(Bar(symbols[idx], ts, o, h, lo, c, v))
