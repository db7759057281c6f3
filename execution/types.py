"""Frozen messages passed between pipeline stages (screener -> risk -> router -> ledger -> exits)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"

    sign: int  # +1 long, -1 short: a plain member attribute (set below), read on every bar

    @property
    def opposite(self) -> Side:
        return Side.SHORT if self is Side.LONG else Side.LONG

    @property
    def order_side(self) -> str:
        """The exchange order side that opens a position of this side."""
        return "buy" if self is Side.LONG else "sell"


Side.LONG.sign = 1
Side.SHORT.sign = -1


class OrderKind(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"


class ExitKind(StrEnum):
    TP = "tp"
    SL = "sl"
    SIGNAL = "signal"  # closed because the strategy reversed
    EXTERNAL = "external_close"
    LIQUIDATION = "liquidation"  # the venue closed it: the mark crossed the liquidation price


# One bar as the hot loop carries it: (symbol index, ts, open, high, low, close, volume).
BarTuple = tuple[int, float, float, float, float, float, float]


class Bar(NamedTuple):
    """One OHLCV bar; ts is epoch seconds (UTC) of the bar's open.

    A NamedTuple rather than a frozen dataclass: the replay builds one per bar, and a tuple is
    much cheaper to build.
    """

    symbol: str
    ts: float
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0


@dataclass(frozen=True, slots=True)
class Intent:
    """An entry signal emitted by the screener; risk decides whether it becomes an order."""

    intent_id: str
    symbol: str
    side: Side
    notional: float  # quote currency (USDT) at ref_price
    ref_price: float
    tp: float
    sl: float
    ts: float  # engine-clock epoch seconds
    strategy: str = "ema_cross_atr"


class VetoReason(StrEnum):
    """Why risk refused an entry: a closed set, so metric labels stay bounded (docs/risk_vetoes.md)."""

    TRADING_HALTED = "trading_halted"
    TIER_BLOCK = "tier_block"
    STALE_MARK = "stale_mark"
    COOLDOWN = "cooldown"
    MIN_NOTIONAL = "min_notional"
    PER_TRADE_NAV_PCT = "per_trade_nav_pct"
    MAX_CONCURRENT = "max_concurrent"
    SYMBOL_CAP = "symbol_cap"
    PORTFOLIO_DD_CIRCUIT = "portfolio_dd_circuit"
    VAR_LIMIT = "var_limit"
    CVAR_LIMIT = "cvar_limit"


@dataclass(frozen=True, slots=True)
class VetoResult:
    """The decision of risk_limits.check_order: the first failing check wins."""

    vetoed: bool
    reason: VetoReason | None = None
    observed: float | None = None
    limit: float | None = None
    detail: str = ""
    also_failed: tuple[VetoReason, ...] = ()

    def describe(self) -> str:
        if not self.vetoed:
            return "ok"
        if self.observed is not None and self.limit is not None:
            # min_notional fails below its floor; every other check fails above its limit.
            op = "<" if self.observed < self.limit else ">=" if self.observed == self.limit else ">"
            return f"{self.reason}: {self.observed:.4g} {op} {self.limit:.4g}"
        return f"{self.reason}: {self.detail}" if self.detail else str(self.reason)


@dataclass(frozen=True, slots=True)
class MarketRules:
    """Exchange trading rules for one symbol."""

    symbol: str
    min_notional: float = 5.0
    qty_step: float = 0.001
    price_tick: float = 0.01
    max_leverage: float = 20.0


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A market order as the router sends it.

    ``trigger_price``: for the paper exchange, an exit triggered at a level fills at that price
    (a stop-market at the level); ``None`` means "fill at the next price the exchange sees"
    (replay: the next bar's open). Live adapters ignore it and send a market order.
    """

    client_order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    qty: float
    kind: OrderKind
    reduce_only: bool = False
    trigger_price: float | None = None
    intent_id: str | None = None
    exit_kind: ExitKind | None = None
    ts: float = 0.0
    # An entry carries its protection (the intent's reference price and TP/SL levels), so its
    # fill registers TP/SL even when the intent itself is no longer remembered.
    ref_price: float | None = None
    tp: float | None = None
    sl: float | None = None


@dataclass(frozen=True, slots=True)
class OrderAck:
    """The exchange accepted an order (it may fill now or later)."""

    client_order_id: str
    exchange_order_id: str
    status: str  # "open" | "filled"
    ts: float


@dataclass(frozen=True, slots=True)
class Fill:
    client_order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    qty: float
    price: float
    fee: float
    ts: float
    kind: OrderKind
    reduce_only: bool = False
    intent_id: str | None = None
    exit_kind: ExitKind | None = None
    realized_pnl: float = 0.0
    ref_price: float | None = None  # the entry order's protection, carried over (OrderRequest)
    tp: float | None = None
    sl: float | None = None
    # The venue's word on whether this fill completes its order (the journal's "filled" vs
    # "partially_filled"); None when the venue cannot tell.
    order_done: bool | None = None


@dataclass(frozen=True, slots=True)
class ExchangePosition:
    symbol: str
    side: Side
    qty: float
    entry_price: float
    mark_price: float = 0.0


@dataclass(frozen=True, slots=True)
class ExitIntent:
    """A reduce-only exit decided by the exit scanner (or a strategy reversal)."""

    symbol: str
    side: Side  # side of the position being closed
    qty: float
    price: float  # the documented fill price (level, or the bar's open when it gapped through)
    kind: ExitKind
    ts: float
    level: float | None = None


@dataclass(slots=True)
class RejectCounts:
    """Bad bars rejected, per symbol and reason."""

    by_symbol: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, symbol: str, reason: str, n: int = 1) -> None:
        if n <= 0:
            return
        per = self.by_symbol.setdefault(symbol, {})
        per[reason] = per.get(reason, 0) + n

    @property
    def total(self) -> int:
        return sum(sum(v.values()) for v in self.by_symbol.values())
