"""Live margin set-up and read-back: margin mode and leverage at start, each position's
liquidation price and margin as the exchange states them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from execution.perps.margin import PositionRisk
from execution.venues.base import ExchangeError

log = logging.getLogger(__name__)
# Binance answers -4046 when the margin mode is already the one asked for: nothing to do.
_ALREADY_SET = ("no need to change margin type", "-4046", "marginmodealreadyset")


def set_margin(
    call: Callable[..., Any],
    client: Any,
    leverage: Mapping[str, float],
    margin_mode: str,
    market: Callable[[str], Any],
) -> dict[str, float]:
    """Set the margin mode and the leverage of each of our symbols (``market`` gives its ccxt
    market); return what the exchange granted (it may cap the leverage). A mode already in
    place is not an error."""  # fmt: skip
    granted: dict[str, float] = {}
    for ours, lev in leverage.items():
        symbol = str(market(ours)["symbol"])
        try:
            call(client.set_margin_mode, margin_mode, symbol, retry=False)
        except ExchangeError as err:
            if not any(s in str(err).lower() for s in _ALREADY_SET):
                raise
        reply = call(client.set_leverage, int(lev), symbol, retry=False) or {}
        granted[ours] = float(reply.get("leverage") or int(lev))
        log.info("%s: %s margin, leverage %gx", ours, margin_mode, granted[ours])
    return granted


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
