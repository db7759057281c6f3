"""A position that ends outside the engine is journaled, and `v7 trades` lists it.

Closed by hand on the exchange's site while the engine was down, or while it ran: the ledger
counted it as closed, but before the journal had no row for it, so `v7 trades` showed fewer
trades than the engine had closed. Now, when the account's trades show the close whole, it is a
closed trade at the exchange's price (exit reason ``external_close``); otherwise a row of
``external_closes`` (what the engine knew: entry, size, TP/SL, its last mark, when it saw the
position gone), listed by `v7 trades` with no exit price or PnL: the engine never saw that exit.
The real ccxt binanceusdm runs against the canned Binance.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ccxt_canned import SERVER_MS, TAKER_FEE, USER_TRADES_PAGE, CannedBinance
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest
from test_live_restart_protection import _signalled, _start

from execution.cli import main
from execution.clock import ReplayClock
from execution.position_ledger import PositionLedger
from execution.run.reconcile import closes_seen_by_venue
from execution.store import read_closed_trades, read_external_closes
from execution.types import ExchangePosition, Side
from execution.venues.ccxt_closes import MAX_TRADE_PAGES
from execution.venues.ccxt_parse import closing_trades

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"


def _held_then_killed(state: Path) -> tuple[CannedBinance, ReplayClock, dict[str, float]]:
    """A live engine that went long BTCUSDT, then was killed (no final publish)."""
    fake, clock, loop, runner = _signalled(state)
    loop.once()
    pos = runner.executor.ledger.positions["BTCUSDT"]
    level = runner.executor.registry.get("BTCUSDT")
    assert level is not None
    known = {"qty": pos.qty, "entry_price": pos.entry_price, "tp": level.tp_price,
             "sl": level.sl_price, "mark": runner.executor.book.mark("BTCUSDT") or 0.0}  # fmt: skip
    runner.close()
    return fake, clock, known


def test_a_position_closed_by_hand_while_the_engine_was_down_is_listed_by_v7_trades(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, clock, known = _held_then_killed(tmp_path)
    del fake.positions["BTCUSDT"]  # closed by hand on the exchange's site
    loop, again = _start(tmp_path, fake, clock)
    assert again.executor.ledger.closed_count == 1
    again.finish()

    assert read_closed_trades(tmp_path) == [], "the engine saw no exit: no closed trade"
    (row,) = read_external_closes(tmp_path)
    assert (row["symbol"], row["side"], row["qty"]) == ("BTCUSDT", "long", known["qty"])
    assert (row["tp"], row["sl"]) == (known["tp"], known["sl"]), "the levels it had"
    assert row["entry_price"] == known["entry_price"] and row["last_mark"] == known["mark"]
    assert row["seen_ts"] == clock.now()

    capsys.readouterr()
    assert main(["trades", "--state-dir", str(tmp_path), "--json"]) == 0
    (trade,) = json.loads(capsys.readouterr().out)
    assert trade["exit_reason"] == "external_close"
    assert trade["exit_price"] is None and trade["pnl"] is None
    assert trade["exit_ts"].endswith("Z") and trade["tp"] == known["tp"]
    assert main(["trades", "--state-dir", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "external_close" in table
    assert "1 closed trades (1 closed outside the engine: exit unseen, not in the net)" in table
    assert main(["report", "--state-dir", str(tmp_path)]) == 0
    report = capsys.readouterr().out
    assert "trades 0" not in report and "1 more closed outside the engine" in report, report
    assert main(["report", "--state-dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["external_closes"] == 1


def test_the_dashboard_names_a_position_closed_outside_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, clock, known = _held_then_killed(tmp_path)
    del fake.positions["BTCUSDT"]
    _, again = _start(tmp_path, fake, clock)
    again.finish()
    monkeypatch.setenv("V7_STATE_DIR", str(tmp_path))
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    (note,) = [w.value for w in at.warning if "closed outside the engine" in w.value]
    assert note.startswith("1 position(s) closed outside the engine")
    assert f"BTCUSDT long {known['qty']:g}" in note and "`v7 trades` lists them" in note


def test_a_position_closed_on_the_exchange_while_running_is_journaled_by_the_reconcile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, clock, loop, runner = _signalled(tmp_path)
    loop.once()
    assert "BTCUSDT" in runner.executor.ledger.positions
    del fake.positions["BTCUSDT"]  # liquidated, or closed by hand, between two loops
    loop.reconcile()
    assert "BTCUSDT" not in runner.executor.ledger.positions
    loop.once()  # the loop's commit writes the row
    (row,) = read_external_closes(tmp_path)
    assert row["symbol"] == "BTCUSDT" and row["tp"] is not None
    runner.finish()

    capsys.readouterr()
    assert main(["trades", "--state-dir", str(tmp_path), "--symbol", "ETHUSDT", "--csv"]) == 0
    assert capsys.readouterr().out.strip().count("\n") == 0, "only the header: another symbol"
    assert main(["trades", "--state-dir", str(tmp_path), "--symbol", "BTCUSDT", "--csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and ",external_close," in lines[1]


def test_a_position_closed_by_hand_on_the_exchange_is_a_closed_trade_at_the_exchanges_price(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hand close is an order on the account: its trade gives the exit's price, time and
    fee, so the position becomes a closed trade with its PnL, not an unseen exit."""
    fake, clock, known = _held_then_killed(tmp_path)
    fake.now_ms = SERVER_MS + 10 * 60_000
    fake.marks["BTCUSDT"] = 61_000.0
    qty = known["qty"]
    status, _ = fake._new_order({"symbol": "BTCUSDT", "newClientOrderId": "web_hand_close",
                                 "side": "SELL", "quantity": f"{qty}", "reduceOnly": "true"})  # fmt: skip
    assert status == 200 and "BTCUSDT" not in fake.positions
    _, again = _start(tmp_path, fake, clock)
    assert "BTCUSDT" not in again.executor.ledger.positions
    assert again.executor.registry.get("BTCUSDT") is None
    again.finish()

    assert read_external_closes(tmp_path) == [], "its exit was seen: not an unseen close"
    (trade,) = read_closed_trades(tmp_path)
    assert trade["exit_reason"] == "external_close" and trade["exit_price"] == 61_000.0
    assert trade["exit_ts"] == fake.now_ms / 1000
    assert trade["pnl"] == pytest.approx((61_000.0 - known["entry_price"]) * qty)
    entry_fee = known["entry_price"] * qty * TAKER_FEE
    assert trade["fees"] == pytest.approx(entry_fee + 61_000.0 * qty * TAKER_FEE)
    assert (trade["tp"], trade["sl"]) == (known["tp"], known["sl"])
    capsys.readouterr()
    assert main(["trades", "--state-dir", str(tmp_path)]) == 0
    assert "1 closed trades, net PnL" in capsys.readouterr().out


def _trade(side: str, amount: float, ms: float) -> dict[str, object]:
    return {"side": side, "amount": amount, "timestamp": ms, "price": 100.0, "order": "1"}


@pytest.mark.parametrize(
    ("trades", "picked"),
    [
        ([_trade("buy", 1.0, 0), _trade("sell", 0.4, 10), _trade("sell", 0.6, 20)], 2),
        ([_trade("sell", 0.5, 10), _trade("sell", 1.5, 20)], None),  # the newest overshoots
        ([_trade("sell", 0.5, 10), _trade("sell", 1.0, 20)], 1),  # the newest closes it all
        ([_trade("sell", 0.5, 10)], None),  # half of it: the rest unseen
        ([_trade("sell", 1.0, -5)], None),  # before the entry
        ([_trade("buy", 1.0, 10)], None),  # the wrong side for a long
    ],
)
def test_the_trades_that_closed_a_position_account_for_its_whole_size_or_none_is_guessed(
    trades: list[dict[str, object]], picked: int | None
) -> None:
    found = closing_trades(trades, Side.LONG, 1.0, 0.0, {"contractSize": 1.0})
    assert (None if found is None else len(found)) == picked


class _AskedVenue:
    """A venue that records what reconcile asks of its trades (and shows none)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Side, float, float]] = []

    def closing_fill(self, symbol: str, side: Side, qty: float, since: float) -> None:
        self.asked.append((symbol, side, qty, since))


def test_a_close_is_looked_for_only_in_trades_after_every_fill_the_engine_applied() -> None:
    """An earlier trade (the engine's own partial exit) must never be taken for the close."""
    ledger = PositionLedger()
    ledger.adopt("BTCUSDT", Side.LONG, 0.5, 60_000.0, 100.0)
    ledger.adopt("ETHUSDT", Side.SHORT, 2.0, 3_000.0, 900.0)
    ledger.last_fill_ts = 500.0
    venue = _AskedVenue()
    held = {"ETHUSDT": ExchangePosition("ETHUSDT", Side.SHORT, 2.0, 3_000.0)}
    assert closes_seen_by_venue(ledger, venue, held) == []
    assert venue.asked == [("BTCUSDT", Side.LONG, 0.5, 500.0)], "only the vanished one, since 500"


_SIDES = st.sampled_from(["buy", "sell"])
_TRADES = st.lists(
    st.tuples(_SIDES, st.sampled_from([0.25, 0.5, 1.0, 1.5]), st.integers(-10, 50)), max_size=8
)


@given(trades=_TRADES, qty=st.sampled_from([0.5, 1.0, 2.0]), side=st.sampled_from(list(Side)))
def test_the_trades_taken_for_a_close_are_the_newest_on_its_side_and_sum_to_its_size(
    trades: list[tuple[str, float, int]], qty: float, side: Side
) -> None:
    rows = [_trade(s, amount, ms) for s, amount, ms in trades]
    found = closing_trades(rows, side, qty, 0.0, {"contractSize": 1.0})
    closing = "sell" if side is Side.LONG else "buy"
    eligible = sorted(
        (r for r in rows if r["side"] == closing and float(r["timestamp"]) >= 0),  # type: ignore[arg-type]
        key=lambda r: float(r["timestamp"]),  # type: ignore[arg-type]
    )
    if found is None:  # no run of the newest eligible trades sums to exactly the size
        sums = [sum(float(r["amount"]) for r in eligible[-k:]) for k in range(1, len(eligible) + 1)]  # type: ignore[arg-type]
        assert all(abs(total - qty) > 1e-9 for total in sums)
        return
    assert all(r["side"] == closing and float(r["timestamp"]) >= 0 for r in found)  # type: ignore[arg-type]
    assert sum(float(r["amount"]) for r in found) == pytest.approx(qty)  # type: ignore[arg-type]
    newest = {id(r) for r in eligible[len(eligible) - len(found) :]}
    assert {id(r) for r in found} == newest, "the newest eligible trades, none skipped"


def _account_trade(fake: CannedBinance, side: str, qty: float, price: float, order: int,
                   ms: int) -> None:  # fmt: skip
    """A trade of the account on BTCUSDT, as Binance lists it (not through the engine)."""
    fake.trades.append({
        "buyer": side == "BUY", "commission": f"{qty * price * TAKER_FEE:.8f}",
        "commissionAsset": "USDT", "id": 6_000_000 + len(fake.trades), "maker": False,
        "orderId": order, "price": f"{price}", "qty": f"{qty}", "quoteQty": f"{qty * price:.5f}",
        "realizedPnl": "0", "side": side, "positionSide": "BOTH", "symbol": "BTCUSDT", "time": ms,
    })  # fmt: skip


def _scalped_then_closed(fake: CannedBinance, pairs: int, qty: float) -> list[float]:
    """After the entry, another tool on the account scalps BTCUSDT ``pairs`` times (a buy and a
    sell of 0.001 each, one millisecond apart), then the position is closed by hand with one
    market order that fills in three trades in one millisecond; return those trades' prices."""
    ms = SERVER_MS + 10 * 60_000
    for n in range(pairs):
        _account_trade(fake, "BUY", 0.001, 50_000.0, 7_000_000 + 2 * n, ms + 2 * n)
        _account_trade(fake, "SELL", 0.001, 50_100.0, 7_000_001 + 2 * n, ms + 2 * n + 1)
    close_ms, prices = ms + 2 * pairs + 5, [61_000.0, 60_990.0, 60_980.0]
    for part, price in zip((0.375, 0.375, 0.25), prices, strict=True):
        _account_trade(fake, "SELL", round(qty * part, 6), price, 9_000_000, close_ms)
    del fake.positions["BTCUSDT"]
    return prices


def _trade_pages(fake: CannedBinance, after: int) -> list[dict[str, str]]:
    """The account-trade queries by time (the close's lookup) made after request ``after``."""
    asked = [r.params for r in fake.requests[after:] if r.path == "/fapi/v1/userTrades"]
    return [p for p in asked if "startTime" in p]


def test_a_hand_close_behind_more_than_a_page_of_the_accounts_trades_is_priced_whole(
    tmp_path: Path,
) -> None:
    """Binance answers a start time with its oldest page of trades (500): the close, the
    newest, is on a later page, and that page's boundary falls inside the closing order's
    trades. Every page is read and the close is priced from all three of its trades (from the
    first page alone, its newest sells were the scalps' and the close's first part)."""
    fake, clock, known = _held_then_killed(tmp_path)
    qty = known["qty"]
    assert qty == pytest.approx(0.008), "the parts below sum to it only for this size"
    prices = _scalped_then_closed(fake, pairs=249, qty=qty)  # 498 trades: 500 ends in the close
    asked_from = len(fake.requests)
    _, again = _start(tmp_path, fake, clock)
    again.finish()

    assert read_external_closes(tmp_path) == [], "the close was seen"
    (trade,) = read_closed_trades(tmp_path)
    vwap = (0.003 * prices[0] + 0.003 * prices[1] + 0.002 * prices[2]) / 0.008
    assert trade["exit_reason"] == "external_close"
    assert trade["exit_price"] == pytest.approx(vwap), "priced from the close's trades only"
    pages = _trade_pages(fake, asked_from)
    assert 2 <= len(pages) <= MAX_TRADE_PAGES and all("limit" not in p for p in pages)
    assert pages[1]["startTime"] == str(SERVER_MS + 10 * 60_000 + 2 * 249 + 5), "from its ms"


def test_a_close_behind_more_pages_than_are_read_stays_unseen_rather_than_mispriced(
    tmp_path: Path,
) -> None:
    fake, clock, known = _held_then_killed(tmp_path)
    pages = MAX_TRADE_PAGES * USER_TRADES_PAGE
    _scalped_then_closed(fake, pairs=pages // 2 + 1, qty=known["qty"])
    asked_from = len(fake.requests)
    _, again = _start(tmp_path, fake, clock)
    again.finish()

    assert len(_trade_pages(fake, asked_from)) == MAX_TRADE_PAGES, "the lookup is bounded"
    assert read_closed_trades(tmp_path) == [], "a close priced from trades that are not it"
    (row,) = read_external_closes(tmp_path)
    assert row["symbol"] == "BTCUSDT" and row["qty"] == known["qty"]
