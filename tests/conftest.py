"""Shared test set-up: the diagnostics are module-level singletons, so each test starts fresh;
``clock`` puts them on a hand-driven engine clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from diagnostics_kit import FakeClock, fresh_clock

from execution import diagnostics_metrics


@pytest.fixture(autouse=True)
def _fresh_diagnostics() -> Iterator[None]:
    """Reset every diagnostics counter (enabled, wall clock) before and after each test."""
    diagnostics_metrics.reset_diagnostics()
    yield
    diagnostics_metrics.reset_diagnostics()


@pytest.fixture
def clock() -> FakeClock:
    """Diagnostics on a hand-driven engine clock with the default settings."""
    return fresh_clock()
