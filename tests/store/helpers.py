"""Builders for store tests: a memory shaped like the engine's, journal rows, a lock holder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from execution.store import (
    ClosedTradeRow,
    EquityRow,
    FillRow,
    FundingRow,
    JournalBatch,
    Memory,
    OrderRow,
)

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"  # cwd of child processes that import these helpers as store.helpers
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z


def memory_at(n: int, symbols: tuple[str, ...] = SYMBOLS) -> Memory:
    """A memory after ``n`` loops, every component non-empty and all of them derived from n."""
    return Memory(
        identity={"mode": "realtime", "source": "synthetic:seed=7", "account": "paper"},
        progress={"bars_processed": n, "completed": False, "last_ts": T0 + 60 * n},
        ledger={"positions": {"BTCUSDT": {"side": "long", "qty": 0.1, "entry_price": 42000.0}},
                "closed_count": n // 3},
        registry={"entries": {"BTCUSDT": {"tp_price": 43260.0, "sl_price": 41160.0}}},
        pending_intents=[{"intent_id": f"i{n}", "symbol": "ETHUSDT"}],
        open_orders=[{"client_order_id": f"c{n}", "status": "new"}],
        paper_account={"balance": 10_000.0 + n, "order_seq": n},
        paper_orders={f"c{n}": {"exchange_order_id": f"paper-{n}", "status": "filled",
                                "ts": T0 + 60 * n}},
        strategy={s: {"fast": 1.0 + n, "slow": 2.0, "count": n} for s in symbols},
        book={s: {"mark": 100.0 + n, "returns": [0.001 * (n % 7)] * 50} for s in symbols},
        diagnostics={"veto_counters": {"total_signals": n, "by_reason": {"cooldown": n}}},
    )  # fmt: skip


def trade(symbol: str, k: int, *, pnl: float = 12.5, fees: float = 0.5) -> ClosedTradeRow:
    """The k-th closed trade: one minute in, one minute out."""
    entry = T0 + 120 * k
    return ClosedTradeRow(
        symbol=symbol, side="long" if k % 2 == 0 else "short", entry_ts=entry,
        entry_price=100.0 + k, exit_ts=entry + 60, exit_price=101.0 + k, qty=0.5,
        exit_reason="tp" if k % 2 == 0 else "sl", pnl=pnl, fees=fees, tp=103.0 + k, sl=98.0 + k,
    )  # fmt: skip


def loop_batch(n: int) -> JournalBatch:
    """The journal of loop n: an equity sample and a fill; an order; a closed trade every 3rd."""
    batch = JournalBatch()
    batch.equity_sample(EquityRow(T0 + 60 * n, 10_000.0 + n, 10_000.0, float(n), 0.0))
    batch.order(OrderRow(f"c{n}", "BTCUSDT", "buy", "entry", 0.1, "filled", T0 + 60 * n))
    batch.fill(FillRow(f"f{n}", f"c{n}", "BTCUSDT", "buy", "entry", 0.1, 42000.0, 0.2, T0 + 60 * n))
    if n % 3 == 0:
        batch.closed_trade(trade("BTCUSDT", n))
        batch.funding_payment(FundingRow(T0 + 60 * n, "BTCUSDT", 0.0001, 42000.0, 0.1, -0.42))
    return batch


@contextmanager
def lock_held_by_another_process(state_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """A second Python process holding the state dir's EngineLock until the block ends."""
    code = (
        "import sys; from execution.store import EngineLock; "
        "lock = EngineLock(sys.argv[1]).acquire(); print('locked', flush=True); sys.stdin.read()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(state_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=10)


def mount_tmpfs(where: Path, size: str) -> None:
    """Mount a tmpfs of ``size`` at ``where`` (a disk that fills); skip unless root can."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
