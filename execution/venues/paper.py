"""The embedded paper venue: market orders, fees, slippage, net positions, and an account that
survives a restart the way a real exchange's would.

Orders without a ``trigger_price`` fill at the next bar's open of their symbol (with slippage);
orders with one fill at that level at once. A :class:`FaultPlan` injects the failures a real
venue produces (timeouts after accept, 429, 5xx, rejections, partial fills) for tests.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from execution.clock import Clock
from execution.config import EngineConfig
from execution.rounding import step_decimals
from execution.state_io import read_json_defensive, write_json_atomic
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
from execution.venues.base import OrderRejected, TransientExchangeError, feed_bars
from execution.venues.paper_account import (
    FaultPlan,
    PaperAccount,
    Pending,
    Position,
    account_from_dict,
    account_to_dict,
    is_multiple,
)

log = logging.getLogger(__name__)
_NO_FILLS: tuple[Fill, ...] = ()  # what poll_fills returns on nearly every loop

ORDER_HISTORY_LIMIT = 10_000  # closed orders kept for find_order / duplicate checks


class PaperExchange:
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
    ) -> None:
        self._rules = dict(rules)
        self._fee_rate = taker_fee_bps / 1e4
        self._slip = slippage_bps / 1e4
        self._clock = clock
        self.leverage = leverage
        self._account = PaperAccount(starting_balance, starting_balance)
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
        venue = cls(
            rules, ex.starting_balance, ex.taker_fee_bps, ex.slippage_bps, clock, faults=faults
        )
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

    def balance(self) -> float:
        """Return the wallet balance: starting balance + realized PnL - fees."""
        return self._account.balance

    def unrealized_pnl(self) -> float:
        """Return the open positions' PnL at the last close seen."""
        marks = self._account.last_prices
        total: float = 0  # (sum() over a generator, written out: this runs on every order)
        for s, p in self._account.positions.items():
            total += (marks.get(s, p.entry) - p.entry) * p.qty
        return total

    def equity(self) -> float:
        """Return balance plus unrealized PnL."""
        return self._account.balance + self.unrealized_pnl()

    def available_balance(self) -> float:
        """Return equity minus the initial margin of positions and pending entry orders."""
        used = 0.0
        for sym, p in self._account.positions.items():
            mark = self._account.last_prices.get(sym, p.entry)
            used += abs(p.qty) * mark / self._leverage(sym)
        for pend in self._account.pending:
            price = self._account.last_prices.get(pend.req.symbol)
            if not pend.req.reduce_only and price is not None:
                used += sum(pend.chunks) * price / self._leverage(pend.req.symbol)
        return self.equity() - used

    def _leverage(self, symbol: str) -> float:
        rules = self._rules.get(symbol)
        return min(self.leverage, rules.max_leverage) if rules else self.leverage

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
        step = self._rules[req.symbol].qty_step
        chunks = [req.qty]
        if split:
            first = max(
                step, round(math.floor(req.qty / step / 2 + 1e-9) * step, step_decimals(step))
            )
            rest = round(req.qty - first, step_decimals(step))
            if rest > 0:
                chunks = [first, rest]
                self._count_fault("partial_fill")
        account = self._account
        account.order_seq += 1
        now = self._clock.now()
        pending = Pending(req, chunks)
        if req.trigger_price is not None:
            pending.filled += self._fill(req, chunks.pop(0), req.trigger_price, now)
        status = "open" if chunks else "filled"
        ack = OrderAck(req.client_order_id, f"paper-{account.order_seq}", status, now)
        account.orders[req.client_order_id] = ack
        if chunks:
            account.pending.append(pending)
        self._prune_orders()
        return ack

    def _prune_orders(self) -> None:
        orders = self._account.orders
        excess = len(orders) - ORDER_HISTORY_LIMIT
        if excess <= 0:
            return
        # Oldest first (dicts keep insertion order) and nearly all closed: stop at `excess`,
        # so a long replay pays O(1) per order instead of a scan of the whole history.
        closed: list[str] = []
        for cid, ack in orders.items():
            if ack.status != "open":
                closed.append(cid)
                if len(closed) == excess:
                    break
        for cid in closed:
            del orders[cid]

    def on_bars(self, symbols: Sequence[str], bars: Iterable[BarTuple]) -> None:
        """:meth:`on_bar` for each ``(idx, ts, open, high, low, close, volume)`` bar of a loop.

        The replay's hot path: with nothing pending a bar only marks its symbol.
        """
        if self._account.pending:
            feed_bars(self.on_bar, symbols, bars)
            return
        last, rules = self._account.last_prices, self._rules
        for b in bars:
            symbol = symbols[b[0]]
            if symbol in rules:
                last[symbol] = b[5]

    def on_bar(self, bar: Bar) -> None:
        """Fill the symbol's pending orders at the bar's open, then mark it at the close."""
        if bar.symbol not in self._rules:
            return
        still: list[Pending] = []
        for pend in self._account.pending:
            if pend.req.symbol != bar.symbol:
                still.append(pend)
                continue
            pend.filled += self._fill(pend.req, pend.chunks.pop(0), bar.open, bar.ts)
            if pend.chunks:
                still.append(pend)
            else:
                status = "filled" if pend.filled > 0 else "canceled"
                cid = pend.req.client_order_id
                ack = self._account.orders.get(cid)
                if ack is not None:  # built directly: dataclasses.replace is slow per fill
                    self._account.orders[cid] = OrderAck(
                        ack.client_order_id, ack.exchange_order_id, status, ack.ts
                    )
        self._account.pending = still
        self._account.last_prices[bar.symbol] = bar.close

    def _fill(self, req: OrderRequest, qty: float, price: float, ts: float) -> float:
        """Execute ``qty`` of ``req`` at ``price`` plus slippage; return the qty filled."""
        if req.reduce_only:  # the position may have shrunk since the order was accepted
            qty = min(qty, self._reducible(req))
            if qty <= 0:
                return 0.0
        price = price * (1 + self._slip) if req.side == "buy" else price * (1 - self._slip)
        realized = self._apply_to_position(req.symbol, req.side, qty, price)
        fee = qty * price * self._fee_rate
        self._account.balance += realized - fee
        self._account.fill_seq += 1
        self._account.fills.append(
            Fill(
                client_order_id=req.client_order_id,
                symbol=req.symbol,
                side=req.side,
                qty=qty,
                price=price,
                fee=fee,
                ts=ts,
                kind=req.kind,
                reduce_only=req.reduce_only,
                intent_id=req.intent_id,
                exit_kind=req.exit_kind,
                realized_pnl=realized,
                ref_price=req.ref_price,
                tp=req.tp,
                sl=req.sl,
            )
        )
        return qty

    def _apply_to_position(self, symbol: str, side: str, qty: float, price: float) -> float:
        """Net ``qty`` at ``price`` into the symbol's position; return the realized PnL."""
        rules = self._rules.get(symbol)
        digits = step_decimals(rules.qty_step) if rules else 12
        direction = 1 if side == "buy" else -1
        positions = self._account.positions
        pos = positions.get(symbol)
        if pos is None or pos.qty * direction > 0:
            held = abs(pos.qty) if pos else 0.0
            entry = (held * (pos.entry if pos else 0.0) + qty * price) / (held + qty)
            positions[symbol] = Position(round(direction * (held + qty), digits), entry)
            return 0.0
        closing = min(qty, abs(pos.qty))
        realized = (price - pos.entry) * closing * (1 if pos.qty > 0 else -1)
        pos.qty = round(pos.qty + direction * closing, digits)
        remainder = round(qty - closing, digits)
        if pos.qty == 0:
            del positions[symbol]
        if remainder > 0:
            positions[symbol] = Position(direction * remainder, price)
        return realized

    def _draw_fault(self) -> str:
        return next(self._faults) if self._faults is not None else "ok"

    def _count_fault(self, kind: str) -> None:
        self.faults_injected[kind] = self.faults_injected.get(kind, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        """Return the whole account as a JSON-ready dict (see :meth:`restore`)."""
        return account_to_dict(self._account, self._clock.now())

    def _load_dict(self, data: dict[str, Any]) -> None:
        """Replace the account with ``data``; raise KeyError/TypeError/ValueError if malformed."""
        self._account = account_from_dict(data)

    @classmethod
    def restore(
        cls,
        data: dict[str, Any],
        rules: dict[str, MarketRules],
        starting_balance: float,
        taker_fee_bps: float,
        slippage_bps: float,
        clock: Clock,
        leverage: float = 10.0,
        faults: FaultPlan | None = None,
    ) -> PaperExchange:
        """Rebuild an account from :meth:`to_dict` output (its balances win over the args)."""
        venue = cls(rules, starting_balance, taker_fee_bps, slippage_bps, clock, leverage, faults)
        venue._load_dict(data)
        venue.load_status = "ok"
        return venue

    def save(self, path: str | Path) -> None:
        """Write the account atomically to ``path``."""
        write_json_atomic(path, self.to_dict())

    def load(self, path: str | Path) -> str:
        """Resume the account saved at ``path``; return and keep the outcome in ``load_status``.

        A missing file leaves this (fresh) account as is. A corrupt one is moved aside to
        ``<path>.corrupt`` so the next save cannot destroy the evidence, and the account starts
        fresh with a warning.
        """
        read = read_json_defensive(path)
        if read.ok:
            try:
                self._load_dict(read.data)
                self.load_status = "ok"
                return self.load_status
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                read = replace(read, status="corrupt", error=f"malformed account: {err!r}")
        self.load_status = read.status
        if read.status != "missing":
            log.warning("paper account %s %s (%s): starting fresh", path, read.status, read.error)
            target = Path(path)
            if target.exists():
                os.replace(target, target.with_name(target.name + ".corrupt"))
        return self.load_status
