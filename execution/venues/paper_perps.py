"""The paper venue's perpetual-futures side: funding settlements, margin, liquidation.

Funding is settled at the times of the data's funding series (or on the 00/08/16 UTC schedule
at ``default_rate`` when a symbol has none) on the positions open at that moment, at the mark
known then. A position is liquidated when its bar's mark range crosses its liquidation price,
unless its stop lies in front of that price and the bar reaches the stop (the stop fills
first); a bar that opens beyond the liquidation price liquidates it whatever its stop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from execution.market.perp_series import (
    FUNDING_INTERVAL_SECONDS,
    PerpData,
    scheduled_funding_times,
)
from execution.perps.funding import FundingPayment, funding_payment
from execution.perps.margin import (
    Bracket,
    PositionRisk,
    effective_leverage,
    liquidation_price,
    maintenance_margin,
    shipped_brackets,
)
from execution.types import BarTuple
from execution.venues.paper_account import PaperAccount, Position


@dataclass(frozen=True, slots=True)
class PerpSettings:
    leverage: float = 10.0
    leverage_by_symbol: Mapping[str, float] | None = None
    margin_mode: str = "isolated"
    liquidation: bool = True
    liquidation_fee_bps: float = 50.0
    default_funding_rate: float | None = None


class PaperPerps:
    """Margin arithmetic and funding schedule for one paper account."""

    def __init__(self, settings: PerpSettings) -> None:
        self.settings = settings
        self.liquidation_fee_rate = settings.liquidation_fee_bps / 1e4
        self.data: dict[str, PerpData] = {}
        self._brackets: dict[str, tuple[Bracket, ...]] = {}
        self.next_funding = math.inf  # the earliest settlement still to do (hot-path check)
        self._liq_cache: dict[str, tuple[tuple[float, float, float], float]] = {}

    # --- margin ---------------------------------------------------------------------------

    def brackets(self, symbol: str) -> tuple[Bracket, ...]:
        b = self._brackets.get(symbol)
        if b is None:
            b = self._brackets[symbol] = shipped_brackets(symbol)
        return b

    def leverage(self, symbol: str, notional: float, venue_cap: float = math.inf) -> float:
        """Return the leverage a position of ``notional`` gets (config, bracket and venue caps)."""
        by_symbol = self.settings.leverage_by_symbol or {}
        wanted = min(by_symbol.get(symbol, self.settings.leverage), venue_cap)
        return effective_leverage(wanted, self.brackets(symbol), notional)

    def risk(
        self, symbol: str, pos: Position, account: PaperAccount, venue_cap: float = math.inf
    ) -> PositionRisk:
        """Return the position's leverage, margin and liquidation price."""
        qty = abs(pos.qty)
        notional = qty * pos.entry
        lev = self.leverage(symbol, notional, venue_cap)
        brackets = self.brackets(symbol)
        mm = maintenance_margin(brackets, notional)
        margin = notional / lev + pos.funding
        if self.settings.margin_mode == "cross":
            margin = self._cross_wallet(symbol, account)
        side = 1 if pos.qty > 0 else -1
        return PositionRisk(
            lev, margin, mm, liquidation_price(side, qty, pos.entry, margin, brackets)
        )

    def _cross_wallet(self, symbol: str, account: PaperAccount) -> float:
        """Cross margin: the wallet less the other positions' maintenance, plus their PnL."""
        wallet = account.balance
        for other, p in account.positions.items():
            if other == symbol:
                continue
            mark = account.last_prices.get(other, p.entry)
            wallet += (mark - p.entry) * p.qty
            wallet -= maintenance_margin(self.brackets(other), abs(p.qty) * p.entry)
        return wallet

    # --- funding --------------------------------------------------------------------------

    def set_data(self, data: Mapping[str, PerpData], account: PaperAccount) -> None:
        self.data = dict(data)
        self._plan_next(account)

    def _plan_next(self, account: PaperAccount) -> None:
        after = account.funding_until if account.funding_until is not None else -math.inf
        nxt = math.inf
        for perp in self.data.values():
            if perp.funding is not None:
                upcoming = perp.funding.between(after, math.inf)
                if upcoming:
                    nxt = min(nxt, upcoming[0][0])
        if self.settings.default_funding_rate is not None:
            step = FUNDING_INTERVAL_SECONDS
            base = after if math.isfinite(after) else 0.0
            nxt = min(nxt, (math.floor(base / step) + 1) * step)
        self.next_funding = nxt

    def _events(self, symbol: str, after: float, upto: float) -> list[tuple[float, float]]:
        perp = self.data.get(symbol)
        if perp is not None and perp.funding is not None:
            return perp.funding.between(after, upto)
        rate = self.settings.default_funding_rate
        if rate is None:
            return []
        start = after if math.isfinite(after) else upto
        return [(t, rate) for t in scheduled_funding_times(start, upto) if t > after]

    def mark_at(self, symbol: str, t: float, account: PaperAccount) -> float | None:
        perp = self.data.get(symbol)
        mark = perp.mark_at(t) if perp is not None else None
        return mark if mark is not None else account.last_prices.get(symbol)

    def settle(self, account: PaperAccount, now: float) -> None:
        """Settle every funding event in ``(funding_until, now]`` on the open positions."""
        after = account.funding_until if account.funding_until is not None else -math.inf
        for symbol, pos in account.positions.items():
            for ts, rate in self._events(symbol, after, now):
                mark = self.mark_at(symbol, ts, account)
                if mark is None:
                    continue
                payment = funding_payment(pos.qty, mark, rate)
                account.balance += payment
                pos.funding += payment
                account.funding.append(FundingPayment(ts, symbol, rate, mark, pos.qty, payment))
        account.funding_until = now
        self._plan_next(account)

    def liquidations(
        self,
        account: PaperAccount,
        symbols: Sequence[str],
        bars: Sequence[BarTuple],
        venue_cap: Callable[[str], float],
    ) -> list[tuple[str, Position, float, float]]:
        """Return (symbol, position, liquidation price, bar ts) of each position this loop's
        bars liquidate."""
        out = []
        positions, data = account.positions, self.data
        for b in bars:
            symbol = symbols[b[0]]
            pos = positions.get(symbol)
            if pos is None:
                continue
            liq = self._liquidation_price(symbol, pos, account, venue_cap)
            marks = self._mark_range(symbol, b) if data else (b[2], b[3], b[4])
            if liquidation_crossed(pos, liq, b[2], b[3], b[4], marks):
                out.append((symbol, pos, liq, b[1]))
        return out

    def liquidation_bounds(
        self, symbol: str, account: PaperAccount, venue_cap: Callable[[str], float]
    ) -> tuple[float, float] | None:
        """The prices a bar of ``symbol`` must stay strictly between for its position not to
        be liquidated (:func:`liquidation_crossed`'s first test: a long's low above its
        liquidation price, a short's high below); None when its marks come from a series or
        its price moves with the account (cross margin)."""
        pos = account.positions.get(symbol)
        if pos is None or not self.settings.liquidation:
            return -math.inf, math.inf
        if self.data.get(symbol) is not None or self.settings.margin_mode == "cross":
            return None
        liq = self._liquidation_price(symbol, pos, account, venue_cap)
        if liq <= 0:
            return -math.inf, math.inf
        return (liq, math.inf) if pos.qty > 0 else (-math.inf, liq)

    def _liquidation_price(
        self, symbol: str, pos: Position, account: PaperAccount, venue_cap: Callable[[str], float]
    ) -> float:
        """The position's liquidation price; isolated, it changes only with the position (the
        replay asks at every bar: it is kept until the size, entry or funding change)."""
        if self.settings.margin_mode == "cross":  # depends on the whole account
            return self.risk(symbol, pos, account, venue_cap(symbol)).liquidation_price
        key = (pos.qty, pos.entry, pos.funding)
        hit = self._liq_cache.get(symbol)
        if hit is not None and hit[0] == key:
            return hit[1]
        liq = self.risk(symbol, pos, account, venue_cap(symbol)).liquidation_price
        self._liq_cache[symbol] = (key, liq)
        return liq

    def _mark_range(self, symbol: str, b: BarTuple) -> tuple[float, float, float]:
        """Return the mark's (open, high, low) over the bar: the mark bar at its time, if any."""
        perp = self.data.get(symbol)
        if perp is None:
            return b[2], b[3], b[4]
        hl = perp.mark_range(b[1])
        m_open = perp.mark_at(b[1])
        if hl is None or m_open is None:
            return b[2], b[3], b[4]
        return m_open, hl[0], hl[1]


def liquidation_crossed(
    pos: Position,
    liq: float,
    bar_open: float,
    bar_high: float,
    bar_low: float,
    mark_range: tuple[float, float, float],
) -> bool:
    """Return True if the bar liquidates the position (see the module docstring).

    ``mark_range`` is the mark's (open, high, low) over the bar; the bar's own prices decide
    whether the stop is reached first.
    """  # fmt: skip
    m_open, m_high, m_low = mark_range
    if liq <= 0:
        return False
    if pos.qty > 0:
        if m_low > liq:
            return False
        stop_first = pos.sl is not None and pos.sl > liq and bar_low <= pos.sl
        return m_open <= liq or not stop_first
    if m_high < liq:
        return False
    stop_first = pos.sl is not None and pos.sl < liq and bar_high >= pos.sl
    return m_open >= liq or not stop_first
