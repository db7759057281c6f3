"""A replay directory of one symbol's bars, written as a user's CSV would be, for CLI tests."""

from __future__ import annotations

from pathlib import Path

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z


def csv_dir(root: Path, n: int, step: float = 60.0, scale: float = 1.0) -> Path:
    """``root/data/BTCUSDT.csv``: ``n`` bars ``step`` seconds apart, prices wandering in a band
    (so the default strategy trades), times multiplied by ``scale`` (1000: milliseconds)."""
    d = root / "data"
    d.mkdir()
    rows = ["timestamp,open,high,low,close,volume"]
    for i in range(n):
        p = 100 + (i % 17) - (i % 5)
        rows.append(f"{int((T0 + i * step) * scale)},{p},{p + 1},{p - 1},{p + 0.5},10")
    (d / "BTCUSDT.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return d
