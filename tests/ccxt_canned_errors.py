"""The error answers of the canned Binance USD-M API: each an HTTP status and the
``{"code": ..., "msg": ...}`` body Binance sends, as ccxt's error tables expect them."""

from __future__ import annotations

from typing import Any

# Scripted faults (``CannedBinance.fail``), by the name a test scripts them with.
FAULTS: dict[str, tuple[int, Any]] = {
    "429": (
        429,
        {
            "code": -1003,
            "msg": "Too many requests; current limit is 2400 request weight per 1 MINUTE.",
        },
    ),
    "503": (
        503,
        {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."},
    ),
    "insufficient": (400, {"code": -2019, "msg": "Margin is insufficient."}),
    "notional": (
        400,
        {
            "code": -4164,
            "msg": "Order's notional must be no smaller than 100 (unless you choose reduce only).",
        },
    ),
    "open_orders": (
        400,
        {"code": -4047, "msg": "Margin type cannot be changed if there exists open orders."},
    ),
    "bad_key": (401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}),
}

# POST /fapi/v1/marginType: the mode asked is the one in place, or the symbol holds a position
# (Binance keeps a position's margin type until it is closed).
MARGIN_TYPE_UNCHANGED = (400, {"code": -4046, "msg": "No need to change margin type."})
MARGIN_TYPE_HELD = (
    400,
    {"code": -4048, "msg": "Margin type cannot be changed if there exists position."},
)
