"""The Exchange interface on ccxt: live USD-margined perpetual swaps (Binance USD-M by default).

Keys come from environment variables only and never reach a log line or an exception message:
ccxt's own HTTP debug lines (which carry the key header) go through a redacting logger. Every
ccxt exception is turned into one of ours in one place (:func:`map_ccxt_error`); idempotent
reads are retried there with backoff, orders are not (the router retries them after asking
:meth:`CcxtExchange.find_order`). A client order id whose send timed out is looked up before it
is ever sent again, so a retry never becomes a second order.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import ccxt

from execution.clock import Clock
from execution.config import EngineConfig, ExchangeConfig
from execution.exchange_base import (
    AuthenticationFailed,
    ExchangeError,
    OrderRejected,
    TransientExchangeError,
)
from execution.types import Bar, ExchangePosition, Fill, MarketRules, OrderAck, OrderRequest, Side

log = logging.getLogger(__name__)
_T = TypeVar("_T")

DEFAULT_EXCHANGE_ID = "binanceusdm"
ERROR_KINDS = (
    "timeout",
    "rate_limit",
    "unavailable",
    "network",
    "insufficient_funds",
    "invalid_order",
    "duplicate",
    "not_found",
    "auth",
    "error",
)
_CLIENT_ID_OK = re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$")  # Binance's newClientOrderId rule
_SIGNATURE = re.compile(r"(signature=)[^&\s\"']+", re.IGNORECASE)
_EMPTY_POLLS_BEFORE_FALLBACK = 3  # polls without trades before a fill is built from the order
_MAX_UNSURE_LOOKUPS = 10


class MissingKeysError(AuthenticationFailed):
    """Live trading was asked for but the key environment variables are not set."""


class OrderNotFound(ExchangeError):
    """The exchange does not know the order (find_order turns this into None)."""


class DuplicateClientOrderId(OrderRejected):
    """The exchange already holds an order with this client id."""


def keys_from_env(cfg: ExchangeConfig, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Return (api_key, secret) from the variables ``cfg`` names; raise MissingKeysError."""
    source = os.environ if env is None else env
    key = source.get(cfg.api_key_env, "").strip()
    secret = source.get(cfg.api_secret_env, "").strip()
    missing = [n for n, v in ((cfg.api_key_env, key), (cfg.api_secret_env, secret)) if not v]
    if missing:
        raise MissingKeysError(
            f"live trading needs API keys: set the environment variable(s) {', '.join(missing)}"
            " (keys are read from the environment only, never from files or flags)"
        )
    return key, secret


def venue_client_id(client_order_id: str) -> str:
    """Return the id sent to the venue: ours if Binance accepts it, else a stable digest."""
    if _CLIENT_ID_OK.match(client_order_id):
        return client_order_id
    return "v7h" + hashlib.sha256(client_order_id.encode()).hexdigest()[:32]


class Redactor:
    """Blank API keys, secrets and request signatures out of a text."""

    def __init__(self, *secrets: str) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, "***")
        return _SIGNATURE.sub(r"\1***", text)

    def __repr__(self) -> str:
        return "Redactor(***)"


class _RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """ccxt logs every request's headers (the key among them) at DEBUG: redact each line."""

    def __init__(self, logger: logging.Logger, redact: Redactor) -> None:
        super().__init__(logger, {})
        self._redact = redact

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            text = str(msg) % args if args else str(msg)
            self.logger.log(level, "%s", self._redact(text))


def map_ccxt_error(err: Exception, redact: Redactor) -> tuple[str, ExchangeError]:
    """Return (kind, our exception) for a ccxt exception; the one place errors are mapped."""
    text = redact(f"{type(err).__name__}: {err}")[:400]
    table: tuple[tuple[type[Exception], str, type[ExchangeError], str], ...] = (
        (ccxt.OrderNotFound, "not_found", OrderNotFound, ""),
        (ccxt.DuplicateOrderId, "duplicate", DuplicateClientOrderId, "duplicate client order id: "),
        (ccxt.InsufficientFunds, "insufficient_funds", OrderRejected, "insufficient_funds: "),
        (ccxt.InvalidOrder, "invalid_order", OrderRejected, "invalid_order: "),
        (ccxt.AuthenticationError, "auth", AuthenticationFailed, "authentication failed: "),
        (ccxt.RequestTimeout, "timeout", TransientExchangeError, ""),
        (ccxt.RateLimitExceeded, "rate_limit", TransientExchangeError, "rate limited: "),
        (ccxt.DDoSProtection, "rate_limit", TransientExchangeError, "rate limited: "),
        (ccxt.ExchangeNotAvailable, "unavailable", TransientExchangeError, ""),
        (ccxt.OperationFailed, "network", TransientExchangeError, ""),  # NetworkError, 5xx, -1001
    )
    if isinstance(err, ccxt.InvalidOrder) and '"code":-4116' in str(err).replace(" ", ""):
        return "duplicate", DuplicateClientOrderId("duplicate client order id: " + text)
    for ccxt_type, kind, ours, prefix in table:
        if isinstance(err, ccxt_type):
            return kind, ours(prefix + text)
    return "error", ExchangeError(text)


def build_client(exchange_id: str, api_key: str, secret: str, testnet: bool) -> Any:
    """Return a configured ccxt client: rate limited, swaps by default, testnet if asked."""
    cls = getattr(ccxt, exchange_id, None)
    if not isinstance(cls, type) or not issubclass(cls, ccxt.Exchange):
        raise ExchangeError(f"unknown ccxt exchange id {exchange_id!r}")
    client = cls(
        {
            "apiKey": api_key,
            "secret": secret,
            "enableRateLimit": True,
            # no spot-wallet currency list (needs extra key permissions); sync the nonce clock
            "options": {
                "defaultType": "swap",
                "fetchCurrencies": False,
                "adjustForTimeDifference": True,
            },
        }
    )
    if testnet:
        try:
            # ccxt refuses Binance's retired futures testnet; Binance's demo trading replaced it
            if isinstance(client, ccxt.binance):
                client.enable_demo_trading(True)
            else:
                client.set_sandbox_mode(True)
        except ccxt.NotSupported as err:
            raise ExchangeError(f"{exchange_id} has no testnet/sandbox in ccxt: {err}") from None
    return client


@dataclass
class _Tracked:
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
        self._redact = Redactor(api_key, secret)
        client = ccxt_client or build_client(exchange_id, api_key, secret, testnet)
        if ccxt_client is not None and api_key:
            client.apiKey, client.secret = api_key, secret
        client.enableRateLimit = True
        client.verbose = False  # verbose mode prints raw headers to stdout
        client.logger = _RedactingLogger(logging.getLogger(f"{__name__}.http"), self._redact)
        self._client = client
        self._clock = clock
        self._max_retries = max_retries
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._settle = settle
        self._loaded = False
        self._max_leverage: dict[str, float] = {}
        self._tracked: dict[str, _Tracked] = {}
        self._unsure: set[str] = set()  # client ids whose last send ended in a transient error
        self._cooldown_until = 0.0
        self.error_counts: dict[str, int] = {}
        self.retries_total = 0
        self.duplicates_prevented = 0

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

    # --- the one call path: cooldown, error mapping, counting, bounded retries ----------------

    def _call(self, fn: Callable[..., _T], *args: Any, retry: bool = True) -> _T:
        attempts = self._max_retries + 1 if retry else 1
        for attempt in range(attempts):
            self._wait_cooldown()
            try:
                return fn(*args)
            except ccxt.BaseError as err:
                kind, mapped = map_ccxt_error(err, self._redact)
            self.error_counts[kind] = self.error_counts.get(kind, 0) + 1
            delay = self._delay(attempt, kind)
            if kind == "rate_limit":  # every call waits, orders included
                self._cooldown_until = time.monotonic() + delay
            if not isinstance(mapped, TransientExchangeError) or attempt + 1 >= attempts:
                raise mapped from None
            self.retries_total += 1
            log.warning(
                "%s: %s; retry %d/%d in %.2fs",
                fn.__name__,
                mapped,
                attempt + 1,
                attempts - 1,
                delay,
            )
            self._sleep(delay)
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, kind: str) -> float:
        """Exponential backoff, never shorter than the exchange's own request spacing."""
        base = max(self._backoff * 2**attempt, self._client.rateLimit / 1000.0)
        return min(60.0, base * (4 if kind == "rate_limit" else 1))

    def _wait_cooldown(self) -> None:
        wait = self._cooldown_until - time.monotonic()
        self._cooldown_until = 0.0
        if wait > 0:
            self._sleep(wait)

    def stats(self) -> dict[str, Any]:
        """Return the adapter's counters for diagnostics (no secrets in here)."""
        return {
            "errors_by_kind": dict(self.error_counts),
            "retries_total": self.retries_total,
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
        for usym, rows in tiers.items():
            levels = [float(r["maxLeverage"]) for r in rows if r.get("maxLeverage")]
            if levels:
                self._max_leverage[usym] = max(levels)

    def _market(self, symbol: str) -> Any:
        """Return the ccxt market for our symbol ("BTCUSDT") or a unified one ("BTC/USDT:USDT")."""
        if not self._loaded:
            self.load_markets()
        markets = self._client.markets or {}
        if symbol in markets:
            return markets[symbol]
        for m in (self._client.markets_by_id or {}).get(symbol, []):
            if m.get("swap") and m.get("linear"):
                return m
        raise OrderRejected(f"unknown symbol {symbol!r} on {self.name} (no USD-margined swap)")

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

    def _step(self, market: Mapping[str, Any], key: str) -> float | None:
        value = (market.get("precision") or {}).get(key)
        if value is None:
            return None
        if self._client.precisionMode == ccxt.TICK_SIZE:
            return float(value)
        if self._client.precisionMode == ccxt.DECIMAL_PLACES:
            return 10.0 ** -int(value)
        return None  # significant digits: no fixed step

    def market_rules(self, symbol: str) -> MarketRules:
        """Return the real min notional, qty step, price tick and max leverage of ``symbol``."""
        m = self._market(symbol)
        size = _contract_size(m)
        step, tick = self._step(m, "amount"), self._step(m, "price")
        min_cost = ((m.get("limits") or {}).get("cost") or {}).get("min")
        if min_cost is None:
            min_cost = _notional_filter(m)
        leverage = self._max_leverage.get(m["symbol"]) or (
            (m.get("limits") or {}).get("leverage") or {}
        ).get("max")
        defaults = MarketRules(symbol)
        return MarketRules(
            symbol=symbol,
            min_notional=float(min_cost) if min_cost is not None else defaults.min_notional,
            qty_step=step * size if step else defaults.qty_step,
            price_tick=tick or defaults.price_tick,
            max_leverage=float(leverage) if leverage else defaults.max_leverage,
        )

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
        tracked = self._tracked.get(cid) or _Tracked(req, venue_client_id(cid), m["symbol"])
        amount = float(
            self._call(
                self._client.amount_to_precision,
                m["symbol"],
                req.qty / _contract_size(m),
                retry=False,
            )
        )
        params: dict[str, Any] = {"clientOrderId": tracked.venue_cid}
        if req.reduce_only:
            params["reduceOnly"] = True
        self._tracked[cid] = tracked  # before sending: find_order needs the symbol
        try:
            order = self._call(
                self._client.create_order,
                m["symbol"],
                "market",
                req.side,
                amount,
                None,
                params,
                retry=False,
            )
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
        if tracked is None:  # never sent by this process: its symbol is unknown
            return None
        try:
            order = self._call(
                self._client.fetch_order, "", tracked.unified, {"clientOrderId": tracked.venue_cid}
            )
        except OrderNotFound:
            return None
        self._unsure.discard(client_order_id)
        return self._ack(tracked, order)

    def _ack(self, tracked: _Tracked, order: Mapping[str, Any]) -> OrderAck:
        size = _contract_size(self._market(tracked.unified))
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
        for cid, t in list(self._tracked.items()):
            try:
                if t.order_id is None:
                    self._resolve_unsure(cid, t)
                    continue
                fill = self._new_fill(t)
            except TransientExchangeError as err:
                log.warning("fills of %s: %s; will retry next poll", cid, err)
                continue
            if fill is not None:
                fills.append(fill)
            if t.status != "open" and t.reported >= t.filled - 1e-12:
                del self._tracked[cid]
        return sorted(fills, key=lambda f: f.ts)

    def _resolve_unsure(self, cid: str, t: _Tracked) -> None:
        """An order whose send failed may still have reached the exchange: look for a while."""
        t.lookups += 1
        if self.find_order(cid) is None and t.lookups >= _MAX_UNSURE_LOOKUPS:
            self._tracked.pop(cid, None)
            self._unsure.discard(cid)

    def _new_fill(self, t: _Tracked) -> Fill | None:
        if t.status == "open":
            self.find_order(t.req.client_order_id)
        if t.filled <= t.reported + 1e-12:
            return None
        m = self._market(t.unified)
        size = _contract_size(m)
        if self._client.id.startswith("binance"):
            trades = self._call(
                self._client.fetch_my_trades, t.unified, None, None, {"orderId": t.order_id}
            )
        else:
            since = (t.placed_ms or int(self._clock.now() * 1000)) - 60_000
            trades = self._call(self._client.fetch_my_trades, t.unified, since)
        new = [
            x
            for x in trades
            if str(x.get("order")) == t.order_id and str(x.get("id")) not in t.seen_trades
        ]
        if not new:
            t.empty_polls += 1
            if t.status == "open" or t.empty_polls < _EMPTY_POLLS_BEFORE_FALLBACK:
                return None
            return self._fill_from_order(t, m)  # the venue shows no trades: trust the order
        qty = sum(float(x["amount"]) for x in new) * size
        cost = sum(float(x["amount"]) * float(x["price"]) for x in new) * size
        fee = sum(self._fee_in_settle(x, m, size) for x in new)
        pnl = sum(float((x.get("info") or {}).get("realizedPnl") or 0.0) for x in new)
        t.seen_trades.update(str(x.get("id")) for x in new)
        t.reported += qty
        ts = max(float(x.get("timestamp") or 0) for x in new) / 1000.0 or self._clock.now()
        return _fill(t, round(qty, 12), cost / qty, fee, ts, pnl)

    def _fill_from_order(self, t: _Tracked, m: Mapping[str, Any]) -> Fill | None:
        qty = t.filled - t.reported
        if t.average is None or qty <= 0:
            return None
        t.reported = t.filled
        fee = qty * t.average * float(m.get("taker") or 0.0)  # estimated: no trade fee known
        log.warning(
            "order %s: no trades visible; fill built from the order (fee estimated)",
            t.req.client_order_id,
        )
        return _fill(t, round(qty, 12), t.average, fee, self._clock.now(), 0.0)

    def _fee_in_settle(self, trade: Mapping[str, Any], m: Mapping[str, Any], size: float) -> float:
        fee = trade.get("fee") or {}
        if fee.get("cost") is None:
            return 0.0
        if fee.get("currency") in (m.get("settle"), m.get("quote")):
            return float(fee["cost"])
        # paid in another coin (e.g. BNB): value it at the taker rate instead
        return float(trade["amount"]) * size * float(trade["price"]) * float(m.get("taker") or 0)

    # --- account and market data --------------------------------------------------------------

    def positions(self) -> dict[str, ExchangePosition]:
        """Return open positions by our symbol (one-way mode: one net position per symbol)."""
        out: dict[str, ExchangePosition] = {}
        for p in self._call(self._client.fetch_positions):
            contracts = float(p.get("contracts") or 0.0)
            if contracts == 0.0:
                continue
            m = self._market(p["symbol"])
            if m["id"] in out:
                raise ExchangeError(
                    f"{m['id']}: a long and a short position at once (hedge mode);"
                    " v7 trades net positions: switch the account to one-way mode"
                )
            out[m["id"]] = ExchangePosition(
                symbol=m["id"],
                side=Side.LONG if p.get("side") == "long" else Side.SHORT,
                qty=round(abs(contracts) * _contract_size(m), 12),
                entry_price=float(p.get("entryPrice") or 0.0),
                mark_price=float(p.get("markPrice") or 0.0),
            )
        return out

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
            if m is not None and price:
                out[m["id"]] = float(price)
        return out

    def fetch_recent_bars(
        self, symbol: str, timeframe: str = "1m", limit: int = 200, closed_only: bool = True
    ) -> list[Bar]:
        """Return the last ``limit`` bars, oldest first; by default only bars already closed."""
        m = self._market(symbol)
        seconds = float(self._client.parse_timeframe(timeframe))
        rows = self._call(
            self._client.fetch_ohlcv,
            m["symbol"],
            timeframe,
            None,
            limit + 1 if closed_only else limit,
        )
        now = self._clock.now()
        bars = [
            Bar(
                symbol,
                r[0] / 1000.0,
                float(r[1]),
                float(r[2]),
                float(r[3]),
                float(r[4]),
                float(r[5] or 0.0),
            )
            for r in rows
            if None not in r[:5] and (not closed_only or r[0] / 1000.0 + seconds <= now)
        ]
        return bars[-limit:]

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


def _contract_size(market: Mapping[str, Any]) -> float:
    """Base units per contract (1 on Binance USD-M; e.g. 0.01 BTC on some venues)."""
    return float(market.get("contractSize") or 1.0)


def _notional_filter(market: Mapping[str, Any]) -> float | None:
    for f in (market.get("info") or {}).get("filters") or []:
        if f.get("filterType") in ("MIN_NOTIONAL", "NOTIONAL"):
            value = f.get("notional") or f.get("minNotional")
            return float(value) if value is not None else None
    return None


def _fill(t: _Tracked, qty: float, price: float, fee: float, ts: float, pnl: float) -> Fill:
    r = t.req
    return Fill(
        client_order_id=r.client_order_id,
        symbol=r.symbol,
        side=r.side,
        qty=qty,
        price=price,
        fee=fee,
        ts=ts,
        kind=r.kind,
        reduce_only=r.reduce_only,
        intent_id=r.intent_id,
        exit_kind=r.exit_kind,
        realized_pnl=pnl,
    )
