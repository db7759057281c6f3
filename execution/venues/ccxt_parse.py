"""Pure conversions from ccxt's unified structures to ours (no I/O, no client).

Quantities: the engine counts base units (BTC); ccxt counts contracts on contract markets.
``contractSize`` converts (it is 1 on Binance USD-M, 0.01 BTC or so on some venues).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import ccxt

from execution.types import Bar, ExchangePosition, Fill, MarketRules, OrderRequest, Side

Market = Mapping[str, Any]


def contract_size(market: Market) -> float:
    """Return base units per contract."""
    return float(market.get("contractSize") or 1.0)


def precision_step(market: Market, key: str, precision_mode: int) -> float | None:
    """Return the grid step of ``precision[key]`` ("amount"/"price") in the market's units."""
    value = (market.get("precision") or {}).get(key)
    if value is None:
        return None
    if precision_mode == ccxt.TICK_SIZE:  # Binance and most venues: the step itself
        return float(value)
    if precision_mode == ccxt.DECIMAL_PLACES:
        return 10.0 ** -int(value)
    return None  # significant digits: there is no fixed step


def _notional_filter(market: Market) -> float | None:
    for f in (market.get("info") or {}).get("filters") or []:
        if f.get("filterType") in ("MIN_NOTIONAL", "NOTIONAL"):
            value = f.get("notional") or f.get("minNotional")
            return float(value) if value is not None else None
    return None


def rules_from_market(
    symbol: str, market: Market, precision_mode: int, max_leverage: float | None = None
) -> MarketRules:
    """Return our MarketRules from a loaded ccxt market; unknown fields keep their defaults."""
    limits = market.get("limits") or {}
    step = precision_step(market, "amount", precision_mode)
    tick = precision_step(market, "price", precision_mode)
    min_cost = (limits.get("cost") or {}).get("min")
    if min_cost is None:
        min_cost = _notional_filter(market)
    leverage = max_leverage or (limits.get("leverage") or {}).get("max")
    default = MarketRules(symbol)
    return MarketRules(
        symbol=symbol,
        min_notional=float(min_cost) if min_cost is not None else default.min_notional,
        qty_step=step * contract_size(market) if step else default.qty_step,
        price_tick=tick or default.price_tick,
        max_leverage=float(leverage) if leverage else default.max_leverage,
    )


def find_swap_market(
    markets: Mapping[str, Any], markets_by_id: Mapping[str, Any], symbol: str
) -> Any | None:
    """Return the market for a unified symbol or an exchange id; ids resolve to the linear swap."""
    if symbol in markets:
        return markets[symbol]
    for m in markets_by_id.get(symbol, []):
        if m.get("swap") and m.get("linear"):
            return m
    return None


def max_leverage_by_symbol(tiers: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, float]:
    """Return each unified symbol's highest leverage from ccxt leverage tiers."""
    out: dict[str, float] = {}
    for usym, rows in tiers.items():
        levels = [float(r["maxLeverage"]) for r in rows if r.get("maxLeverage")]
        if levels:
            out[usym] = max(levels)
    return out


def position_from_ccxt(p: Mapping[str, Any], market: Market) -> ExchangePosition | None:
    """Return our position for a ccxt position, or None when it is flat."""
    contracts = abs(float(p.get("contracts") or 0.0))
    if contracts == 0.0:
        return None
    return ExchangePosition(
        symbol=str(market["id"]),
        side=Side.LONG if p.get("side") == "long" else Side.SHORT,
        qty=round(contracts * contract_size(market), 12),
        entry_price=float(p.get("entryPrice") or 0.0),
        mark_price=float(p.get("markPrice") or 0.0),
    )


def bars_from_ohlcv(symbol: str, rows: Iterable[Sequence[Any]], last_open: float) -> list[Bar]:
    """Return Bars (epoch seconds) from ccxt OHLCV rows opened at or before ``last_open``."""
    return [
        Bar(symbol, r[0] / 1e3, float(r[1]), float(r[2]), float(r[3]), float(r[4]),
            float(r[5] or 0.0))
        for r in rows
        if None not in r[:5] and r[0] / 1e3 <= last_open
    ]  # fmt: skip


def fee_in_settle(trade: Mapping[str, Any], market: Market) -> float:
    """Return a trade's fee in the settle currency (fees paid in another coin: taker estimate)."""
    fee = trade.get("fee") or {}
    if fee.get("cost") is None:
        return 0.0
    if fee.get("currency") in (market.get("settle"), market.get("quote")):
        return float(fee["cost"])
    notional = float(trade["amount"]) * contract_size(market) * float(trade["price"])
    return notional * float(market.get("taker") or 0.0)


def fill_from_trades(
    req: OrderRequest, trades: Sequence[Mapping[str, Any]], market: Market
) -> Fill:
    """Return one Fill for some trades of one order: summed qty and fee, volume-weighted price."""
    size = contract_size(market)
    qty = sum(float(t["amount"]) for t in trades) * size
    cost = sum(float(t["amount"]) * float(t["price"]) for t in trades) * size
    fee = sum(fee_in_settle(t, market) for t in trades)
    pnl = sum(float((t.get("info") or {}).get("realizedPnl") or 0.0) for t in trades)
    ts = max(float(t.get("timestamp") or 0.0) for t in trades) / 1e3
    return make_fill(req, round(qty, 12), cost / qty, fee, ts, pnl)


def make_fill(
    req: OrderRequest, qty: float, price: float, fee: float, ts: float, pnl: float = 0.0
) -> Fill:
    """Return the Fill of ``req`` (kind, intent and exit kind carried over from the request)."""
    return Fill(
        req.client_order_id, req.symbol, req.side, qty, price, fee, ts, req.kind,
        req.reduce_only, req.intent_id, req.exit_kind, pnl, req.ref_price, req.tp, req.sl,
    )  # fmt: skip


def closing_trades(
    trades: Sequence[Mapping[str, Any]], side: Side, qty: float, since_ms: float, market: Market
) -> list[Mapping[str, Any]] | None:
    """The newest trades on ``side``'s closing side since ``since_ms`` that sum to ``qty`` (base
    units): how a position the engine saw disappear was closed. None when they do not account
    for exactly that size (too few, or the last one overshoots: a flip, or trades of another
    position), so no price is guessed.
    """
    closing = side.opposite.order_side
    size, total = contract_size(market), 0.0
    picked: list[Mapping[str, Any]] = []
    # Venues list trades oldest first: of two in the same millisecond the later one is newer.
    newest_first = sorted(trades, key=lambda t: float(t.get("timestamp") or 0.0))[::-1]
    for trade in newest_first:
        if trade.get("side") != closing or float(trade.get("timestamp") or 0.0) < since_ms:
            continue
        picked.append(trade)
        total += float(trade["amount"]) * size
        if total >= qty * (1 - 1e-9):
            break
    if not picked or abs(total - qty) > qty * 1e-9:
        return None
    return picked[::-1]
