"""How a position the engine saw disappear was closed, from the account's trades on a ccxt venue.

The trades are read forward from the position's entry, one page per call: Binance answers a
start time with the *oldest* page of trades after it (500 by default), so a single call after a
busy week of the account shows its first trades and misses the close, the newest. Each page
starts at the last one's newest millisecond, kept inclusive (trades are told apart by id): one
order's trades share a millisecond, and a page ending inside them would otherwise drop the rest
of that order, and the newest trades would then sum to the size with an older trade in them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from execution.types import ExitKind, Fill, OrderKind, OrderRequest, Side
from execution.venues.ccxt_parse import Market, closing_trades, fill_from_trades

# How far back the account's trades are asked for: Binance answers at most seven days from the
# start time it is given, so an older start would return a week that misses the newest trades.
TRADES_WINDOW_S = 6 * 86_400.0
# Pages read at most for one close (Binance: 500 trades each); past them the close stays unseen.
MAX_TRADE_PAGES = 10

Call = Callable[..., Any]  # CallGuard: ccxt errors mapped to ours, reads retried

log = logging.getLogger(__name__)


def trades_since(
    call: Call, fetch_my_trades: Call, unified: str, since_ms: int
) -> list[Mapping[str, Any]] | None:
    """Every trade of the account on ``unified`` from ``since_ms`` on, oldest first; None when
    :data:`MAX_TRADE_PAGES` pages do not reach the newest (the newest would be unknown)."""
    seen: dict[object, Mapping[str, Any]] = {}
    cursor = since_ms
    for _ in range(MAX_TRADE_PAGES):
        page = call(fetch_my_trades, unified, cursor)
        new = {_key(t): t for t in page if _key(t) not in seen}
        if not new:  # the last page, read again from its newest millisecond: nothing after it
            return sorted(seen.values(), key=lambda t: float(t.get("timestamp") or 0.0))
        seen.update(new)
        cursor = max(cursor, *(int(t.get("timestamp") or 0) for t in page))
    return None


def _key(trade: Mapping[str, Any]) -> object:
    """A trade's identity across pages (its id; a venue without ids: all it says of it)."""
    tid = trade.get("id")
    if tid is not None:
        return str(tid)
    return tuple(str(trade.get(k)) for k in ("order", "timestamp", "side", "amount", "price"))


def closing_fill(
    call: Call, fetch_my_trades: Call, market: Market, symbol: str, held: tuple[Side, float],
    since: float, now: float,
) -> Fill | None:  # fmt: skip
    """The fill that closed the position ``held`` (side, qty) on ``symbol``, from the account's
    trades since ``since`` (bounded to :data:`TRADES_WINDOW_S` before ``now``): None when they
    do not show it whole, and its exit stays unseen."""
    side, qty = held
    since = max(since, now - TRADES_WINDOW_S)
    trades = trades_since(call, fetch_my_trades, market["symbol"], int(since * 1e3))
    if trades is None:
        log.warning("%s: more than %d pages of trades since the entry: the close stays unseen",
                    symbol, MAX_TRADE_PAGES)  # fmt: skip
        return None
    picked = closing_trades(trades, side, qty, since * 1e3, market)
    if picked is None:
        return None
    orders = "+".join(sorted({str(t.get("order")) for t in picked}))
    req = OrderRequest(f"venue:{orders}", symbol, side.opposite.order_side, qty, OrderKind.EXIT,
                       reduce_only=True, exit_kind=ExitKind.EXTERNAL)  # fmt: skip
    return fill_from_trades(req, picked, market)
