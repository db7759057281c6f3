"""The book's return windows survive a checkpoint bit for bit, in the compact and the old form."""

from __future__ import annotations

import json
import math

import numpy as np

from execution.book import WINDOW_ENCODING, ReturnsBuffer


def _filled(n_symbols: int, lookback: int, pushes: int, seed: int = 5) -> ReturnsBuffer:
    buf = ReturnsBuffer(n_symbols, lookback)
    values = np.random.default_rng(seed).normal(0.0, 0.01, (pushes, n_symbols))
    for row in values:
        for idx, v in enumerate(row):
            buf.push(idx, float(v))
    return buf


def test_windows_round_trip_bit_for_bit_through_json() -> None:
    saved = _filled(3, 50, 137)
    saved.push(1, -0.0)
    saved.push(2, 5e-324)  # the smallest subnormal
    data = json.loads(json.dumps(saved.to_dict()))
    assert data["encoding"] == WINDOW_ENCODING
    restored = ReturnsBuffer(3, 50)
    restored.load(data)
    for idx in range(3):
        a, b = saved.window(idx), restored.window(idx)
        assert a.tobytes() == b.tobytes()
    assert math.copysign(1.0, restored.window(1)[-1]) == -1.0


def test_a_non_finite_return_is_not_kept_so_every_window_is_finite() -> None:
    buf = _filled(2, 50, 20)
    before = buf.window(1).tobytes()
    for bad in (float("nan"), float("inf"), float("-inf")):
        buf.push(1, bad)
    assert buf.window(1).tobytes() == before
    assert np.isfinite(buf.window(1)).all()


def test_a_partly_filled_window_keeps_its_length() -> None:
    saved = _filled(2, 50, 7)
    restored = ReturnsBuffer(2, 50)
    restored.load(saved.to_dict())
    assert len(restored.window(0)) == 7
    assert restored.window(0).tolist() == saved.window(0).tolist()


def test_an_unreadable_window_restores_empty_and_the_others_load() -> None:
    saved = _filled(2, 20, 30).to_dict()
    saved["windows"][0] = "not base64!"
    restored = ReturnsBuffer(2, 20)
    restored.load(saved)
    assert len(restored.window(0)) == 0
    assert len(restored.window(1)) == 20
