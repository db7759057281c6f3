"""book.Book: marks, return windows, NAV / peak / drawdown, cooldowns and the view risk reads.

Every scenario drives the book through the calls the executor makes (closed bars, live marks,
NAV updates) and reads what risk and the publisher read (marks, windows, drawdown, the frozen
PortfolioView). The windows' checkpoint encoding is covered by test_book_checkpoint.py.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.book import Book, ReturnsBuffer
from execution.config import RiskConfig
from execution.position_ledger import LedgerPosition
from execution.types import Side

T0 = 1_704_067_200.0
BTC, ETH, SOL = "BTCUSDT", "ETHUSDT", "SOLUSDT"
NAV = 10_000.0


def book(lookback: int = 10) -> Book:
    return Book([BTC, ETH, SOL], RiskConfig(lookback_bars=lookback, min_returns=2), NAV)


def long_btc(qty: float = 2.0, entry: float = 100.0) -> LedgerPosition:
    return LedgerPosition(BTC, Side.LONG, qty, entry, T0)


def short_eth(qty: float = 1.0, entry: float = 50.0) -> LedgerPosition:
    return LedgerPosition(ETH, Side.SHORT, qty, entry, T0)


# --- marks -------------------------------------------------------------------------------------


def test_a_closed_bar_sets_the_mark_and_its_time() -> None:
    b = book()
    b.on_close(0, T0, 101.5)
    assert b.mark(BTC) == 101.5
    assert b.marks_view[BTC] == 101.5 and b.mark_ts_view[BTC] == T0
    assert b.marks_by_symbol() == {BTC: 101.5}


def test_a_symbol_never_marked_or_unknown_has_no_mark() -> None:
    b = book()
    assert b.mark(ETH) is None and b.mark("NOPEUSDT") is None
    assert ETH not in b.marks_view and b.marks_view.get(ETH) is None
    assert b.mark_ts_view.get(ETH) is None
    with pytest.raises(KeyError):
        b.marks_view[ETH]


def test_the_mark_views_are_live_and_list_only_marked_symbols() -> None:
    b = book()
    marks, times = b.marks_view, b.mark_ts_view
    b.on_close(2, T0, 20.0)
    b.set_mark(0, T0 + 5, 100.0)
    assert dict(marks) == {BTC: 100.0, SOL: 20.0} and len(marks) == 2
    assert dict(times) == {BTC: T0 + 5, SOL: T0}


# --- return windows ----------------------------------------------------------------------------


def test_returns_are_close_over_previous_close_from_the_second_bar_on() -> None:
    b = book()
    for ts, close in enumerate((100.0, 110.0, 99.0)):
        b.on_close(0, T0 + ts, close)
    window = b.returns_of(BTC)
    assert window is not None
    assert window.tolist() == pytest.approx([0.10, 99.0 / 110.0 - 1.0])
    empty = b.returns_of(ETH)
    assert empty is not None and len(empty) == 0
    assert b.returns_of("NOPEUSDT") is None


def test_a_window_keeps_only_the_last_lookback_returns_oldest_first() -> None:
    b = book(lookback=10)
    closes = [100.0 * 1.01**k for k in range(25)]
    for k, close in enumerate(closes):
        b.on_close(1, T0 + k, close)
    window = b.returns_of(ETH)
    assert window is not None and len(window) == 10
    want = [closes[k] / closes[k - 1] - 1.0 for k in range(15, 25)]
    assert window.tolist() == want


def test_a_live_mark_moves_valuation_but_not_the_returns() -> None:
    b = book()
    b.push_close(0, 100.0)
    b.set_mark(0, T0, 140.0)  # a spike between closes
    b.push_close(0, 101.0)
    window = b.returns_of(BTC)
    assert window is not None and window.tolist() == pytest.approx([0.01])
    assert b.mark(BTC) == 140.0


def test_a_loop_of_bars_updates_the_book_as_bar_by_bar_closes_do() -> None:
    bars = [(i, T0 + 60 * k, 0.0, 0.0, 0.0, 100.0 + k + i, 0.0) for k in range(5) for i in (0, 1)]
    grouped, one_by_one = book(), book()
    grouped.on_closes(bars)
    for idx, ts, *_ohl, close, _vol in bars:
        one_by_one.on_close(idx, ts, close)
    assert grouped.to_dict() == one_by_one.to_dict()


# --- NAV, peak and drawdown --------------------------------------------------------------------


def test_nav_is_the_balance_plus_unrealized_pnl_at_the_marks() -> None:
    b = book()
    b.on_close(0, T0, 110.0)  # BTC long 2 from 100: +20
    b.on_close(1, T0, 45.0)  # ETH short 1 from 50: +5
    sol = LedgerPosition(SOL, Side.LONG, 1.0, 20.0, T0)  # never marked: no unrealized PnL yet
    assert b.update_nav(9_900.0, [long_btc(), short_eth(), sol]) == 9_925.0
    assert b.nav == 9_925.0


def test_the_peak_follows_nav_up_only_and_drawdown_is_measured_from_it() -> None:
    b = book()
    b.update_nav(11_000.0, [])
    b.update_nav(10_450.0, [])
    dd = b.drawdown()
    assert (dd.nav, dd.peak_nav) == (10_450.0, 11_000.0)
    assert dd.drawdown_pct == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("nav", "state", "mode"),
    [
        (9_600.0, "normal", "OK"),  # 0.04 < warn 0.05
        (9_300.0, "warn", "DEFENSIVE"),  # 0.07
        (9_150.0, "warn", "DEFENSIVE"),  # 0.085: past the circuit, still warn
        (8_500.0, "panic", "DEFENSIVE"),  # 0.15: panic at >=
    ],
)
def test_drawdown_states_follow_the_configured_thresholds(
    nav: float, state: str, mode: str
) -> None:
    b = book()
    b.update_nav(nav, [])
    dd = b.drawdown()
    assert (dd.dd_state, dd.risk_mode) == (state, mode)


def test_the_states_follow_nav_back_when_it_recovers() -> None:
    b = book()
    b.update_nav(8_400.0, [])
    assert b.drawdown().dd_state == "panic"
    b.update_nav(9_700.0, [])
    assert (b.drawdown().dd_state, b.drawdown().risk_mode) == ("normal", "OK")


# --- the view risk reads -----------------------------------------------------------------------


def test_the_view_holds_signed_notionals_at_the_mark_or_else_at_entry() -> None:
    b = book()
    b.on_close(0, T0, 105.0)
    view = b.view([long_btc(), short_eth()], T0 + 30)
    assert view.positions == {BTC: 210.0, ETH: -50.0}  # ETH is unmarked: valued at its entry
    assert (view.now, view.nav, view.peak_nav) == (T0 + 30, NAV, NAV)
    assert view.last_mark_ts.get(BTC) == T0 and view.marks.get(BTC) == 105.0


def test_the_view_leaves_out_positions_already_being_closed() -> None:
    view = book().view([long_btc(), short_eth()], T0, exclude=frozenset({BTC}))
    assert view.positions == {ETH: -50.0}


def test_the_view_hands_risk_the_return_windows_and_says_they_are_finite() -> None:
    b = book()
    for k, close in enumerate((100.0, 101.0, 100.0)):
        b.on_close(0, T0 + k, close)
    view = b.view([], T0)
    assert view.returns is not None and view.returns_nan_free
    btc = view.returns(BTC)
    assert btc is not None and np.array_equal(btc, b.returns_of(BTC))
    assert all(math.isfinite(r) for r in btc)


def test_the_view_is_halted_by_the_halt_file_or_by_drawdown_panic() -> None:
    b = book()
    assert not b.view([], T0).halted
    b.halted_by_file = True
    assert b.view([], T0).halted
    b.halted_by_file = False
    b.update_nav(8_400.0, [])  # drawdown 0.16 >= panic 0.15
    assert b.view([], T0).halted
    assert b.view([], T0).drawdown_pct == pytest.approx(0.16)


def test_a_view_keeps_the_cooldowns_of_its_moment() -> None:
    b = book()
    b.cooldown_until[BTC] = T0 + 900.0
    view = b.view([], T0)
    b.cooldown_until[ETH] = T0 + 900.0
    del b.cooldown_until[BTC]
    assert view.cooldown_until == {BTC: T0 + 900.0}


# --- checkpoint --------------------------------------------------------------------------------


def test_the_book_restores_marks_returns_nav_peak_and_cooldowns_from_its_dict() -> None:
    b = book()
    for k, close in enumerate((100.0, 102.0, 101.0)):
        b.on_close(0, T0 + k, close)
    b.set_mark(1, T0 + 3, 50.0)
    b.update_nav(10_500.0, [])
    b.update_nav(10_200.0, [])
    b.cooldown_until[BTC] = T0 + 900.0
    data = json.loads(json.dumps(b.to_dict()))
    again = book()
    again.load(data)
    assert again.to_dict() == b.to_dict()
    assert (again.nav, again.peak_nav, again.mark(ETH)) == (10_200.0, 10_500.0, 50.0)
    restored = again.returns_of(BTC)
    assert restored is not None and restored.tobytes() == b.returns_of(BTC).tobytes()


def test_a_saved_book_for_another_universe_keeps_its_fresh_marks() -> None:
    saved = Book([BTC], RiskConfig(lookback_bars=10, min_returns=2), NAV)
    saved.on_close(0, T0, 100.0)
    b = book()
    b.load(saved.to_dict())  # one symbol's lists do not fit three symbols
    assert b.marks_by_symbol() == {}


@settings(max_examples=80, deadline=None)
@given(
    lookback=st.integers(1, 9),
    before=st.lists(st.floats(-1.0, 1.0), max_size=20),
    batch=st.lists(
        st.one_of(st.floats(-1.0, 1.0), st.just(math.nan), st.just(math.inf)), max_size=30
    ),
)
def test_pushing_a_batch_of_returns_leaves_the_window_pushing_each_leaves(
    lookback: int, before: list[float], batch: list[float]
) -> None:
    one_by_one, batched = ReturnsBuffer(2, lookback), ReturnsBuffer(2, lookback)
    for value in before:
        one_by_one.push(1, value)
        batched.push(1, value)
    for value in batch:
        one_by_one.push(1, value)
    values = np.array(batch, dtype=np.float64)
    batched.push_many(1, values, finite=bool(np.isfinite(values).all()))
    assert batched.window(1).tolist() == one_by_one.window(1).tolist()
    assert batched.to_dict() == one_by_one.to_dict()
