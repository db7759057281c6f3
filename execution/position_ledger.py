"""Position ledger: open positions built from fills (the one owner of "what we hold").

Persisted atomically as positions_ledger.json; on restart the engine reloads it and reconciles
it with the exchange's positions (execution.run.reconcile).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from execution import memory_errors as memory
from execution.clock import from_iso, to_iso
from execution.memory_errors import MemoryCorrupt
from execution.state_io import SCHEMA_VERSION, read_json_defensive, write_json_atomic
from execution.types import Fill, Side

log = logging.getLogger(__name__)

_COMPONENT = "ledger"


@dataclass(slots=True)
class LedgerPosition:
    symbol: str
    side: Side
    qty: float
    entry_price: float
    entry_ts: float
    adopted: bool = False
    entry_fees: float = 0.0  # fees of the entries still open: a close carries its share

    def unrealized_pnl(self, mark: float) -> float:
        return (mark - self.entry_price) * self.qty * self.side.sign

    def unrealized_pnl_pct(self, mark: float) -> float:
        """PnL as a fraction of entry notional (-0.02 is 2% under water)."""
        if self.entry_price <= 0:
            return 0.0
        return (mark - self.entry_price) / self.entry_price * self.side.sign

    def signed_notional(self, mark: float) -> float:
        return self.qty * mark * self.side.sign


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    symbol: str
    side: Side
    qty: float
    entry_price: float
    exit_price: float
    realized_pnl: float
    reason: str
    ts: float
    entry_ts: float = 0.0
    fees: float = 0.0  # the closing fill's fee plus the closed share of the entry fees


_QTY_EPS = 1e-12


class PositionLedger:
    def __init__(self) -> None:
        self.positions: dict[str, LedgerPosition] = {}
        self.closed_count = 0
        self.realized_pnl = 0.0
        self.fees_paid = 0.0
        self.last_fill_ts: float | None = None
        # Funding received (negative: paid), apart from trading PnL: in total and per open
        # position since it opened.
        self.funding_pnl = 0.0
        self.open_funding: dict[str, float] = {}

    def get_open_positions(self) -> list[LedgerPosition]:
        """Return the open positions (the spec's ledger accessor)."""
        return list(self.positions.values())

    def get(self, symbol: str) -> LedgerPosition | None:
        return self.positions.get(symbol)

    def apply_fill(self, fill: Fill) -> ClosedTrade | None:
        """Update the book with one fill; return the (partly) closed trade when it reduces."""
        self.fees_paid += fill.fee
        self.last_fill_ts = fill.ts
        side = Side.LONG if fill.side == "buy" else Side.SHORT
        pos = self.positions.get(fill.symbol)
        if pos is None:
            self.positions[fill.symbol] = LedgerPosition(
                fill.symbol, side, fill.qty, fill.price, fill.ts, entry_fees=fill.fee
            )
            return None
        if pos.side is side:
            total = pos.qty + fill.qty
            pos.entry_price = (pos.entry_price * pos.qty + fill.price * fill.qty) / total
            pos.qty = total
            pos.entry_fees += fill.fee
            return None
        return self._reduce(pos, fill, side)

    def _reduce(self, pos: LedgerPosition, fill: Fill, fill_side: Side) -> ClosedTrade | None:
        closed_qty = min(pos.qty, fill.qty)
        pnl = (fill.price - pos.entry_price) * closed_qty * pos.side.sign
        self.realized_pnl += pnl
        pos.qty -= closed_qty
        remainder = fill.qty - closed_qty
        reason = fill.exit_kind.value if fill.exit_kind else "reduce"
        entry_share = pos.entry_fees * closed_qty / (pos.qty + closed_qty)
        pos.entry_fees -= entry_share
        exit_share = fill.fee * closed_qty / fill.qty if fill.qty > 0 else fill.fee
        trade = ClosedTrade(
            pos.symbol, pos.side, closed_qty, pos.entry_price, fill.price, pnl, reason, fill.ts,
            pos.entry_ts, entry_share + exit_share,
        )  # fmt: skip
        if pos.qty <= _QTY_EPS * max(1.0, closed_qty):
            del self.positions[pos.symbol]
            self.open_funding.pop(pos.symbol, None)
            self.closed_count += 1
            if remainder > _QTY_EPS:
                self.positions[pos.symbol] = LedgerPosition(
                    pos.symbol, fill_side, remainder, fill.price, fill.ts,
                    entry_fees=fill.fee - exit_share,
                )  # fmt: skip
        return trade

    def apply_funding(self, symbol: str, payment: float) -> None:
        """Book a funding payment (cash to the account) on the symbol's open position."""
        self.funding_pnl += payment
        if symbol in self.positions:
            self.open_funding[symbol] = self.open_funding.get(symbol, 0.0) + payment

    def adopt(self, symbol: str, side: Side, qty: float, entry_price: float, ts: float) -> None:
        """Take over a position found on the exchange that the engine did not open."""
        self.positions[symbol] = LedgerPosition(symbol, side, qty, entry_price, ts, adopted=True)

    def close_external(self, symbol: str) -> LedgerPosition | None:
        """Drop a position that is gone from the exchange (closed outside the engine)."""
        pos = self.positions.pop(symbol, None)
        self.open_funding.pop(symbol, None)
        if pos is not None:
            self.closed_count += 1
        return pos

    # --- persistence -------------------------------------------------------------------------

    def to_dict(self, now: float) -> dict[str, Any]:
        doc = self._doc(now)
        # Written once funding has happened: a run without any keeps the file it always had.
        if self.funding_pnl or self.open_funding:
            doc["funding_pnl"] = self.funding_pnl
            doc["open_funding"] = dict(self.open_funding)
        return doc

    def _doc(self, now: float) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "updated_ts": to_iso(now),
            "positions": {
                s: {**asdict(p), "side": p.side.value, "entry_ts": to_iso(p.entry_ts)}
                for s, p in self.positions.items()
            },
            "closed_count": self.closed_count,
            "realized_pnl": self.realized_pnl,
            "fees_paid": self.fees_paid,
            "last_fill_ts": to_iso(self.last_fill_ts),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PositionLedger:
        """Rebuild a ledger, leaving out (with a warning) what the engine could not have written.

        A position without a finite positive quantity and entry price is dropped, and a
        non-finite total (NaN fees) reads as 0: NaN would spread into every PnL and NAV figure.
        """
        ledger = cls()
        doc = memory.Fields(_COMPONENT, "", data if isinstance(data, dict) else {})
        positions = doc.doc.get("positions")
        for symbol, raw in (positions if isinstance(positions, dict) else {}).items():
            try:
                ledger.positions[symbol] = _position(str(symbol), raw, strict=False)
            except MemoryCorrupt as err:
                log.warning("ledger position left out: %s", err)
        ledger.closed_count = _lenient(lambda: doc.count("closed_count", 0), 0)
        ledger.realized_pnl = _lenient(lambda: doc.number("realized_pnl", default=0.0), 0.0)
        ledger.fees_paid = _lenient(lambda: doc.number("fees_paid", default=0.0), 0.0)
        ledger.last_fill_ts = from_iso(doc.doc.get("last_fill_ts"))
        ledger.funding_pnl = _lenient(lambda: doc.number("funding_pnl", default=0.0), 0.0)
        ledger.open_funding = _funding_by_symbol(doc.doc.get("open_funding"), ledger.positions)
        return ledger

    @classmethod
    def from_memory(cls, data: object) -> PositionLedger:
        """Rebuild the ledger the engine saved; raise :class:`MemoryCorrupt` on any bad value."""
        doc = memory.Fields(_COMPONENT, "", data)
        ledger = cls()
        for symbol, raw in memory.mapping(_COMPONENT, "positions", doc.value("positions")).items():
            ledger.positions[symbol] = _position(symbol, raw, strict=True)
        ledger.closed_count = doc.count("closed_count")
        ledger.realized_pnl = doc.number("realized_pnl")
        ledger.fees_paid = doc.number("fees_paid")
        ledger.last_fill_ts = doc.timestamp("last_fill_ts", optional=True)
        ledger.funding_pnl = doc.number("funding_pnl", default=0.0)
        ledger.open_funding = _funding_by_symbol(doc.doc.get("open_funding"), ledger.positions)
        return ledger

    def save(self, path: str | Path, now: float) -> None:
        write_json_atomic(path, self.to_dict(now))

    @classmethod
    def load(cls, path: str | Path) -> PositionLedger:
        return cls.from_dict(read_json_defensive(path).data)


def _funding_by_symbol(raw: object, positions: dict[str, LedgerPosition]) -> dict[str, float]:
    """Return the finite funding amounts of open positions in ``raw`` (others left out)."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, float] = {}
    for sym, v in raw.items():
        if sym in positions and isinstance(v, int | float) and math.isfinite(v):
            out[sym] = float(v)
    return out


def _lenient(read: Callable[[], Any], default: Any) -> Any:
    try:
        return read()
    except MemoryCorrupt as err:
        log.warning("%s; read as %r", err, default)
        return default


def _position(symbol: str, raw: object, *, strict: bool) -> LedgerPosition:
    fields = memory.Fields(_COMPONENT, symbol, raw)
    side, qty = fields.side(), fields.number("qty", positive=True)
    entry = fields.price("entry_price")
    if not strict:
        ts = from_iso(fields.doc.get("entry_ts")) or 0.0
        adopted = bool(fields.doc.get("adopted", False))
        fees = _lenient(lambda: fields.number("entry_fees", default=0.0), 0.0)
        return LedgerPosition(symbol, side, qty, entry, ts, adopted, fees)
    fields.same_symbol(symbol)
    ts = fields.timestamp("entry_ts") or 0.0
    fees = fields.number("entry_fees")
    return LedgerPosition(symbol, side, qty, entry, ts, fields.flag("adopted", False), fees)
