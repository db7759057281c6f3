"""Live margin set-up and read-back: margin mode and leverage at start, each position's
liquidation price and margin as the exchange states them, and the funding payments it booked."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, cast

from execution.perps.funding import FundingPayment
from execution.perps.margin import PositionRisk
from execution.venues.base import ExchangeError

log = logging.getLogger(__name__)
# Binance answers -4046 when the margin mode is already the one asked for: nothing to do.
_ALREADY_SET = ("no need to change margin type", "-4046", "marginmodealreadyset")
# Binance refuses (-4048) to change the margin type of a symbol that holds a position. A
# restart must still manage that position's exits, so the position keeps its mode instead.
_HOLDS_POSITION = ("-4048", "cannot be changed if there exists position")
_OTHER_MODE = {"isolated": "cross", "cross": "isolated"}


def set_margin(
    call: Callable[..., Any],
    client: Any,
    leverage: Mapping[str, float],
    margin_mode: str,
    market: Callable[[str], Any],
) -> dict[str, float]:
    """Set the margin mode and the leverage of each of our symbols (``market`` gives its ccxt
    market); return what the exchange granted (it may cap the leverage). A mode already in
    place is not an error, nor is a symbol that keeps its mode because it holds a position."""
    granted: dict[str, float] = {}
    for ours, lev in leverage.items():
        symbol = str(market(ours)["symbol"])
        mode = _set_mode(call, client, ours, symbol, margin_mode)
        reply = call(client.set_leverage, int(lev), symbol, retry=False) or {}
        granted[ours] = float(reply.get("leverage") or int(lev))
        log.info("%s: %s margin, leverage %gx", ours, mode, granted[ours])
    return granted


def _set_mode(call: Callable[..., Any], client: Any, ours: str, symbol: str, mode: str) -> str:
    """Ask for ``mode`` on ``symbol``; return the mode it has now. A symbol holding a position
    in the other mode keeps it (a warning); any other refusal raises."""
    try:
        call(client.set_margin_mode, mode, symbol, retry=False)
    except ExchangeError as err:
        text = str(err).lower()
        if not any(s in text for s in _HOLDS_POSITION):
            if any(s in text for s in _ALREADY_SET):
                return mode
            raise
        kept = _OTHER_MODE.get(mode, "unchanged")
        log.warning("%s: holds a position, so its margin stays %s (not %s) until the position "
                    "is closed; its leverage is still set", ours, kept, mode)  # fmt: skip
        return kept
    return mode


def risk_from_ccxt(p: Mapping[str, Any]) -> PositionRisk:
    """Return the position's leverage, margin and liquidation price as ccxt reports them."""
    info = p.get("info") or {}
    isolated = float(info.get("isolatedWallet") or 0.0) if isinstance(info, Mapping) else 0.0
    margin = isolated or float(p.get("collateral") or p.get("initialMargin") or 0.0)
    return PositionRisk(
        leverage=float(p.get("leverage") or 0.0),
        margin=margin,
        maintenance_margin=float(p.get("maintenanceMargin") or 0.0),
        liquidation_price=float(p.get("liquidationPrice") or 0.0),
    )


class FundingReader:
    """Read the account's funding payments back from the venue's income history, each once.

    Binance settles funding every 8 h, so the history is asked for at most every
    ``every_seconds``. It starts at the moment the venue was opened: payments booked while no
    engine ran are in the exchange's history, not in the journal (docs/perpetuals.md).
    """

    def __init__(
        self,
        call: Callable[..., Any],
        client: Any,
        ours: Callable[[str], str],
        start_s: float,
        every_seconds: float = 300.0,
    ) -> None:
        self._call, self._client, self._ours = call, client, ours
        self._since_ms = int(start_s * 1000)
        self._at_since: set[str] = set()  # ids booked at _since_ms (the query includes it)
        self._next_s = start_s
        self.every_seconds = every_seconds

    def poll(self, now_s: float) -> list[FundingPayment]:
        """Return the payments booked since the last read, oldest first; [] between reads."""
        if now_s < self._next_s:
            return []
        try:
            rows = self._call(self._client.fetch_funding_history, None, self._since_ms)
        except ExchangeError as err:  # a read that failed is tried again at the next loop
            log.warning("funding history unavailable (%s); trying again", err)
            return []
        self._next_s = now_s + self.every_seconds
        out = []
        for row in sorted(rows or [], key=lambda r: r.get("timestamp") or 0):
            payment = self._payment(row)
            if payment is not None:
                out.append(payment)
        return out

    def _payment(self, row: Mapping[str, Any]) -> FundingPayment | None:
        ts, amount = row.get("timestamp"), row.get("amount")
        if not isinstance(ts, int) or not _finite(amount) or ts < self._since_ms:
            log.warning("funding history row skipped (no time or amount): %s", row.get("info"))
            return None
        key = str(row.get("id") or f"{row.get('symbol')}@{ts}")
        if ts == self._since_ms and key in self._at_since:
            return None
        if ts > self._since_ms:
            self._since_ms, self._at_since = ts, set()
        self._at_since.add(key)
        # The income history states the cash only: rate, mark and quantity are not in it.
        return FundingPayment(ts / 1000, self._ours(str(row.get("symbol"))), 0.0, 0.0, 0.0,
                              float(cast(float, amount)))  # fmt: skip


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
