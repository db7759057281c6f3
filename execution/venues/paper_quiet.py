"""What the paper venue tells a replay about its quiet bars (execution/quiet.py): the bars of a
symbol on which it would only mark the price, and the last one taken in one step."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from execution.types import MarketRules
from execution.venues.paper_account import PaperAccount
from execution.venues.paper_perps import PaperPerps


class PaperQuietBars:
    """:class:`~execution.venues.base.QuietBarsVenue` for the paper exchange, mixed into it."""

    _account: PaperAccount
    _rules: Mapping[str, MarketRules]
    perps: PaperPerps

    _venue_cap: Callable[[str], float]

    def quiet_until(self, symbol: str) -> float | None:
        """The time before which bars of ``symbol`` (each alone in its loop) settle nothing,
        or None when the next bar has fills or funding to report (nothing pending or to poll,
        then :meth:`on_bars` only marks, and may liquidate: :meth:`quiet_levels`)."""
        account = self._account
        if account.pending or account.fills or account.funding or account.order_ends:
            return None
        if symbol not in self._rules:
            return None
        return self.perps.next_funding

    def quiet_levels(self, symbol: str) -> tuple[float, float] | None:
        """The prices a bar of ``symbol`` must stay strictly between (its low above the first,
        its high below the second) for :meth:`on_bars` to only mark it: its position's
        liquidation price; None when that price moves with the marks or the account."""
        return self.perps.liquidation_bounds(symbol, self._account, self._venue_cap)

    def pass_quiet(self, symbol: str, close: float) -> None:
        """Take the last bar of a quiet stretch: its close marks the symbol."""
        self._account.last_prices[symbol] = close
