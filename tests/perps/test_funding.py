"""Funding in the paper venue, against the exchange's rule written out here:
payment = -position size x mark price at the settlement x funding rate (the cash the account
receives: a long pays a positive rate, a short receives it)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from execution.market.bars import load_csv_dir
from execution.market.perp_series import FundingSeries, MarkSeries, PerpData

from .venue import SYM, feed, market, venue

XRP = Path("/work/shared/data/futures_xrp")
H8 = 8 * 3600
T0 = 1_700_006_400.0  # 2023-11-15T00:00:00Z


def _five_minute_bars(start: float, n: int, price: float = 1.0) -> list[tuple[float, ...]]:
    return [(start + i * 300, price, price * 1.001, price * 0.999, price) for i in range(n)]


def test_a_long_pays_and_a_short_receives_a_positive_rate_at_the_series_times() -> None:
    rates = (0.0001, -0.0003)
    funding = FundingSeries((T0 + H8, T0 + 2 * H8), rates)
    m = (1.01, 0.99)
    marks = MarkSeries((T0 + H8, T0 + 2 * H8), m, m, m, m, H8)
    for side, sign in (("buy", 1), ("sell", -1)):
        ex, clock = venue()
        ex.set_perp_data({SYM: PerpData((marks,), funding)})
        ex.place_order(market(side, 1000.0))
        before = ex.balance()
        feed(ex, clock, _five_minute_bars(T0, 2 * 96 + 1))  # to the second settlement
        paid = ex.poll_funding()
        want = [-sign * 1000.0 * 1.01 * 0.0001, -sign * 1000.0 * 0.99 * -0.0003]
        assert [p.payment for p in paid] == pytest.approx(want)
        assert [p.mark for p in paid] == [1.01, 0.99] and [p.rate for p in paid] == list(rates)
        assert ex.balance() - before == pytest.approx(sum(want))


def test_without_a_series_funding_follows_the_00_08_16_schedule_at_the_configured_rate() -> None:
    ex, clock = venue(default_rate=0.0001)
    ex.place_order(market("buy", 1000.0))
    feed(ex, clock, _five_minute_bars(T0 + 300, 2 * 96, price=2.0))  # 00:05 .. 16:00
    paid = ex.poll_funding()
    assert [p.ts for p in paid] == [T0 + H8, T0 + 2 * H8]
    assert [p.payment for p in paid] == pytest.approx([-1000.0 * 2.0 * 0.0001] * 2)


def test_no_position_no_payment_and_a_settlement_is_never_paid_twice() -> None:
    ex, clock = venue(default_rate=0.0001)
    feed(ex, clock, _five_minute_bars(T0, 97))
    assert not ex.poll_funding()
    ex.place_order(market("buy", 10.0))
    saved = ex.to_dict()
    again, clock2 = venue(default_rate=0.0001)
    again.resume(saved)
    feed(again, clock2, _five_minute_bars(T0 + 97 * 300, 96))  # crosses 16:00 only
    assert [p.ts for p in again.poll_funding()] == [T0 + 2 * H8]


def _mark_file(path: Path) -> list[tuple[float, float]]:
    with path.open(encoding="utf-8") as f:
        return [(int(r["ts"]) / 1000, float(r["open"])) for r in csv.DictReader(f)]


def _mark_at(t: float, files: list[tuple[list[tuple[float, float]], float]]) -> float:
    """The open of the mark bar holding t, from the finest file that has one."""
    for rows, length in files:
        for ts, open_ in rows:
            if ts <= t < ts + length:
                return open_
    raise AssertionError(f"no mark bar holds {t}")


@pytest.mark.skipif(not XRP.is_dir(), reason="real data folder /work/shared/data absent")
def test_funding_on_the_real_xrp_series_equals_the_published_rule() -> None:
    series, _ = load_csv_dir(XRP, "5m")
    (symbol,) = series
    bars = series[symbol]
    assert bars.perp is not None
    ex, clock = venue(symbol=symbol, leverage=3.0)  # XRP fell 10 %: 10x would be liquidated
    ex.set_perp_data({symbol: bars.perp})
    qty = 5000.0
    ex.place_order(market("buy", qty, symbol=symbol))
    rows = zip(bars.ts, bars.open, bars.high, bars.low, bars.close, strict=True)
    feed(ex, clock, (tuple(map(float, r)) for r in rows), symbol=symbol)
    paid = ex.poll_funding()
    assert ex.positions()[symbol].qty == qty  # held throughout

    name = "futures_XRP_USDT_USDT"
    marks = [(_mark_file(XRP / f"{name}_1h_mark.csv"), 3600.0)]
    marks.append((_mark_file(XRP / f"{name}_8h_mark.csv"), 28_800.0))
    with (XRP / f"{name}_8h_funding_rate.csv").open(encoding="utf-8") as f:
        settlements = [(int(r["ts"]) / 1000, float(r["funding_rate"])) for r in csv.DictReader(f)]
    # Held from the first bar's open to the last bar: every settlement after the first bar.
    due = [(t, r) for t, r in settlements if bars.ts[0] < t <= bars.ts[-1]]
    want = [-qty * _mark_at(t, marks) * r for t, r in due]
    assert len(paid) == len(due) == 12
    assert [p.ts for p in paid] == [t for t, _ in due]
    assert [p.payment for p in paid] == pytest.approx(want, rel=1e-12)
    assert sum(p.payment for p in paid) == pytest.approx(sum(want))
