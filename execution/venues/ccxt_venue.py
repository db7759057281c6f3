"""The Exchange interface on ccxt: live USD-margined perpetual swaps (Binance USD-M by default).

Markets are loaded at start and give the real trading rules. Entries are market orders carrying
the router's deterministic client order id; exits are reduce-only market orders. A client id
whose send ended in a transient error is looked up before it is ever sent again, and a
"duplicate client id" answer is resolved to the existing order, so a retry never trades twice.
Fills come from the exchange's trades of our orders (exact price, fee and realized PnL).
Keys, redaction, error mapping and retries live in :mod:`execution.venues.ccxt_guard`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from execution.clock import Clock
from execution.config import EngineConfig
from execution.perps.funding import FundingPayment
from execution.perps.margin import PositionRisk
from execution.types import (
    Bar,
    ExchangePosition,
    Fill,
    MarketRules,
    OrderAck,
    OrderRequest,
    Side,
)
from execution.venues.base import (
    AuthenticationFailed,
    ExchangeError,
    OrderEnd,
    OrderRejected,
    SentOrder,
    TransientExchangeError,
)
from execution.venues.ccxt_closes import closing_fill
from execution.venues.ccxt_guard import (
    DEFAULT_EXCHANGE_ID,
    ERROR_KINDS,
    CallGuard,
    DuplicateClientOrderId,
    MissingKeysError,
    OrderNotFound,
    RedactingLogger,
    Redactor,
    build_client,
    keys_from_env,
    map_ccxt_error,
    venue_client_id,
)
from execution.venues.ccxt_margin import FundingReader, risk_from_ccxt, set_margin
from execution.venues.ccxt_orders import MAX_UNSURE_LOOKUPS, TrackedOrder, next_fill, trades_query
from execution.venues.ccxt_parse import (
    bars_from_ohlcv,
    contract_size,
    find_swap_market,
    max_leverage_by_symbol,
    position_from_ccxt,
    rules_from_market,
)

__all__ = [
    "DEFAULT_EXCHANGE_ID",
    "ERROR_KINDS",
    "CcxtExchange",
    "DuplicateClientOrderId",
    "MissingKeysError",
    "OrderNotFound",
    "build_client",
    "keys_from_env",
    "map_ccxt_error",
    "venue_client_id",
]

log = logging.getLogger(__name__)


class CcxtExchange:
    """Live venue: market orders with client ids, reduce-only exits, positions, marks, OHLCV."""

    def __init__(
        self,
        exchange_id: str = DEFAULT_EXCHANGE_ID,
        *,
        api_key: str,
        secret: str,
        testnet: bool = False,
        clock: Clock,
        ccxt_client: Any | None = None,
        max_retries: int = 3,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        settle: str = "USDT",
    ) -> None:
        self.name = exchange_id
        self.testnet = testnet
        redact = Redactor(api_key, secret)
        client = ccxt_client or build_client(exchange_id, api_key, secret, testnet)
        if ccxt_client is not None and api_key:
            client.apiKey, client.secret = api_key, secret
        client.enableRateLimit = True
        client.verbose = False  # verbose mode prints raw headers to stdout
        client.logger = RedactingLogger(logging.getLogger(f"{__name__}.http"), redact)
        self._client = client
        self._clock = clock
        self._call = CallGuard(
            redact, lambda: client.rateLimit / 1000.0, max_retries, backoff_seconds, sleep
        )
        self._settle = settle
        self._loaded = False
        self._max_leverage: dict[str, float] = {}
        self._risk: dict[str, PositionRisk] = {}  # as the last positions() read them
        self._tracked: dict[str, TrackedOrder] = {}
        self._unsure: set[str] = set()  # client ids whose last send ended in a transient error
        self._ends: list[OrderEnd] = []  # orders closed without a fill saying so, not yet polled
        self.duplicates_prevented = 0
        ours = lambda s: str(self._market(s)["id"])  # noqa: E731 - the venue's id is our symbol
        self._funding = FundingReader(self._call, client, ours, clock.now())

    @classmethod
    def from_config(
        cls,
        cfg: EngineConfig,
        clock: Clock,
        *,
        testnet: bool = False,
        env: Mapping[str, str] | None = None,
        ccxt_client: Any | None = None,
    ) -> CcxtExchange:
        """Build the live venue from config and the key environment variables."""
        key, secret = keys_from_env(cfg.exchange, env)
        exchange_id = DEFAULT_EXCHANGE_ID if cfg.exchange.name == "paper" else cfg.exchange.name
        return cls(
            exchange_id,
            api_key=key,
            secret=secret,
            testnet=testnet,
            clock=clock,
            ccxt_client=ccxt_client,
            max_retries=cfg.exchange.max_retries,
        )

    def __repr__(self) -> str:
        return f"CcxtExchange({self.name!r}, testnet={self.testnet})"

    def stats(self) -> dict[str, Any]:
        """Return the adapter's counters for diagnostics (no secrets in here)."""
        return {
            "errors_by_kind": dict(self._call.error_counts),
            "retries_total": self._call.retries_total,
            "duplicates_prevented": self.duplicates_prevented,
            "orders_tracked": len(self._tracked),
        }

    # --- markets ------------------------------------------------------------------------------

    def load_markets(self, reload: bool = False) -> None:
        """Load markets (and max leverage where the exchange tells it); call once at start."""
        self._call(self._client.load_markets, reload)
        self._loaded = True
        if not (self._client.has.get("fetchLeverageTiers") and self._client.apiKey):
            return
        try:
            tiers = self._call(self._client.fetch_leverage_tiers)
        except AuthenticationFailed:
            raise  # refused keys: better to know at start
        except ExchangeError as err:
            log.warning("leverage tiers unavailable (%s); using market limits", err)
            return
        self._max_leverage = max_leverage_by_symbol(tiers)

    def _market(self, symbol: str) -> Any:
        """Return the ccxt market for our symbol ("BTCUSDT") or a unified one ("BTC/USDT:USDT")."""
        if not self._loaded:
            self.load_markets()
        c = self._client
        m = find_swap_market(c.markets or {}, c.markets_by_id or {}, symbol)
        if m is not None:
            return m
        raise OrderRejected(f"unknown symbol {symbol!r} on {self.name} (no USD-margined swap)")

    def poll_funding(self) -> list[FundingPayment]:
        """Return the funding payments the venue booked since the last read (at most every 5 min)."""
        return self._funding.poll(self._clock.now())

    def to_unified(self, symbol: str) -> str:
        """Return ccxt's unified symbol for one of ours."""
        return str(self._market(symbol)["symbol"])

    def unknown_symbols(self, symbols: Sequence[str]) -> list[str]:
        """Return the symbols the exchange has no USD-margined swap for."""
        out = []
        for s in symbols:
            try:
                self._market(s)
            except OrderRejected:
                out.append(s)
        return out

    def market_rules(self, symbol: str) -> MarketRules:
        """Return the real min notional, qty step, price tick and max leverage of ``symbol``."""
        m = self._market(symbol)
        mode = self._client.precisionMode
        return rules_from_market(symbol, m, mode, self._max_leverage.get(m["symbol"]))

    # --- orders -------------------------------------------------------------------------------

    def place_order(self, req: OrderRequest) -> OrderAck:
        """Send a market order (reduce-only for exits); an id already sent is looked up first."""
        m = self._market(req.symbol)
        cid = req.client_order_id
        if cid in self._unsure:
            found = self.find_order(cid)
            if found is not None:
                self.duplicates_prevented += 1
                log.info(
                    "order %s: found on %s after a failed send; not sending again", cid, self.name
                )
                return found
        tracked = self._tracked.get(cid) or TrackedOrder(req, venue_client_id(cid), m["symbol"])
        to_precision = self._client.amount_to_precision
        amount = float(
            self._call(to_precision, m["symbol"], req.qty / contract_size(m), retry=False)
        )
        params: dict[str, Any] = {"clientOrderId": tracked.venue_cid}
        if req.reduce_only:
            params["reduceOnly"] = True
        self._tracked[cid] = tracked  # before sending: find_order needs the symbol
        try:
            args = (m["symbol"], "market", req.side, amount, None, params)
            order = self._call(self._client.create_order, *args, retry=False)
        except TransientExchangeError:
            self._unsure.add(cid)
            raise
        except DuplicateClientOrderId:
            found = self.find_order(cid)
            if found is not None:
                self.duplicates_prevented += 1
                return found
            raise
        except ExchangeError:
            if cid not in self._unsure:
                self._tracked.pop(cid, None)
            raise
        self._unsure.discard(cid)
        return self._ack(tracked, order)

    def find_order(self, client_order_id: str) -> OrderAck | None:
        """Return the order with this client id as the exchange has it, or None."""
        tracked = self._tracked.get(client_order_id)
        # Never sent by this process: its symbol is unknown (find_sent_order is told it).
        return None if tracked is None else self._fetch(tracked)

    def find_sent_order(self, req: OrderRequest) -> SentOrder | None:
        """Return the order another process sent as ``req`` (under the venue's client id for
        it, on its symbol) as the exchange has it, or None; this process does not track it."""
        m = self._market(req.symbol)
        order = TrackedOrder(req, venue_client_id(req.client_order_id), m["symbol"])
        ack = self._fetch(order)
        return None if ack is None else order.as_sent(ack, m)

    def _fetch(self, tracked: TrackedOrder) -> OrderAck | None:
        try:
            params = {"clientOrderId": tracked.venue_cid}  # ccxt sends it as origClientOrderId
            order = self._call(self._client.fetch_order, "", tracked.unified, params)
        except OrderNotFound:
            return None
        self._unsure.discard(tracked.req.client_order_id)
        return self._ack(tracked, order)

    def _ack(self, tracked: TrackedOrder, order: Mapping[str, Any]) -> OrderAck:
        size = contract_size(self._market(tracked.unified))
        tracked.order_id = str(order.get("id"))
        tracked.filled = float(order.get("filled") or 0.0) * size
        tracked.average = float(order["average"]) if order.get("average") else None
        tracked.placed_ms = tracked.placed_ms or order.get("timestamp")
        status = str(order.get("status") or "open")
        tracked.status = "open" if status == "open" else "closed"
        shown = "open" if status == "open" else ("filled" if tracked.filled > 0 else "canceled")
        return OrderAck(tracked.req.client_order_id, tracked.order_id, shown, self._clock.now())

    # --- fills --------------------------------------------------------------------------------

    def poll_fills(self) -> list[Fill]:
        """Return fills of our orders since the last call (from the exchange's trades)."""
        fills: list[Fill] = []
        for cid, order in list(self._tracked.items()):
            try:
                if order.order_id is None:
                    self._resolve_unsure(cid, order)
                    continue
                fill = self._new_fill(order)
            except TransientExchangeError as err:
                log.warning("fills of %s: %s; will retry next poll", cid, err)
                continue
            if fill is not None:
                fills.append(fill)
            if order.is_done():
                del self._tracked[cid]
                if (end := order.unreported_end(self._clock.now())) is not None:
                    self._ends.append(end)
        return sorted(fills, key=lambda f: f.ts)

    def poll_order_ends(self) -> list[OrderEnd]:
        """Return and clear the orders closed without a fill saying so (canceled or expired)
        since the last call, oldest first; :meth:`poll_fills` finds them."""
        ends, self._ends = self._ends, []
        return ends

    def _resolve_unsure(self, cid: str, order: TrackedOrder) -> None:
        """An order whose send failed may still have reached the exchange: look for a while."""
        order.lookups += 1
        if self.find_order(cid) is None and order.lookups >= MAX_UNSURE_LOOKUPS:
            self._tracked.pop(cid, None)
            self._unsure.discard(cid)

    def _new_fill(self, order: TrackedOrder) -> Fill | None:
        """Refresh an open order, then read the trades of what it filled since the last poll."""
        if order.status == "open":
            self.find_order(order.req.client_order_id)
        if not order.has_unreported_fill():
            return None
        market = self._market(order.unified)
        query = trades_query(order, self._client.id, self._clock.now())
        trades = self._call(self._client.fetch_my_trades, *query)
        return next_fill(order, trades, market, self._clock.now())

    # --- account and market data --------------------------------------------------------------

    def closing_fill(self, symbol: str, side: Side, qty: float, since: float) -> Fill | None:
        """The fill that closed a position the engine saw disappear, from the account's trades
        since ``since`` (None when they do not show it whole: its exit stays unseen)."""
        m = self._market(symbol)
        fetch = self._client.fetch_my_trades
        return closing_fill(self._call, fetch, m, symbol, (side, qty), since, self._clock.now())

    def positions(self) -> dict[str, ExchangePosition]:
        """Return open positions by our symbol (one-way mode: one net position per symbol)."""
        out: dict[str, ExchangePosition] = {}
        self._risk = {}
        for p in self._call(self._client.fetch_positions):
            m = self._market(p["symbol"])
            pos = position_from_ccxt(p, m)
            if pos is None:
                continue
            self._risk[pos.symbol] = risk_from_ccxt(p)
            if pos.symbol in out:
                raise ExchangeError(
                    f"{pos.symbol}: a long and a short position at once (hedge mode);"
                    " v7 trades net positions: switch the account to one-way mode"
                )
            out[pos.symbol] = pos
        return out

    def position_risk(self) -> dict[str, PositionRisk]:
        """Return each position's leverage, margin and liquidation price (last positions())."""
        return dict(self._risk)

    def set_margin(self, leverage: Mapping[str, float], margin_mode: str) -> dict[str, float]:
        """Set our symbols' margin mode and leverage; return the leverage granted by symbol."""
        return set_margin(self._call, self._client, leverage, margin_mode, self._market)

    def marks(self, symbols: Sequence[str] | None = None) -> dict[str, float]:
        """Return mark prices by our symbol (all swaps when ``symbols`` is None)."""
        unified = [self.to_unified(s) for s in symbols] if symbols else None
        client = self._client
        fetch = client.fetch_mark_prices if client.has.get("fetchMarkPrices") else None
        tickers = self._call(fetch or client.fetch_tickers, unified)
        out: dict[str, float] = {}
        for usym, t in tickers.items():
            price = t.get("markPrice") or t.get("last")
            m = (client.markets or {}).get(usym)
            if m is not None and m.get("swap") and price:
                out[m["id"]] = float(price)
        return out

    def fetch_recent_bars(
        self, symbol: str, timeframe: str = "1m", limit: int = 200, closed_only: bool = True
    ) -> list[Bar]:
        """Return the last ``limit`` bars, oldest first; by default only bars already closed."""
        m = self._market(symbol)
        seconds = float(self._client.parse_timeframe(timeframe))
        asked = limit + 1 if closed_only else limit  # the newest bar may still be forming
        rows = self._call(self._client.fetch_ohlcv, m["symbol"], timeframe, None, asked)
        last_open = self._clock.now() - seconds if closed_only else float("inf")
        return bars_from_ohlcv(symbol, rows, last_open)[-limit:]

    def balance(self) -> float:
        """Return the wallet balance in the settle currency (realized PnL and fees included)."""
        bal = self._call(self._client.fetch_balance)
        info = bal.get("info")
        for asset in info.get("assets", []) if isinstance(info, dict) else []:
            if asset.get("asset") == self._settle and asset.get("walletBalance") is not None:
                return float(asset["walletBalance"])
        total = (bal.get(self._settle) or {}).get("total")
        if total is None:
            raise ExchangeError(f"{self.name}: no {self._settle} balance in the account")
        return float(total)  # other venues: may include unrealized PnL

    def on_bar(self, bar: Bar) -> None:
        """Live venues fill on their own: nothing to do."""
