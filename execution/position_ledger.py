"""Position ledger: open positions built from fills (the one owner of "what we hold").

Persisted atomically as positions_ledger.json; on restart the engine reloads it and reconciles
it with the exchange's positions (execution.run.reconcile).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from execution.clock import from_iso, to_iso
from execution.state_io import SCHEMA_VERSION, read_json_defensive, write_json_atomic
from execution.types import Fill, Side


@dataclass(slots=True)
class LedgerPosition:
    symbol: str
    side: Side
    qty: float
    entry_price: float
    entry_ts: float
    adopted: bool = False

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


_QTY_EPS = 1e-12


class PositionLedger:
    def __init__(self) -> None:
        self.positions: dict[str, LedgerPosition] = {}
        self.closed_count = 0
        self.realized_pnl = 0.0
        self.fees_paid = 0.0
        self.last_fill_ts: float | None = None

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
                fill.symbol, side, fill.qty, fill.price, fill.ts
            )
            return None
        if pos.side is side:
            total = pos.qty + fill.qty
            pos.entry_price = (pos.entry_price * pos.qty + fill.price * fill.qty) / total
            pos.qty = total
            return None
        return self._reduce(pos, fill, side)

    def _reduce(self, pos: LedgerPosition, fill: Fill, fill_side: Side) -> ClosedTrade | None:
        closed_qty = min(pos.qty, fill.qty)
        pnl = (fill.price - pos.entry_price) * closed_qty * pos.side.sign
        self.realized_pnl += pnl
        pos.qty -= closed_qty
        remainder = fill.qty - closed_qty
        reason = fill.exit_kind.value if fill.exit_kind else "reduce"
        trade = ClosedTrade(
            pos.symbol, pos.side, closed_qty, pos.entry_price, fill.price, pnl, reason, fill.ts
        )
        if pos.qty <= _QTY_EPS * max(1.0, closed_qty):
            del self.positions[pos.symbol]
            self.closed_count += 1
            if remainder > _QTY_EPS:
                self.positions[pos.symbol] = LedgerPosition(
                    pos.symbol, fill_side, remainder, fill.price, fill.ts
                )
        return trade

    def adopt(self, symbol: str, side: Side, qty: float, entry_price: float, ts: float) -> None:
        """Take over a position found on the exchange that the engine did not open."""
        self.positions[symbol] = LedgerPosition(symbol, side, qty, entry_price, ts, adopted=True)

    def close_external(self, symbol: str) -> LedgerPosition | None:
        """Drop a position that is gone from the exchange (closed outside the engine)."""
        pos = self.positions.pop(symbol, None)
        if pos is not None:
            self.closed_count += 1
        return pos

    # --- persistence -------------------------------------------------------------------------

    def to_dict(self, now: float) -> dict[str, Any]:
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
        ledger = cls()
        positions = data.get("positions")
        if isinstance(positions, dict):
            for symbol, raw in positions.items():
                pos = _position_from_dict(symbol, raw)
                if pos is not None:
                    ledger.positions[symbol] = pos
        ledger.closed_count = _num(data.get("closed_count"), int, 0)
        ledger.realized_pnl = _num(data.get("realized_pnl"), float, 0.0)
        ledger.fees_paid = _num(data.get("fees_paid"), float, 0.0)
        ledger.last_fill_ts = from_iso(data.get("last_fill_ts"))
        return ledger

    def save(self, path: str | Path, now: float) -> None:
        write_json_atomic(path, self.to_dict(now))

    @classmethod
    def load(cls, path: str | Path) -> PositionLedger:
        return cls.from_dict(read_json_defensive(path).data)


def _num(value: object, kind: type, default: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return kind(value)
    return default


def _position_from_dict(symbol: str, raw: object) -> LedgerPosition | None:
    if not isinstance(raw, dict):
        return None
    try:
        side = Side(str(raw.get("side")))
        qty = float(raw["qty"])
        entry = float(raw["entry_price"])
    except (KeyError, TypeError, ValueError):
        return None
    if qty <= 0 or entry <= 0:
        return None
    ts = from_iso(raw.get("entry_ts")) or 0.0
    return LedgerPosition(symbol, side, qty, entry, ts, bool(raw.get("adopted", False)))
