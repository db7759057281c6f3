"""The embedded paper venue: market orders, fees, slippage, net positions, and an account that
survives a restart the way a real exchange's would.

Orders without a ``trigger_price`` fill at the next bar's open of their symbol (with slippage);
orders with one fill at that level at once. Funding, margin and liquidation: paper_perps. A
:class:`FaultPlan` injects a real venue's failures (timeouts after accept, 429, 5xx, rejections,
partial fills) for tests.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from execution.clock import Clock
from execution.config import EngineConfig
from execution.market.perp_series import PerpData
from execution.perps.funding import FundingPayment
from execution.perps.margin import PositionRisk
from execution.rounding import step_decimals
from execution.state_io import write_json_atomic
from execution.types import (
    Bar,
    BarTuple,
    ExchangePosition,
    Fill,
    MarketRules,
    OrderAck,
    OrderRequest,
    Side,
)
from execution.venues.base import OrderEnd, OrderRejected, TransientExchangeError
from execution.venues.paper_account import (
    FaultPlan,
    PaperAccount,
    Pending,
    Position,
    account_from_dict,
    account_to_dict,
    end_order,
    fill_of,
    initial_margin_used,
    is_multiple,
    liquidation_fill,
    net_into,
    prune_orders,
    read_account,
    split_in_two,
    unrealized,
)
from execution.venues.paper_perps import PaperPerps, PerpSettings
from execution.venues.paper_quiet import PaperQuietBars

log = logging.getLogger(__name__)
_NO_FILLS: tuple[Fill, ...] = ()  # what poll_fills returns on nearly every loop

ORDER_HISTORY_LIMIT = 10_000  # closed orders kept for find_order / duplicate checks


class PaperExchange(PaperQuietBars):
    """A simulated USD-margined perpetuals venue with net (one-way) positions."""

    name = "paper"

    def __init__(
        self,
        rules: dict[str, MarketRules],
        starting_balance: float,
        taker_fee_bps: float,
        slippage_bps: float,
        clock: Clock,
        leverage: float = 10.0,
        faults: FaultPlan | None = None,
        perps: PerpSettings | None = None,
    ) -> None:
        self._rules = dict(rules)
        self._fee_rate = taker_fee_bps / 1e4
        self._slip = slippage_bps / 1e4
        self._clock = clock
        self.leverage = leverage
        self.perps = PaperPerps(perps or PerpSettings(leverage=leverage))
        self._account = PaperAccount(starting_balance, starting_balance)
        self.perps.set_data({}, self._account)  # the 00/08/16 schedule, without any series
        self._faults = faults.draws() if faults else None
        self.faults_injected: dict[str, int] = {}
        self.load_status = "fresh"

    @classmethod
    def from_config(
        cls,
        cfg: EngineConfig,
        clock: Clock,
        faults: FaultPlan | None = None,
        state_path: str | Path | None = None,
    ) -> PaperExchange:
        """Build the venue from config; with ``state_path``, resume the saved account."""
        ex = cfg.exchange
        rules = {
            s.symbol: MarketRules(
                symbol=s.symbol,
                min_notional=ex.default_min_notional if s.min_notional is None else s.min_notional,
                qty_step=s.qty_step or ex.default_qty_step,
                price_tick=s.price_tick or ex.default_price_tick,
            )
            for s in cfg.universe
        }
        pc = cfg.perps
        settings = PerpSettings(
            pc.leverage, {s.symbol: s.leverage for s in cfg.universe if s.leverage is not None},
            pc.margin_mode, pc.liquidation, pc.liquidation_fee_bps, pc.default_funding_rate,
        )  # fmt: skip
        venue = cls(
            rules, ex.starting_balance, ex.taker_fee_bps, ex.slippage_bps, clock, pc.leverage,
            faults=faults, perps=settings,
        )  # fmt: skip
        if state_path is not None:
            venue.load(state_path)
        return venue

    def market_rules(self, symbol: str) -> MarketRules:
        """Return the trading rules of ``symbol``; raise OrderRejected if it is unknown."""
        rules = self._rules.get(symbol)
        if rules is None:
            raise OrderRejected("unknown symbol")
        return rules

    def find_order(self, client_order_id: str) -> OrderAck | None:
        """Return the accepted order with this client id and its current status, if any."""
        return self._account.orders.get(client_order_id)

    def poll_fills(self) -> Sequence[Fill]:
        """Return and clear the fills since the last call, oldest first."""
        fills = self._account.fills
        if not fills:
            return _NO_FILLS
        self._account.fills = []
        return fills

    def poll_order_ends(self) -> Sequence[OrderEnd]:
        """Return and clear the orders ended without a fill since the last call, oldest first."""
        ends, self._account.order_ends = self._account.order_ends, []
        return ends

    def positions(self) -> dict[str, ExchangePosition]:
        """Return open positions by symbol, marked at the last close seen."""
        return {
            sym: ExchangePosition(
                symbol=sym,
                side=Side.LONG if p.qty > 0 else Side.SHORT,
                qty=abs(p.qty),
                entry_price=p.entry,
                mark_price=self._account.last_prices.get(sym, p.entry),
            )
            for sym, p in self._account.positions.items()
        }

    def poll_funding(self) -> Sequence[FundingPayment]:
        """Return and clear the funding payments settled since the last call, oldest first."""
        paid = self._account.funding
        if paid:  # (an empty list is returned as is: no allocation on the loops without any)
            self._account.funding = []
        return paid

    def set_perp_data(self, data: Mapping[str, PerpData]) -> None:
        """Take the replay's mark and funding series (settlements before now are not paid)."""
        self.perps.set_data(data, self._account)

    def position_risk(self) -> dict[str, PositionRisk]:
        """Return each open position's leverage, margin and liquidation price."""
        return {
            sym: self.perps.risk(sym, p, self._account, self._venue_cap(sym))
            for sym, p in self._account.positions.items()
        }

    def balance(self) -> float:
        """Return the wallet balance: starting balance + realized PnL - fees."""
        return self._account.balance

    def unrealized_pnl(self) -> float:
        """Return the open positions' PnL at the last close seen."""
        return unrealized(self._account)

    def equity(self) -> float:
        """Return balance plus unrealized PnL."""
        return self._account.balance + unrealized(self._account)

    def available_balance(self) -> float:
        """Return equity minus the initial margin of positions and pending entry orders."""
        return self.equity() - initial_margin_used(self._account, self._leverage)

    def _venue_cap(self, symbol: str) -> float:
        return self._rules[symbol].max_leverage if symbol in self._rules else math.inf

    def _leverage(self, symbol: str, notional: float = 0.0) -> float:
        return self.perps.leverage(symbol, notional, self._venue_cap(symbol))

    def place_order(self, req: OrderRequest) -> OrderAck:
        """Accept a market order, or raise OrderRejected / TransientExchangeError."""
        fault = self._draw_fault()
        if fault in ("rate_limit", "server_error", "reject"):
            self._count_fault(fault)
            if fault == "reject":
                raise OrderRejected("rejected by fault plan")
            raise TransientExchangeError(
                "429 rate limit" if fault == "rate_limit" else "503 server error"
            )
        req = self._validate(req)
        ack = self._accept(req, split=fault == "partial_fill")
        if fault == "timeout_after_accept":
            self._count_fault(fault)
            raise TransientExchangeError("timeout")
        return ack

    def _validate(self, req: OrderRequest) -> OrderRequest:
        """Return the order to accept (reduce-only clamped), or raise OrderRejected."""
        rules = self.market_rules(req.symbol)
        if req.side not in ("buy", "sell"):
            raise OrderRejected("invalid side")
        if not req.qty > 0 or not math.isfinite(req.qty):
            raise OrderRejected("qty must be positive")
        if not is_multiple(req.qty, rules.qty_step):
            raise OrderRejected("qty not a multiple of qty_step")
        if req.trigger_price is not None and not req.trigger_price > 0:
            raise OrderRejected("invalid trigger price")
        if req.client_order_id in self._account.orders:
            raise OrderRejected("duplicate client order id")
        if req.reduce_only:
            reducible = self._reducible(req)
            if reducible <= 0:
                raise OrderRejected("reduce_only would not reduce")
            return replace(req, qty=reducible) if req.qty > reducible else req
        price = req.trigger_price or self._account.last_prices.get(req.symbol)
        if price is not None:  # no price seen yet: accept, it waits for the first bar
            if req.qty * price < rules.min_notional:
                raise OrderRejected("notional below min_notional")
            self._check_margin(req, price)
        return req

    def _reducible(self, req: OrderRequest) -> float:
        """Return how much of the position ``req`` can close (0 if it would not reduce)."""
        pos = self._account.positions.get(req.symbol)
        direction = 1 if req.side == "buy" else -1
        if pos is None or pos.qty * direction > 0:
            return 0.0
        return abs(pos.qty)

    def _check_margin(self, req: OrderRequest, price: float) -> None:
        pos = self._account.positions.get(req.symbol)
        direction = 1 if req.side == "buy" else -1
        adding = req.qty
        if pos is not None and pos.qty * direction < 0:
            adding = max(0.0, req.qty - abs(pos.qty))
        if adding > 0 and adding * price / self._leverage(req.symbol) > self.available_balance():
            raise OrderRejected("insufficient_funds")

    def _accept(self, req: OrderRequest, split: bool) -> OrderAck:
        chunks = [req.qty]
        if split:
            chunks = split_in_two(req.qty, self._rules[req.symbol].qty_step)
            if len(chunks) == 2:
                self._count_fault("partial_fill")
        account = self._account
        account.order_seq += 1
        now = self._clock.now()
        pending = Pending(req, chunks)
        if req.trigger_price is not None:
            chunk = chunks.pop(0)
            pending.filled += self._fill(req, chunk, req.trigger_price, now, not chunks)
        status = "open" if chunks else "filled"
        ack = OrderAck(req.client_order_id, f"paper-{account.order_seq}", status, now)
        account.orders[req.client_order_id] = ack
        if chunks:
            account.pending.append(pending)
        prune_orders(account.orders, ORDER_HISTORY_LIMIT)
        return ack

    def on_bars(self, symbols: Sequence[str], bars: Sequence[BarTuple]) -> bool:
        """:meth:`on_bar` for each ``(idx, ts, open, high, low, close, volume)`` bar of a loop;
        return whether there are fills, funding payments or order ends to poll.

        The replay's hot path: with nothing pending a bar only marks its symbol. Funding due by
        the loop's time is settled first, on the positions held before its fills.
        """
        account = self._account
        if bars and bars[0][1] >= self.perps.next_funding:
            self.perps.settle(account, bars[0][1])
        if account.pending:  # fills at the opens, marks at the closes
            for b in bars:
                self._on_price_bar(symbols[b[0]], b[1], b[2], b[5])
        else:
            last, rules = account.last_prices, self._rules
            for b in bars:
                symbol = symbols[b[0]]
                if symbol in rules:
                    last[symbol] = b[5]
        if account.positions and self.perps.settings.liquidation:
            for symbol, pos, price, ts in self.perps.liquidations(
                account, symbols, bars, self._venue_cap
            ):
                self._liquidate(symbol, pos, price, ts)
        return bool(account.fills or account.funding or account.order_ends)

    def on_bar(self, bar: Bar) -> None:
        """Fill the symbol's pending orders at the bar's open, then mark it at the close."""
        self._on_price_bar(bar.symbol, bar.ts, bar.open, bar.close)

    def _on_price_bar(self, symbol: str, ts: float, bar_open: float, close: float) -> None:
        if symbol not in self._rules:
            return
        still: list[Pending] = []
        for pend in self._account.pending:
            if pend.req.symbol != symbol:
                still.append(pend)
                continue
            chunk = pend.chunks.pop(0)  # the last chunk completes the order
            filled = self._fill(pend.req, chunk, bar_open, ts, not pend.chunks)
            pend.filled += filled
            if pend.chunks:
                still.append(pend)
            else:
                end_order(self._account, pend, ts, filled)
        self._account.pending = still
        self._account.last_prices[symbol] = close

    def _fill(
        self, req: OrderRequest, qty: float, price: float, ts: float, completes: bool
    ) -> float:
        """Execute ``qty`` of ``req`` at ``price`` plus slippage; return the qty filled."""
        if req.reduce_only:  # the position may have shrunk since the order was accepted
            qty = min(qty, self._reducible(req))
            if qty <= 0:
                return 0.0
        price = price * (1 + self._slip) if req.side == "buy" else price * (1 - self._slip)
        realized = self._net(req.symbol, req.side, qty, price, req.sl)
        fee = qty * price * self._fee_rate
        self._account.balance += realized - fee
        self._account.fill_seq += 1
        self._account.fills.append(fill_of(req, qty, price, fee, ts, realized, completes))
        return qty

    def _net(
        self, symbol: str, side: str, qty: float, price: float, sl: float | None = None
    ) -> float:
        """Net ``qty`` at ``price`` into the symbol's position; return the realized PnL."""
        rules = self._rules.get(symbol)
        digits = step_decimals(rules.qty_step) if rules else 12
        signed = qty if side == "buy" else -qty
        return net_into(self._account.positions, symbol, signed, price, digits, sl)

    def _liquidate(self, symbol: str, pos: Position, price: float, ts: float) -> None:
        """Close the whole position at ``price`` with the liquidation fee."""
        qty = abs(pos.qty)
        side = "sell" if pos.qty > 0 else "buy"
        self._account.fill_seq += 1
        cid = f"liq-{symbol}-{self._account.fill_seq}"
        realized = self._net(symbol, side, qty, price)
        fee = qty * price * self.perps.liquidation_fee_rate
        self._account.balance += realized - fee
        self._account.fills.append(
            liquidation_fill(cid, symbol, side, qty, price, fee, ts, realized)
        )

    def _draw_fault(self) -> str:
        return next(self._faults) if self._faults is not None else "ok"

    def _count_fault(self, kind: str) -> None:
        self.faults_injected[kind] = self.faults_injected.get(kind, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        """Return the whole account as a JSON-ready dict (see :meth:`restore`)."""
        return account_to_dict(self._account, self._clock.now())

    def resume(self, data: dict[str, Any]) -> PaperExchange:
        """Take over the account in ``data`` (:meth:`to_dict` output); raise KeyError/TypeError/
        ValueError if it is malformed. Return self."""
        self._load_account(account_from_dict(data))
        self.load_status = "ok"
        return self

    def _load_account(self, account: PaperAccount) -> None:
        self._account = account
        self.perps.set_data(self.perps.data, account)  # the funding cursor came with it

    @classmethod
    def restore(
        cls, data: dict[str, Any], rules: dict[str, MarketRules], starting_balance: float,
        taker_fee_bps: float, slippage_bps: float, clock: Clock, leverage: float = 10.0,
        faults: FaultPlan | None = None,
    ) -> PaperExchange:  # fmt: skip
        """Rebuild an account from :meth:`to_dict` output (its balances win over the args)."""
        venue = cls(rules, starting_balance, taker_fee_bps, slippage_bps, clock, leverage, faults)
        return venue.resume(data)

    def save(self, path: str | Path) -> None:
        """Write the account atomically to ``path`` (its order history as it keeps it encoded)."""
        write_json_atomic(path, self.to_dict())

    def load(self, path: str | Path) -> str:
        """Resume the account saved at ``path``; return and keep the outcome in ``load_status``.

        A missing file leaves this (fresh) account as is. A corrupt one is moved aside to
        ``<path>.corrupt`` so the next save cannot destroy the evidence, and the account starts
        fresh with a warning.
        """
        account, self.load_status = read_account(path)
        if account is not None:
            self._load_account(account)
        return self.load_status
