"""A hand-made run: four round trips whose metrics are worked out by hand in the tests."""

from __future__ import annotations

from pathlib import Path

from execution.report import Trade
from execution.store import (
    ClosedTradeRow,
    EngineLock,
    EquityRow,
    FillRow,
    JournalBatch,
    Memory,
    Store,
)

T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z
HOUR = 3600.0


def four_trades() -> list[Trade]:
    """Net PnL 9, -6, 0, 6 (a win, a loss, a draw, a win) on 100 of notional each, 1 h each."""
    return [
        Trade("BTCUSDT", "long", T0, T0 + HOUR, 100.0, 110.0, 1.0, "tp", 10.0, 1.0, 110.0, 95.0),
        Trade("ETHUSDT", "long", T0 + 0.5 * HOUR, T0 + 1.5 * HOUR, 50.0, 50.0, 2.0, "signal", 0.0, 0.0),
        Trade("BTCUSDT", "short", T0 + 2 * HOUR, T0 + 3 * HOUR, 100.0, 105.0, 1.0, "sl", -5.0, 1.0),
        Trade("ETHUSDT", "long", T0 + 4 * HOUR, T0 + 5 * HOUR, 50.0, 53.0, 2.0, "tp", 6.0, 0.0),
    ]  # fmt: skip


def write_store(state_dir: Path, trades: list[Trade], navs: list[tuple[float, float]]) -> None:
    """Commit the trades, their fills and the equity samples as an engine would."""
    batch = JournalBatch()
    for i, t in enumerate(trades):
        batch.closed_trade(ClosedTradeRow(t.symbol, t.side, t.entry_ts, t.entry_price, t.exit_ts,
                                          t.exit_price, t.qty, t.exit_reason, t.pnl, t.fees, t.tp,
                                          t.sl))  # fmt: skip
        batch.fill(FillRow(f"f{i}", f"c{i}", t.symbol, "buy", "entry", t.qty, t.entry_price,
                           t.fees, t.entry_ts))  # fmt: skip
    for ts, nav in navs:
        batch.equity_sample(EquityRow(ts, nav, nav, 0.0, 0.0))
    memory = Memory(
        identity={"mode": "replay", "source": "test:hand-made", "account": "paper"},
        progress={"bars_processed": 12, "completed": True, "last_ts": navs[-1][0],
                  "symbols": ["BTCUSDT", "ETHUSDT"]},
        paper_account={"starting_balance": 1000.0},
        book={"shared": {"nav": navs[-1][1]}, "per_symbol": {}},
    )  # fmt: skip
    with EngineLock(state_dir), Store.open(state_dir, durable=False) as store:
        store.commit(memory, batch)
