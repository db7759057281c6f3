"""The market-data half of the canned Binance USD-M API: exchange info, klines, marks,
funding rates and leverage brackets (public endpoints; ``ccxt_canned.CannedBinance`` adds the
account, orders and fills)."""

from __future__ import annotations

from typing import Any

SERVER_MS = 1_700_000_040_000  # 2023-11-14T22:14:00Z, a minute boundary


def _symbol_info(symbol: str, base: str, tick: str, step: str, notional: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "pair": symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": base,
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": 2,  # deliberately not the tick: ccxt must use the PRICE_FILTER tick
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": ["PoW"],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": tick,
                "maxPrice": "4529764",
                "tickSize": tick,
            },
            {"filterType": "LOT_SIZE", "stepSize": step, "maxQty": "1000", "minQty": step},
            {"filterType": "MARKET_LOT_SIZE", "stepSize": step, "maxQty": "120", "minQty": step},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MIN_NOTIONAL", "notional": notional},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


EXCHANGE_INFO: dict[str, Any] = {
    "timezone": "UTC",
    "serverTime": SERVER_MS,
    "futuresType": "U_MARGINED",
    "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    ],
    "exchangeFilters": [],
    "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
    "symbols": [
        _symbol_info("BTCUSDT", "BTC", "0.10", "0.001", "100"),
        _symbol_info("ETHUSDT", "ETH", "0.01", "0.001", "20"),
    ],
}
MAX_LEVERAGE = {"BTCUSDT": 125, "ETHUSDT": 100}


class CannedMarketData:
    """The public routes' handlers, over the fake's ``marks``, ``klines`` and ``funding``."""

    marks: dict[str, float]
    klines: dict[str, list[list[Any]]]
    funding: dict[str, list[tuple[int, float]]]
    now_ms: int

    def _mark_klines(self, p: dict[str, str]) -> tuple[int, Any]:
        """Mark-price klines: the trade klines with an empty volume (as Binance sends "0")."""
        status, rows = self._klines(p)
        return status, [[*r[:5], "0", *r[6:]] for r in rows]

    def _funding_rate(self, p: dict[str, str]) -> tuple[int, Any]:
        rows = [
            {"symbol": p["symbol"], "fundingTime": t, "fundingRate": f"{rate}", "markPrice": "0"}
            for t, rate in self.funding.get(p["symbol"], [])
            if t >= int(p.get("startTime", 0))
        ]
        return 200, rows[: int(p.get("limit", 100))]

    def _klines(self, p: dict[str, str]) -> tuple[int, Any]:
        rows = self.klines.get(p["symbol"], [])
        limit = int(p.get("limit", 500))
        if "startTime" in p:
            rows = [r for r in rows if r[0] >= int(p["startTime"])]
        if "endTime" in p:
            rows = [r for r in rows if r[0] <= int(p["endTime"])]
        return 200, rows[:limit] if "startTime" in p else rows[-limit:]

    def _premium_index(self, p: dict[str, str]) -> tuple[int, Any]:
        rows = [
            {
                "symbol": s,
                "markPrice": f"{m:.8f}",
                "indexPrice": f"{m * 0.9999:.8f}",
                "estimatedSettlePrice": f"{m:.8f}",
                "lastFundingRate": "0.00010000",
                "interestRate": "0.00010000",
                "nextFundingTime": self.now_ms + 3_600_000,
                "time": self.now_ms,
            }
            for s, m in self.marks.items()
        ]
        if "symbol" in p:
            return 200, next(r for r in rows if r["symbol"] == p["symbol"])
        return 200, rows

    def _brackets(self, p: dict[str, str]) -> tuple[int, Any]:
        return 200, [
            {
                "symbol": s,
                "notionalCoef": 1.0,
                "brackets": [
                    {
                        "bracket": 1,
                        "initialLeverage": lev,
                        "notionalCap": 50_000,
                        "notionalFloor": 0,
                        "maintMarginRatio": 0.004,
                        "cum": 0.0,
                    },  # fmt: skip
                    {
                        "bracket": 2,
                        "initialLeverage": 20,
                        "notionalCap": 600_000,
                        "notionalFloor": 50_000,
                        "maintMarginRatio": 0.005,
                        "cum": 50.0,
                    },  # fmt: skip
                ],
            }
            for s, lev in MAX_LEVERAGE.items()
        ]
