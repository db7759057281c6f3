"""Exchange-grid rounding shared by risk (sizing checks) and the router (order quantities)."""

from __future__ import annotations

import math
from decimal import Decimal
from functools import lru_cache


@lru_cache(maxsize=4096)  # a universe has a handful of distinct steps and ticks
def step_decimals(step: float) -> int:
    """Return how many decimals a step like 0.001 or 1e-07 has (0 for whole steps)."""
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def round_qty(qty: float, step: float) -> float:
    """Floor ``qty`` to a multiple of ``step``, tolerating float error (0.3/0.1 -> 3 steps)."""
    if step <= 0:
        raise ValueError(f"step must be > 0 (got {step})")
    ratio = abs(qty) / step
    tolerance = ratio * 1e-12  # relative, but never below 1e-9 of a step
    if tolerance < 1e-9:
        tolerance = 1e-9
    steps = math.floor(ratio + tolerance)
    return math.copysign(round(steps * step, step_decimals(step)), qty) if steps else 0.0


def round_price(price: float, tick: float) -> float:
    """Round ``price`` to the nearest multiple of ``tick``."""
    if tick <= 0:
        raise ValueError(f"tick must be > 0 (got {tick})")
    return round(round(price / tick) * tick, step_decimals(tick))
