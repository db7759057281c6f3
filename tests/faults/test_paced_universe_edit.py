"""A paced paper engine restarted after a universe edit goes on with each symbol's own prices.

Its synthetic bars are one path per symbol, and a restart skips the bars it already stepped.
Those were counted over the old universe: with BNBUSDT removed (7 symbols -> 6), the same count
skipped 30 more loops of every remaining symbol, so each price jumped half an hour of its path
in one bar (ETHUSDT +4.4 %), and the held ETHUSDT short was closed on that made-up gap.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from execution.store import read_memory
from faults.helpers import BASE_CONFIG, paced

BARS = 1260  # 180 loops of the 7 symbols; the engine then holds a short ETHUSDT position
HELD = "ETHUSDT"


def _closes(state: Path) -> dict[str, float]:
    memory = read_memory(state)
    assert memory is not None
    per_symbol = memory.strategy["per_symbol"]
    return {s: v["prev_close"] for s, v in per_symbol.items() if s != "BNBUSDT"}


def test_a_paced_restart_after_a_symbol_is_removed_continues_every_price_path(
    tmp_path: Path,
) -> None:
    kept = tmp_path / "kept"
    out = paced(kept, BARS, "--pace", "0")
    assert out.returncode == 0, out.stderr
    memory = read_memory(kept)
    assert memory is not None and HELD in memory.ledger["positions"], "premise: a held position"
    edited = tmp_path / "edited"
    subprocess.run(["cp", "-a", str(kept), str(edited)], check=True)
    doc = json.loads(BASE_CONFIG.read_text())
    doc["universe"] = [s for s in doc["universe"] if s["symbol"] != "BNBUSDT"]
    smaller = tmp_path / "smaller.json"
    smaller.write_text(json.dumps(doc))

    assert paced(kept, BARS + 7, "--pace", "0").returncode == 0  # one more loop of 7 symbols
    out = paced(edited, BARS + 6, "--pace", "0", "--config", str(smaller))  # one loop of 6
    assert out.returncode == 0, out.stderr
    assert _closes(edited) == _closes(kept)  # the next bar of each path, not a later one
