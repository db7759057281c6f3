"""Is the machine busy? A line to print beside timings when the load is above the core count."""

from __future__ import annotations

import os


def load_note() -> str:
    """Return a warning naming the 1-minute load average when it exceeds the cores, else ""."""
    try:
        load1 = os.getloadavg()[0]
    except OSError:  # not available on this platform: say nothing rather than guess
        return ""
    cores = os.cpu_count() or 1
    if load1 <= cores:
        return ""
    return (
        f"NOTE: shared machine busy (load average {load1:.1f} > {cores} cores): "
        "timings are noisy, read the spreads"
    )
