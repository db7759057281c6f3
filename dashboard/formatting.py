"""Human formatting for the page: ages, percentages, prices. Pure; None shows as an em dash."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

DASH = "—"


def format_age(seconds: float | None) -> str:
    """Format an age: "42 s", "7.5 min", "3.2 h", "2.1 d"; unknown -> "—"."""
    if seconds is None:
        return DASH
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def format_pct(fraction: float | None, digits: int = 2) -> str:
    """Format a fraction as a percentage: 0.0123 -> "1.23 %"."""
    return DASH if fraction is None else f"{fraction * 100:.{digits}f} %"


def format_money(value: float | None, unit: str = "USDT") -> str:
    """Format an amount of quote currency with thousands separators."""
    return DASH if value is None else f"{value:,.2f} {unit}"


def format_price(value: float | None) -> str:
    """Format a price keeping the significant digits of cheap coins (0.0000123)."""
    if value is None:
        return DASH
    return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.6g}"


def format_count(value: int | None) -> str:
    """Format a counter with thousands separators."""
    return DASH if value is None else f"{value:,}"


def price_decimals(values: Iterable[float | None], significant: int = 4) -> int:
    """Decimals that show ``significant`` digits of the column's smallest non-zero price.

    One count for the whole column keeps the decimal points aligned: 0.00003123 needs 8
    (Streamlit's default shows it as 0.00003), 60500 needs 2.
    """
    sizes = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    if not sizes:
        return 2
    leading = math.floor(math.log10(min(sizes)))  # 0.00003123 -> -5
    return min(max(2, significant - 1 - leading), 12)


def format_prices(values: Sequence[float | None]) -> list[str]:
    """Format a price column with one precision for all rows; missing prices show as "—"."""
    decimals = price_decimals(values)
    return [
        DASH if v is None or not math.isfinite(v) else f"{v:,.{decimals}f}" for v in values
    ]  # fmt: skip


def price_column_format(values: Iterable[float | None]) -> str:
    """A printf format for ``st.column_config.NumberColumn`` that shows cheap prices whole."""
    return f"%.{price_decimals(values)}f"
