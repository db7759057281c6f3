"""A canned Binance USD-M REST API behind ccxt's real request building, signing and parsing.

``CannedBinance.install(client)`` swaps the ``requests`` session of a real
``ccxt.binanceusdm`` for one that answers from memory, so everything ccxt does around the HTTP
call (URL and parameter building, HMAC signing, ``raise_for_status``, ``handle_errors`` and the
error-code tables, JSON parsing) runs for real. Errors come back the way Binance sends them:
an HTTP status with a ``{"code": ..., "msg": ...}`` body, or a ``requests`` timeout.

Market orders fill at once at the symbol's mark price into net (one-way) positions. Like the
real exchange, a client order id is only refused while an order with that id is still open, so
a blind re-send of a filled market order *would* trade twice: the no-double-order tests rely on
the adapter, not on this fake.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import ccxt
import requests
from ccxt_canned_errors import FAULTS, MARGIN_TYPE_HELD, MARGIN_TYPE_UNCHANGED
from ccxt_canned_market import EXCHANGE_INFO, MAX_LEVERAGE, SERVER_MS, CannedMarketData
from requests.structures import CaseInsensitiveDict

from execution.venues.ccxt_guard import build_client

API_KEY = "CANNEDkey0123456789abcdefABCDEF0123456789abcdefXYZ"
API_SECRET = "CANNEDsecret9876543210fedcbaFEDCBA9876543210zyxwv"
TAKER_FEE = 0.0004
USER_TRADES_PAGE = 500  # Binance's default page of GET /fapi/v1/userTrades
WEEK_MS = 7 * 86_400_000  # the longest span between its startTime and endTime

Handler = Callable[[dict[str, str]], Any]


@dataclass
class Request:
    method: str
    url: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class CannedBinance(CannedMarketData):
    """In-memory Binance USD-M: markets, marks, klines, one account, orders and fills."""

    marks: dict[str, float] = field(
        default_factory=lambda: {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0}
    )
    wallet: float = 10_000.0
    leverage: float = 20.0
    now_ms: int = SERVER_MS
    klines: dict[str, list[list[Any]]] = field(default_factory=dict)
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)  # qty, entry
    orders: list[dict[str, Any]] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    faults: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    hidden_orders: int = 0  # GET /order answers "does not exist" this many more times
    margin_types: dict[str, str] = field(default_factory=dict)  # symbol -> ISOLATED / CROSSED
    leverage_by_symbol: dict[str, int] = field(default_factory=dict)
    liquidation_prices: dict[str, float] = field(default_factory=dict)
    funding: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # ms, rate
    income: list[dict[str, Any]] = field(default_factory=list)  # the account's income history

    def install(self, client: ccxt.Exchange) -> ccxt.Exchange:
        """Route ``client``'s HTTP through this fake; keep ccxt's throttle but make it quick."""
        client.session = _Session(self)
        client.rateLimit = 1
        return client

    def fail(self, method: str, path: str, *kinds: str) -> None:
        """Script faults for the next calls to ``method path``: see :meth:`_fault`."""
        self.faults.setdefault((method, path), []).extend(kinds)

    def calls(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def set_klines(
        self, symbol: str, start_ms: int, closes: list[float], tf_ms: int = 60_000
    ) -> None:
        rows = []
        for i, c in enumerate(closes):
            t = start_ms + i * tf_ms
            o = closes[i - 1] if i else c
            hi, lo = max(o, c) * 1.001, min(o, c) * 0.999
            rows.append([t, f"{o}", f"{hi}", f"{lo}", f"{c}", "12.5", t + tf_ms - 1, "1", 10, "6", "3", "0"])  # fmt: skip
        self.klines[symbol] = rows

    # --- HTTP ---------------------------------------------------------------------------------

    def respond(self, method: str, url: str, headers: dict[str, str], body: str | None):
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query)) | dict(parse_qsl(body or ""))
        self.requests.append(Request(method, url, parts.path, params, dict(headers)))
        script = self.faults.get((method, parts.path))
        fault = script.pop(0) if script else None
        if fault == "timeout":
            raise requests.ReadTimeout("read timed out (canned)")
        if fault is not None and fault != "timeout_after_accept":
            return self._fault(fault)
        if "signature" in params:
            denied = self._check_auth(parts.query or body or "", headers)
            if denied is not None:
                return denied
        handler = self._routes().get((method, parts.path))
        if handler is None:
            raise AssertionError(f"canned Binance has no route for {method} {parts.path}")
        status, payload = handler(params)
        if fault == "timeout_after_accept":
            raise requests.ReadTimeout("read timed out after the order was accepted (canned)")
        return status, payload

    @staticmethod
    def _fault(kind: str) -> tuple[int, Any]:
        """Return the HTTP status and body Binance sends for a scripted failure."""
        return FAULTS[kind]

    def _check_auth(self, query: str, headers: dict[str, str]) -> tuple[int, Any] | None:
        if headers.get("X-MBX-APIKEY") != API_KEY:
            return 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
        unsigned, _, signature = query.rpartition("&signature=")
        expected = hmac.new(API_SECRET.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return 400, {"code": -1022, "msg": "Signature for this request is not valid."}
        return None

    def _routes(self) -> dict[tuple[str, str], Callable[[dict[str, str]], tuple[int, Any]]]:
        return {
            ("GET", "/fapi/v1/time"): lambda p: (200, {"serverTime": self.now_ms}),
            ("GET", "/fapi/v1/exchangeInfo"): lambda p: (200, EXCHANGE_INFO),
            ("GET", "/fapi/v1/klines"): self._klines,
            ("GET", "/fapi/v1/premiumIndex"): self._premium_index,
            ("GET", "/fapi/v1/leverageBracket"): self._brackets,
            ("GET", "/fapi/v3/positionRisk"): self._position_risk,
            ("GET", "/fapi/v3/account"): self._account,
            ("POST", "/fapi/v1/order"): self._new_order,
            ("GET", "/fapi/v1/order"): self._query_order,
            ("GET", "/fapi/v1/userTrades"): self._user_trades,
            ("GET", "/fapi/v1/markPriceKlines"): self._mark_klines,
            ("GET", "/fapi/v1/fundingRate"): self._funding_rate,
            ("POST", "/fapi/v1/marginType"): self._margin_type,
            ("POST", "/fapi/v1/leverage"): self._set_leverage,
            ("GET", "/fapi/v1/income"): self._income,
        }

    def _income(self, p: dict[str, str]) -> tuple[int, Any]:
        """GET /fapi/v1/income: rows of ``incomeType`` from ``startTime`` on (inclusive)."""
        start = int(p.get("startTime", 0))
        rows = [r for r in self.income if r["incomeType"] == p.get("incomeType", r["incomeType"])]
        return 200, [r for r in rows if int(r["time"]) >= start]

    def _margin_type(self, p: dict[str, str]) -> tuple[int, Any]:
        """POST /fapi/v1/marginType: a symbol never set is CROSSED (Binance's default); one
        holding a position keeps its type."""
        symbol, mode = p["symbol"], p["marginType"].upper()
        if self.margin_types.get(symbol, "CROSSED") == mode:
            return MARGIN_TYPE_UNCHANGED
        if symbol in self.positions:
            return MARGIN_TYPE_HELD
        self.margin_types[symbol] = mode
        return 200, {"code": 200, "msg": "success"}

    def _set_leverage(self, p: dict[str, str]) -> tuple[int, Any]:
        lev = min(int(p["leverage"]), int(MAX_LEVERAGE.get(p["symbol"], 20)))
        self.leverage_by_symbol[p["symbol"]] = lev
        return 200, {"leverage": lev, "maxNotionalValue": "1000000", "symbol": p["symbol"]}

    def _position_risk(self, p: dict[str, str]) -> tuple[int, Any]:
        rows = []
        for sym, (qty, entry) in self.positions.items():
            mark = self.marks[sym]
            rows.append(
                {
                    "symbol": sym,
                    "positionSide": "BOTH",
                    "positionAmt": f"{qty:.3f}",
                    "entryPrice": f"{entry}",
                    "breakEvenPrice": f"{entry}",
                    "markPrice": f"{mark:.8f}",
                    "unRealizedProfit": f"{(mark - entry) * qty:.8f}",
                    "liquidationPrice": f"{self.liquidation_prices.get(sym, 0.0)}",
                    "isolatedMargin": "0",
                    "notional": f"{mark * qty:.8f}",
                    "marginAsset": "USDT",
                    "isolatedWallet": "0",
                    "initialMargin": f"{abs(mark * qty) / self.leverage:.8f}",
                    "maintMargin": f"{abs(mark * qty) * 0.004:.8f}",
                    "positionInitialMargin": f"{abs(mark * qty) / self.leverage:.8f}",
                    "openOrderInitialMargin": "0",
                    "adl": 1,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "updateTime": self.now_ms,
                }
            )
        return 200, rows

    def _used_margin(self) -> float:
        return sum(abs(q) * self.marks[s] / self.leverage for s, (q, _) in self.positions.items())

    def _unrealized(self) -> float:
        return sum((self.marks[s] - e) * q for s, (q, e) in self.positions.items())

    def _account(self, p: dict[str, str]) -> tuple[int, Any]:
        upnl, used = self._unrealized(), self._used_margin()
        asset = {
            "asset": "USDT",
            "walletBalance": f"{self.wallet:.8f}",
            "unrealizedProfit": f"{upnl:.8f}",
            "marginBalance": f"{self.wallet + upnl:.8f}",
            "maintMargin": "0",
            "initialMargin": f"{used:.8f}",
            "positionInitialMargin": f"{used:.8f}",
            "openOrderInitialMargin": "0",
            "crossWalletBalance": f"{self.wallet:.8f}",
            "crossUnPnl": f"{upnl:.8f}",
            "availableBalance": f"{self.wallet + upnl - used:.8f}",
            "maxWithdrawAmount": f"{self.wallet + upnl - used:.8f}",
            "updateTime": self.now_ms,
        }
        return 200, {
            "totalWalletBalance": asset["walletBalance"],
            "assets": [asset],
            "positions": [],
        }

    def _new_order(self, p: dict[str, str]) -> tuple[int, Any]:
        sym, cid = p["symbol"], p["newClientOrderId"]
        if any(o["clientOrderId"] == cid and o["status"] == "NEW" for o in self.orders):
            return 400, {"code": -4116, "msg": "ClientOrderId is duplicated."}
        qty, mark = float(p["quantity"]), self.marks[sym]
        sign = 1.0 if p["side"] == "BUY" else -1.0
        held, entry = self.positions.get(sym, (0.0, 0.0))
        reduce_only = p.get("reduceOnly") == "true"
        if reduce_only and (held * sign >= 0 or qty > abs(held) + 1e-12):
            return 400, {"code": -2022, "msg": "ReduceOnly Order is rejected."}
        if not reduce_only and qty * mark < 100 and sym == "BTCUSDT":
            return self._fault("notional")
        if not reduce_only and self._used_margin() + qty * mark / self.leverage > self.wallet:
            return self._fault("insufficient")
        realized = 0.0
        if held * sign < 0:  # closing (part of) the position
            closing = min(qty, abs(held))
            realized = (mark - entry) * closing * (1 if held > 0 else -1)
            new_qty = held + sign * qty
            new_entry = entry if abs(new_qty) > 1e-12 and new_qty * held > 0 else mark
        else:
            new_qty = held + sign * qty
            new_entry = (abs(held) * entry + qty * mark) / abs(new_qty)
        if abs(new_qty) < 1e-12:
            self.positions.pop(sym, None)
        else:
            self.positions[sym] = (round(new_qty, 8), new_entry)
        fee = qty * mark * TAKER_FEE
        self.wallet += realized - fee
        order_id = 8_000_000 + len(self.orders)
        order = {
            "orderId": order_id,
            "symbol": sym,
            "status": "FILLED",
            "clientOrderId": cid,
            "price": "0.00",
            "avgPrice": f"{mark:.5f}",
            "origQty": p["quantity"],
            "executedQty": p["quantity"],
            "cumQty": p["quantity"],
            "cumQuote": f"{qty * mark:.5f}",
            "timeInForce": "GTC",
            "type": "MARKET",
            "reduceOnly": reduce_only,
            "closePosition": False,
            "side": p["side"],
            "positionSide": "BOTH",
            "stopPrice": "0.00",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": "MARKET",
            "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER",
            "goodTillDate": 0,
            "updateTime": self.now_ms,
        }
        self.orders.append(order)
        self.trades.append(
            {
                "buyer": p["side"] == "BUY",
                "commission": f"{fee:.8f}",
                "commissionAsset": "USDT",
                "id": 5_000_000 + len(self.trades),
                "maker": False,
                "orderId": order_id,
                "price": f"{mark}",
                "qty": p["quantity"],
                "quoteQty": f"{qty * mark:.5f}",
                "realizedPnl": f"{realized:.8f}",
                "side": p["side"],
                "positionSide": "BOTH",
                "symbol": sym,
                "time": self.now_ms,
            }
        )
        return 200, order

    def _query_order(self, p: dict[str, str]) -> tuple[int, Any]:
        cid, oid = p.get("origClientOrderId"), p.get("orderId")
        found = [
            o
            for o in self.orders
            if o["symbol"] == p["symbol"]
            and (o["clientOrderId"] == cid or str(o["orderId"]) == oid)
        ]
        if not found or self.hidden_orders > 0:
            self.hidden_orders = max(0, self.hidden_orders - 1)
            return 400, {"code": -2013, "msg": "Order does not exist."}
        return 200, found[-1]

    def _user_trades(self, p: dict[str, str]) -> tuple[int, Any]:
        """GET /fapi/v1/userTrades as Binance pages it: the oldest ``limit`` (500, at most 1000)
        within seven days from ``startTime`` (to ``endTime``), else the last seven days' newest."""
        limit = int(p.get("limit", USER_TRADES_PAGE))
        if not 1 <= limit <= 1000:
            return 400, {"code": -1130, "msg": "Data sent for paramter 'limit' is not valid."}
        rows = sorted((t for t in self.trades if t["symbol"] == p["symbol"]),
                      key=lambda t: (t["time"], t["id"]))  # fmt: skip
        if "orderId" in p:
            return 200, [t for t in rows if str(t["orderId"]) == p["orderId"]][:limit]
        start, end = p.get("startTime"), p.get("endTime")
        if start is None and end is None:
            return 200, [t for t in rows if t["time"] >= self.now_ms - WEEK_MS][-limit:]
        lo = int(start) if start is not None else int(end or 0) - WEEK_MS
        hi = int(end) if end is not None else lo + WEEK_MS
        if hi - lo > WEEK_MS:
            return 400, {"code": -1127, "msg": "More than 168 hours between startTime and endTime."}
        return 200, [t for t in rows if lo <= t["time"] <= hi][:limit]


class _Session(requests.Session):
    """A real ``requests.Session`` whose ``request`` answers from the fake, never the network."""

    def __init__(self, fake: CannedBinance) -> None:
        super().__init__()
        self.fake = fake

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any):  # type: ignore[override]
        data, headers = kwargs.get("data"), kwargs.get("headers") or {}
        body = data.decode() if isinstance(data, bytes) else data
        status, payload = self.fake.respond(str(method), str(url), dict(headers), body)
        resp = requests.Response()
        resp.status_code = status
        resp.reason = requests.status_codes._codes[status][0].upper()  # type: ignore[attr-defined]
        resp._content = json.dumps(payload).encode()
        resp.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        resp.url = str(url)
        return resp


SECRETS = (API_KEY, API_SECRET)


def leaked_secrets(text: str) -> list[str]:
    """Return which canned secrets appear in ``text`` (for log, state-file and message checks)."""
    return [name for name, s in (("api_key", API_KEY), ("secret", API_SECRET)) if s in text]


def canned_client(
    fake: CannedBinance | None = None, *, keys: bool = True, testnet: bool = False
) -> tuple[Any, CannedBinance]:
    """Return a real ccxt.binanceusdm, configured as v7 builds it, wired to ``fake``."""
    fake = fake or CannedBinance()
    key, secret = (API_KEY, API_SECRET) if keys else ("", "")
    client = build_client("binanceusdm", key, secret, testnet=testnet)
    fake.install(client)
    return client, fake
