"""Strategy API v1: write a strategy as a class with ``on_bar(bar) -> Signal | None``.

See docs/strategies.md; :mod:`execution.strategy.testing` feeds bars to a strategy in a test.
"""

from execution.strategy.api import (
    AccountView,
    BarContext,
    PositionView,
    Signal,
    SignalError,
    Strategy,
    checked_signal,
)
from execution.types import Side

__all__ = [
    "AccountView",
    "BarContext",
    "PositionView",
    "Side",
    "Signal",
    "SignalError",
    "Strategy",
    "checked_signal",
]
