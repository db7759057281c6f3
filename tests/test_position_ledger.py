"""position_ledger.PositionLedger: open, add, reduce, flip and close positions from fills.

Each scenario feeds fills and reads what the ledger exposes: its positions, the ClosedTrade a
reduction returns, realized PnL, fees and the persisted dict. A hypothesis property checks the
accounting identity on random fill sequences against a recomputation from cash flows alone.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.position_ledger import ClosedTrade, LedgerPosition, PositionLedger
from execution.types import ExitKind, Fill, OrderKind, Side

T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z
BTC, ETH = "BTCUSDT", "ETHUSDT"


def fill(
    side: str,
    qty: float,
    price: float,
    *,
    symbol: str = BTC,
    fee: float = 0.0,
    ts: float = T0,
    exit_kind: ExitKind | None = None,
) -> Fill:
    kind = OrderKind.EXIT if exit_kind else OrderKind.ENTRY
    cid = f"{symbol}-{side}-{qty}-{price}-{ts}"
    return Fill(
        cid, symbol, side, qty, price, fee, ts, kind, exit_kind is not None, None, exit_kind
    )


def held(pos: LedgerPosition | None) -> tuple[object, ...] | None:
    """What a position is: symbol, side, qty, entry price and time."""
    return None if pos is None else (pos.symbol, pos.side, pos.qty, pos.entry_price, pos.entry_ts)


def closed(trade: ClosedTrade | None) -> tuple[object, ...] | None:
    """What a closed trade says: symbol, side, qty, entry and exit price, PnL, reason, time."""
    if trade is None:
        return None
    return (
        trade.symbol,
        trade.side,
        trade.qty,
        trade.entry_price,
        trade.exit_price,
        trade.realized_pnl,
        trade.reason,
        trade.ts,
    )


def test_a_buy_on_a_flat_symbol_opens_a_long_at_the_fill_price() -> None:
    ledger = PositionLedger()
    assert ledger.apply_fill(fill("buy", 2.0, 100.0, fee=0.08, ts=T0 + 5)) is None
    assert held(ledger.get(BTC)) == (BTC, Side.LONG, 2.0, 100.0, T0 + 5)
    assert ledger.get_open_positions() == [ledger.get(BTC)]
    assert (ledger.realized_pnl, ledger.fees_paid, ledger.last_fill_ts) == (0.0, 0.08, T0 + 5)


def test_a_sell_on_a_flat_symbol_opens_a_short() -> None:
    ledger = PositionLedger()
    ledger.apply_fill(fill("sell", 3.0, 50.0))
    pos = ledger.get(BTC)
    assert pos is not None and (pos.side, pos.qty, pos.entry_price) == (Side.SHORT, 3.0, 50.0)
    assert pos.signed_notional(40.0) == -120.0
    assert pos.unrealized_pnl(40.0) == 30.0  # a short gains as the price falls


def test_adding_on_the_same_side_averages_the_entry_price_by_quantity() -> None:
    ledger = PositionLedger()
    ledger.apply_fill(fill("buy", 1.0, 100.0, ts=T0))
    assert ledger.apply_fill(fill("buy", 3.0, 120.0, ts=T0 + 60)) is None
    pos = ledger.get(BTC)
    assert pos is not None
    assert (pos.qty, pos.entry_price) == (4.0, pytest.approx(115.0))
    assert pos.entry_ts == T0  # the position dates from its first fill
    assert ledger.realized_pnl == 0.0 and ledger.closed_count == 0


def test_a_partial_reduce_realizes_pnl_on_the_closed_part_and_keeps_the_entry() -> None:
    ledger = PositionLedger()
    ledger.apply_fill(fill("buy", 4.0, 100.0))
    trade = ledger.apply_fill(fill("sell", 1.5, 110.0, fee=0.07, ts=T0 + 60))
    assert closed(trade) == (BTC, Side.LONG, 1.5, 100.0, 110.0, 15.0, "reduce", T0 + 60)
    pos = ledger.get(BTC)
    assert pos is not None and (pos.qty, pos.entry_price) == (2.5, 100.0)
    assert ledger.realized_pnl == 15.0
    assert ledger.closed_count == 0  # still open


def test_closing_the_whole_position_removes_it_and_names_the_exit_kind() -> None:
    ledger = PositionLedger()
    ledger.apply_fill(fill("sell", 2.0, 50.0, fee=0.04))
    trade = ledger.apply_fill(fill("buy", 2.0, 52.0, fee=0.04, exit_kind=ExitKind.SL))
    assert trade is not None
    assert (trade.side, trade.qty, trade.realized_pnl, trade.reason) == (
        Side.SHORT,
        2.0,
        -4.0,  # a short bought back 2 higher, twice
        "sl",
    )
    assert ledger.get(BTC) is None and ledger.get_open_positions() == []
    assert ledger.closed_count == 1
    # Realized PnL is gross; the fees of both fills are counted apart.
    assert (ledger.realized_pnl, ledger.fees_paid) == (-4.0, pytest.approx(0.08))


def test_a_closed_trade_carries_its_share_of_the_entry_fees_and_of_the_closing_fee() -> None:
    ledger = PositionLedger()
    ledger.apply_fill(fill("buy", 4.0, 100.0, fee=0.40))
    first = ledger.apply_fill(fill("sell", 1.0, 110.0, fee=0.11))
    assert first is not None and first.entry_ts == T0
    assert first.fees == pytest.approx(0.10 + 0.11)  # a quarter of the entry fee, all its own
    flip = ledger.apply_fill(fill("sell", 6.0, 90.0, fee=0.54))
    assert flip is not None and flip.qty == 3.0
    assert flip.fees == pytest.approx(0.30 + 0.27)  # the rest of the entry, half the flip's fee
    assert ledger.fees_paid == pytest.approx(0.40 + 0.11 + 0.54)


def test_a_fill_larger_than_the_position_closes_it_and_opens_the_rest_the_other_way() -> None:
    ledger = PositionLedger()
    ledger.apply_fill(fill("buy", 1.0, 100.0))
    trade = ledger.apply_fill(fill("sell", 3.0, 90.0, ts=T0 + 60))
    assert closed(trade) == (BTC, Side.LONG, 1.0, 100.0, 90.0, -10.0, "reduce", T0 + 60)
    assert held(ledger.get(BTC)) == (BTC, Side.SHORT, 2.0, 90.0, T0 + 60)
    assert ledger.closed_count == 1


def test_symbols_are_kept_apart() -> None:
    ledger = PositionLedger()
    ledger.apply_fill(fill("buy", 1.0, 100.0))
    ledger.apply_fill(fill("sell", 5.0, 10.0, symbol=ETH))
    ledger.apply_fill(fill("sell", 1.0, 105.0))
    assert [p.symbol for p in ledger.get_open_positions()] == [ETH]
    assert ledger.realized_pnl == 5.0


def test_an_adopted_position_is_marked_and_an_external_close_drops_it() -> None:
    ledger = PositionLedger()
    ledger.adopt(ETH, Side.LONG, 2.0, 2_000.0, T0)
    pos = ledger.get(ETH)
    assert pos is not None and pos.adopted
    assert ledger.close_external(ETH) == pos
    assert ledger.get(ETH) is None and ledger.closed_count == 1
    assert ledger.close_external(ETH) is None and ledger.closed_count == 1


def test_unrealized_pnl_pct_is_a_fraction_of_entry_and_zero_without_an_entry_price() -> None:
    long = LedgerPosition(BTC, Side.LONG, 1.0, 100.0, T0)
    assert long.unrealized_pnl_pct(98.0) == pytest.approx(-0.02)
    assert LedgerPosition(BTC, Side.SHORT, 1.0, 100.0, T0).unrealized_pnl_pct(98.0) == (
        pytest.approx(0.02)
    )
    assert LedgerPosition(BTC, Side.LONG, 1.0, 0.0, T0).unrealized_pnl_pct(98.0) == 0.0


def test_the_ledger_round_trips_through_its_json_dict() -> None:
    ledger = PositionLedger()
    ledger.apply_fill(fill("buy", 1.25, 100.0, fee=0.05, ts=T0))
    ledger.apply_fill(fill("sell", 0.25, 104.0, fee=0.01, ts=T0 + 60))
    ledger.adopt(ETH, Side.SHORT, 3.0, 2_000.0, T0 + 120)
    data = json.loads(json.dumps(ledger.to_dict(T0 + 180)))
    again = PositionLedger.from_dict(data)
    assert again.positions == ledger.positions
    assert (again.realized_pnl, again.fees_paid, again.closed_count, again.last_fill_ts) == (
        ledger.realized_pnl,
        ledger.fees_paid,
        ledger.closed_count,
        ledger.last_fill_ts,
    )
    assert again.to_dict(T0 + 180) == data


def test_a_saved_ledger_with_bad_positions_loads_only_the_good_ones() -> None:
    good = {"side": "long", "qty": 1.0, "entry_price": 100.0, "entry_ts": "2024-01-01T00:00:00Z"}
    data = {
        "positions": {
            BTC: good,
            "A": {**good, "qty": 0.0},
            "B": {**good, "entry_price": -1.0},
            "C": {**good, "side": "sideways"},
            "D": {"side": "long"},
            "E": "not a position",
        },
        "realized_pnl": "lots",
        "closed_count": True,
    }
    ledger = PositionLedger.from_dict(data)
    assert list(ledger.positions) == [BTC]
    assert (ledger.realized_pnl, ledger.closed_count) == (0.0, 0)


# --- property: the accounting identity over random fills ----------------------------------------

fills_strategy = st.lists(
    st.tuples(
        st.sampled_from([BTC, ETH]),
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 10),  # whole units and prices: every net position is exact
        st.integers(50, 150),
        st.integers(0, 20),  # fee in cents
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(fills_strategy, st.integers(50, 150))
def test_realized_plus_unrealized_pnl_equals_the_cash_flows_of_the_fills(
    fills: list[tuple[str, str, int, int, int]], mark: int
) -> None:
    """Whatever the cost method: realized + unrealized at a mark = cash in - cash out + holdings."""
    ledger = PositionLedger()
    trades: list[ClosedTrade] = []
    net = {BTC: 0, ETH: 0}
    flat_or_flipped = 0
    for k, (symbol, side, qty, price, cents) in enumerate(fills):
        trade = ledger.apply_fill(fill(side, qty, price, symbol=symbol, fee=cents / 100, ts=k))
        if trade is not None:
            trades.append(trade)
        before = net[symbol]
        net[symbol] += qty if side == "buy" else -qty
        if before != 0 and (net[symbol] == 0 or (net[symbol] > 0) != (before > 0)):
            flat_or_flipped += 1
    cash = sum((-q if s == "buy" else q) * p for _, s, q, p, _ in fills)
    holdings = sum(n * mark for n in net.values())
    unrealized = sum(p.unrealized_pnl(mark) for p in ledger.get_open_positions())
    assert ledger.realized_pnl + unrealized == pytest.approx(cash + holdings, abs=1e-6)
    assert ledger.realized_pnl == pytest.approx(sum(t.realized_pnl for t in trades), abs=1e-9)
    assert ledger.fees_paid == pytest.approx(sum(c for *_, c in fills) / 100)
    # Every fee paid is in a closed trade or still with an open position's entries.
    open_fees = sum(p.entry_fees for p in ledger.get_open_positions())
    assert sum(t.fees for t in trades) + open_fees == pytest.approx(ledger.fees_paid, abs=1e-9)
    held = {p.symbol: p.qty * p.side.sign for p in ledger.get_open_positions()}
    assert held == {s: pytest.approx(n) for s, n in net.items() if n != 0}
    assert ledger.closed_count == flat_or_flipped
