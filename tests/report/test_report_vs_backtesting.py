"""Two reporters, one run: the report and backtesting.py's stats agree where definitions agree.

Needs the shared BTC 1m bars (skipped without them). What differs, and why: docs/performance.md.
"""

from __future__ import annotations

import pytest

from bench.common import BTC_1M_DIR

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SAME_RUN = ("trades", "win rate %", "profit factor (over trade returns)", "expectancy % per trade",
            "best trade %", "worst trade %")  # fmt: skip
SAME_DEFINITION = ("SQN", "return %", "max drawdown %", "max drawdown duration (days)", "CAGR %")


@pytest.mark.skipif(
    not (BTC_1M_DIR.is_dir() and any(BTC_1M_DIR.glob("*.csv"))),
    reason=f"shared BTC 1m bars absent ({BTC_1M_DIR})",
)
def test_report_equals_backtesting_stats_on_the_sma_cross_bench() -> None:
    pytest.importorskip("backtesting", reason="backtesting.py (dev) not installed")
    from bench.report_vs_backtesting import compare

    rows = {row["metric"]: row for row in compare(BTC_1M_DIR)}
    assert rows["trades"]["v7_report"] == 1889
    for metric in SAME_RUN:  # v7's own run against backtesting.py's run
        assert rows[metric]["v7_report"] == pytest.approx(rows[metric]["backtesting"], rel=1e-6), (
            metric
        )
    for metric in SAME_DEFINITION:  # the report's functions on backtesting.py's own data
        row = rows[metric]
        assert row["report_fns_on_bt"] == pytest.approx(row["backtesting"], rel=1e-6), metric
