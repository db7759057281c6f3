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
