"""Margin and liquidation, against Binance's published USD-M isolated liquidation price formula.

Binance (one-way mode, "BOTH" position, isolated: TMM1 = UPNL1 = 0, no hedge legs):

    LP = (WB - TMM1 + UPNL1 + cumB - Side1BOTH * Position1BOTH * EP1BOTH)
         / (Position1BOTH * MMR_B - Side1BOTH * Position1BOTH)

WB is the isolated wallet (initial margin = notional / leverage), cumB the maintenance amount
and MMR_B the maintenance margin rate of the position's bracket, Side1BOTH +1 long / -1 short.
"""

from __future__ import annotations

import pytest

from execution.clock import ReplayClock
from execution.perps.margin import brackets_from_rows, shipped_brackets
from execution.perps.view import add_margin_columns
from execution.types import ExitKind
from execution.venues.paper import PaperExchange

from .venue import feed, market, venue

# Binance's published BTCUSDT brackets (notional cap, max leverage, MMR, maintenance amount).
BTC_BRACKETS = [
    (50_000, 125, 0.004, 0.0),
    (250_000, 100, 0.005, 50.0),
    (3_000_000, 50, 0.01, 1_300.0),
]
T0 = 1_700_006_400.0


def binance_isolated_lp(
    side: int, qty: float, entry: float, wb: float, mmr: float, cum: float
) -> float:
    return (wb - 0.0 + 0.0 + cum - side * qty * entry) / (qty * mmr - side * qty)


def test_maintenance_amounts_follow_from_the_brackets_as_binance_publishes_them() -> None:
    shipped = shipped_brackets("BTCUSDT")
    for b, (cap, lev, mmr, cum) in zip(shipped, BTC_BRACKETS, strict=False):
        assert (b.cap, b.max_leverage, b.mmr) == (cap, lev, mmr)
        assert b.cum == pytest.approx(cum)
    rows = [(c, lev, mmr) for c, lev, mmr, _ in BTC_BRACKETS]
    assert [b.cum for b in brackets_from_rows(rows)] == pytest.approx([r[3] for r in BTC_BRACKETS])


@pytest.mark.parametrize(
    ("side", "qty", "leverage"), [("buy", 0.5, 10.0), ("sell", 0.5, 10.0), ("buy", 2.0, 20.0)]
)
def test_the_engine_liquidation_price_equals_binance_formula(
    side: str, qty: float, leverage: float
) -> None:
    ex, clock = venue(symbol="BTCUSDT", leverage=leverage, balance=100_000.0)
    ex.place_order(market(side, qty, symbol="BTCUSDT"))
    feed(ex, clock, [(T0, 60_000.0, 60_000.0, 60_000.0, 60_000.0)], symbol="BTCUSDT")
    risk = ex.position_risk()["BTCUSDT"]
    notional = qty * 60_000.0
    _, _, mmr, cum = next(b for b in BTC_BRACKETS if notional <= b[0])
    sign = 1 if side == "buy" else -1
    want = binance_isolated_lp(sign, qty, 60_000.0, notional / leverage, mmr, cum)
    assert risk.leverage == leverage and risk.margin == pytest.approx(notional / leverage)
    assert risk.liquidation_price == pytest.approx(want, rel=1e-12)


# 1 BTC long at 60,000 with 10x: notional 60,000 is in the second bracket.
LIQ_1BTC_10X = binance_isolated_lp(1, 1.0, 60_000.0, 6_000.0, 0.005, 50.0)


def _long_at_10x(sl: float | None = None) -> tuple[PaperExchange, ReplayClock, float]:
    ex, clock = venue(symbol="BTCUSDT", leverage=10.0, liq_fee_bps=50.0, balance=100_000.0)
    ex.place_order(market("buy", 1.0, symbol="BTCUSDT", sl=sl))
    feed(ex, clock, [(T0, 60_000.0, 60_000.0, 60_000.0, 60_000.0)], symbol="BTCUSDT")
    ex.poll_fills()
    liq = ex.position_risk()["BTCUSDT"].liquidation_price
    assert liq == pytest.approx(LIQ_1BTC_10X, rel=1e-12)
    return ex, clock, liq


def test_a_long_is_liquidated_at_its_price_with_the_liquidation_fee_when_the_mark_crosses() -> None:
    ex, clock, liq = _long_at_10x()
    before = ex.balance()
    feed(ex, clock, [(T0 + 60, 59_000.0, 59_500.0, liq + 1.0, 59_000.0)], symbol="BTCUSDT")
    assert not ex.poll_fills() and "BTCUSDT" in ex.positions()
    feed(ex, clock, [(T0 + 120, 59_000.0, 59_000.0, liq - 1.0, 58_000.0)], symbol="BTCUSDT")
    (fill,) = ex.poll_fills()
    assert fill.exit_kind is ExitKind.LIQUIDATION and fill.reduce_only
    assert fill.price == liq and fill.qty == 1.0 and fill.fee == pytest.approx(liq * 0.005)
    assert "BTCUSDT" not in ex.positions()
    # Isolated: the loss is the margin less what is left above maintenance, plus the fee.
    assert ex.balance() - before == pytest.approx((liq - 60_000.0) - liq * 0.005)


def test_a_stop_in_front_of_the_liquidation_price_fills_first_and_one_beyond_does_not() -> None:
    ex, clock, liq = _long_at_10x(sl=LIQ_1BTC_10X + 500.0)
    feed(ex, clock, [(T0 + 60, 59_000.0, 59_000.0, liq - 1.0, 58_000.0)], symbol="BTCUSDT")
    assert not ex.poll_fills() and "BTCUSDT" in ex.positions()  # left to the exit scanner
    ex, clock, liq = _long_at_10x(sl=LIQ_1BTC_10X - 500.0)
    feed(ex, clock, [(T0 + 60, 59_000.0, 59_000.0, liq - 600.0, 58_000.0)], symbol="BTCUSDT")
    (fill,) = ex.poll_fills()
    assert fill.exit_kind is ExitKind.LIQUIDATION


def test_a_bar_that_opens_beyond_the_liquidation_price_liquidates_whatever_the_stop() -> None:
    ex, clock, liq = _long_at_10x(sl=LIQ_1BTC_10X + 500.0)
    feed(
        ex, clock, [(T0 + 60, liq - 100.0, liq - 100.0, liq - 200.0, liq - 150.0)], symbol="BTCUSDT"
    )
    (fill,) = ex.poll_fills()
    assert fill.exit_kind is ExitKind.LIQUIDATION and fill.price == liq


def test_positions_state_rows_gain_margin_columns_and_count_liquidation_before_stop() -> None:
    ex, _, liq = _long_at_10x()
    rows = [
        {"symbol": "BTCUSDT", "side": "long", "mark_price": 60_000.0, "sl_price": liq - 10.0},
        {"symbol": "ETHUSDT", "side": "short", "mark_price": 3_000.0, "sl_price": 3_100.0},
    ]
    exposed = add_margin_columns(rows, ex.position_risk(), {"BTCUSDT": -1.5})
    btc, eth = rows
    assert btc["leverage"] == 10.0 and btc["margin"] == pytest.approx(6_000.0)
    assert btc["liquidation_price"] == liq and btc["funding"] == -1.5
    assert btc["liquidation_distance_pct"] == pytest.approx((60_000.0 - liq) / 60_000.0)
    assert eth["liquidation_price"] is None and eth["liquidation_distance_pct"] is None
    assert exposed == 1  # the BTC stop lies beyond its liquidation price
