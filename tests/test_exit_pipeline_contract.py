"""Exit pipeline contract (spec §8.2): the scanner's health counts and TP/SL exits.

A fake ledger and registry (plain dataclasses) and a marks dict drive ``scan_tp_sl_exits``; the
diagnostics are checked both through the snapshot and by monkeypatching the three calls the
scanner makes. ``decide_exit``'s documented rules (gap fills at the open, the level otherwise,
SL wins a bar that crosses both) are checked by example, and by a hypothesis property against an
independent oracle that walks each bar's price path tick by tick.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import execution.exit_scanner as exit_scanner
from execution.diagnostics_metrics import (
    DiagnosticsSettings,
    build_runtime_diagnostics_snapshot,
    configure,
    get_exit_status,
)
from execution.exit_scanner import (
    ExitPipelineCounts,
    PriceObs,
    decide_exit,
    pipeline_counts,
    scan_tp_sl_exits,
)
from execution.types import ExitKind, Side

T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z
ISO0 = "2024-01-01T00:00:00Z"


@dataclass(frozen=True)
class FakePosition:
    symbol: str
    side: Side
    qty: float
    entry_price: float


@dataclass(frozen=True)
class FakeEntry:
    symbol: str
    tp_price: float
    sl_price: float


@dataclass
class FakeLedger:
    positions: list[FakePosition] = field(default_factory=list)

    def get_open_positions(self) -> list[FakePosition]:
        return list(self.positions)


@dataclass
class FakeRegistry:
    entries: list[FakeEntry] = field(default_factory=list)

    def get_all_entries(self) -> list[FakeEntry]:
        return list(self.entries)


class Calls:
    """Records the scanner's diagnostics calls (installed over exit_scanner's imports)."""

    def __init__(self) -> None:
        self.scans = 0
        self.triggers: list[tuple[str | None, str | None]] = []
        self.status: list[dict[str, int]] = []

    def record_exit_scan_run(self) -> None:
        self.scans += 1

    def record_exit_trigger(self, kind: str | None = None, symbol: str | None = None) -> None:
        self.triggers.append((kind, symbol))

    def update_exit_pipeline_status(self, **counts: int) -> None:
        self.status.append(counts)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    rec = Calls()
    monkeypatch.setattr(exit_scanner, "record_exit_scan_run", rec.record_exit_scan_run)
    monkeypatch.setattr(exit_scanner, "record_exit_trigger", rec.record_exit_trigger)
    monkeypatch.setattr(
        exit_scanner, "update_exit_pipeline_status", rec.update_exit_pipeline_status
    )
    return rec


@pytest.fixture
def engine_clock() -> float:
    configure(DiagnosticsSettings(), clock=lambda: T0)
    return T0


# A book of six open positions: three with TP/SL (one of them deep under water, which does not
# count: it is protected), three without (two beyond the -2% threshold, one only -1%), plus a
# registry entry left over for a symbol that is no longer open.
POSITIONS = [
    FakePosition("BTCUSDT", Side.LONG, 0.5, 100.0),
    FakePosition("ETHUSDT", Side.SHORT, 2.0, 50.0),
    FakePosition("BNBUSDT", Side.LONG, 1.0, 500.0),
    FakePosition("SOLUSDT", Side.LONG, 3.0, 20.0),
    FakePosition("XRPUSDT", Side.SHORT, 100.0, 1.0),
    FakePosition("DOGEUSDT", Side.LONG, 50.0, 10.0),
]
ENTRIES = [
    FakeEntry("BTCUSDT", tp_price=110.0, sl_price=95.0),
    FakeEntry("ETHUSDT", tp_price=45.0, sl_price=52.0),
    FakeEntry("BNBUSDT", tp_price=600.0, sl_price=400.0),
    FakeEntry("ADAUSDT", tp_price=1.0, sl_price=0.5),  # stale: ADA is not open
]
MARKS = {
    "BTCUSDT": 101.0,
    "ETHUSDT": 49.0,
    "BNBUSDT": 450.0,  # -10%, but protected
    "SOLUSDT": 19.0,  # -5% long, no TP/SL
    "XRPUSDT": 1.03,  # -3% short, no TP/SL
    "DOGEUSDT": 9.9,  # -1%, within the threshold
}
EXPECTED_COUNTS = {
    "open_positions_count": 6,
    "tp_sl_registered_count": 3,
    "tp_sl_missing_count": 3,
    "underwater_without_tp_sl_count": 2,
}
QUIET: dict[str, PriceObs] = {s: (m, m, m, m) for s, m in MARKS.items()}
# BTC's bar reaches its TP (110); ETH's bar reaches its short SL (52).
CROSSING: dict[str, PriceObs] = {
    **QUIET,
    "BTCUSDT": (101.0, 111.0, 100.5, 110.5),
    "ETHUSDT": (49.0, 52.5, 48.8, 52.2),
}


def scan(prices: dict[str, PriceObs], **kwargs: Any) -> exit_scanner.ExitScanResult:
    return scan_tp_sl_exits(
        FakeLedger(POSITIONS), FakeRegistry(ENTRIES), prices, MARKS, T0, **kwargs
    )


# --- spec §8.2.1: every scan is recorded, with the right counts ---------------------------------


def test_a_scan_calls_record_exit_scan_run_and_reports_the_counts(calls: Calls) -> None:
    result = scan(QUIET)

    assert calls.scans == 1
    assert calls.status == [EXPECTED_COUNTS]
    assert calls.triggers == []
    assert result.exit_intents == []
    assert result.counts == ExitPipelineCounts(**EXPECTED_COUNTS)
    assert sorted(result.missing_symbols) == ["DOGEUSDT", "SOLUSDT", "XRPUSDT"]


def test_a_scan_is_visible_in_the_diagnostics_snapshot(engine_clock: float) -> None:
    scan(QUIET)

    status = get_exit_status()
    assert status.last_exit_scan_ts == ISO0
    assert status.last_exit_trigger_ts is None
    assert (
        status.open_positions_count,
        status.tp_sl_registered_count,
        status.tp_sl_missing_count,
        status.underwater_without_tp_sl_count,
    ) == tuple(EXPECTED_COUNTS.values())
    snap = build_runtime_diagnostics_snapshot()
    assert snap.exit_pipeline_status == status
    assert snap.exit_triggers_by_kind == {}


def test_an_empty_book_reports_zero_counts(calls: Calls) -> None:
    result = scan_tp_sl_exits(FakeLedger(), FakeRegistry(ENTRIES), {}, {}, T0)
    assert not result.exit_intents and not result.missing_symbols
    assert calls.scans == 1
    assert calls.status == [dict.fromkeys(EXPECTED_COUNTS, 0)]


# --- the canary: a fraction of entry notional, switchable ---------------------------------------


def test_the_underwater_threshold_is_a_fraction_of_entry_notional() -> None:
    book: list[Any] = [
        FakePosition("AUSDT", Side.LONG, 1.0, 100.0),
        FakePosition("BUSDT", Side.SHORT, 1.0, 100.0),
        FakePosition("CUSDT", Side.LONG, 1.0, 100.0),
        FakePosition("DUSDT", Side.LONG, 1.0, 100.0),
    ]
    # A at exactly -2% counts (<=); B short at -2.5% counts; C at -1.99% and D at +5% do not.
    marks = {"AUSDT": 98.0, "BUSDT": 102.5, "CUSDT": 98.01, "DUSDT": 105.0}
    counts = pipeline_counts(book, set(), marks, -0.02)
    assert counts.underwater_without_tp_sl_count == 2
    # -0.02 is -2%, not -0.02%: a position 1% under water is inside the threshold.
    assert pipeline_counts(book[2:3], set(), {"CUSDT": 99.0}, -0.02) == ExitPipelineCounts(
        1, 0, 1, 0
    )
    assert pipeline_counts(book, set(), marks, -0.05).underwater_without_tp_sl_count == 0


def test_positions_without_a_mark_or_entry_price_are_not_underwater() -> None:
    book: list[Any] = [
        FakePosition("AUSDT", Side.LONG, 1.0, 100.0),  # no mark yet
        FakePosition("BUSDT", Side.LONG, 1.0, 0.0),  # unknown entry (adopted)
    ]
    counts = pipeline_counts(book, set(), {"BUSDT": 1.0}, -0.02)
    assert counts == ExitPipelineCounts(2, 0, 2, 0)


def test_the_canary_is_skipped_when_disabled(calls: Calls) -> None:
    scan(QUIET, underwater_threshold=-0.02, canary_enabled=False)
    assert calls.status == [{**EXPECTED_COUNTS, "underwater_without_tp_sl_count": 0}]


def test_the_scanner_uses_the_threshold_it_is_given(calls: Calls) -> None:
    scan(QUIET, underwater_threshold=-0.04)  # only SOL (-5%) is beyond -4%
    assert calls.status[0]["underwater_without_tp_sl_count"] == 1


# --- spec §8.2.2: marks crossing SL/TP create exit intents and record the trigger ---------------


def test_marks_crossing_tp_and_sl_create_exit_intents(calls: Calls) -> None:
    result = scan(CROSSING)

    by_symbol = {i.symbol: i for i in result.exit_intents}
    assert set(by_symbol) == {"BTCUSDT", "ETHUSDT"}
    btc, eth = by_symbol["BTCUSDT"], by_symbol["ETHUSDT"]
    assert (btc.kind, btc.price, btc.level, btc.side, btc.qty, btc.ts) == (
        ExitKind.TP,
        110.0,
        110.0,
        Side.LONG,
        0.5,
        T0,
    )
    assert (eth.kind, eth.price, eth.level, eth.side, eth.qty) == (
        ExitKind.SL,
        52.0,
        52.0,
        Side.SHORT,
        2.0,
    )
    assert sorted(calls.triggers) == [("sl", "ETHUSDT"), ("tp", "BTCUSDT")]
    assert calls.scans == 1
    assert calls.status == [EXPECTED_COUNTS]  # counts are of the book as scanned


def test_an_exit_trigger_is_visible_in_the_diagnostics_snapshot(engine_clock: float) -> None:
    result = scan(CROSSING)

    assert len(result.exit_intents) == 2
    snap = build_runtime_diagnostics_snapshot()
    assert snap.exit_pipeline_status.last_exit_trigger_ts == ISO0
    assert snap.exit_pipeline_status.last_exit_scan_ts == ISO0
    assert snap.exit_triggers_by_kind == {"tp": 1, "sl": 1}


@pytest.mark.parametrize(
    ("side", "bar", "expected"),
    [
        # long, TP 110, SL 95
        (Side.LONG, (100.0, 109.9, 95.1, 105.0), None),
        (Side.LONG, (100.0, 110.0, 99.0, 109.0), (ExitKind.TP, 110.0)),
        (Side.LONG, (100.0, 101.0, 95.0, 96.0), (ExitKind.SL, 95.0)),
        (Side.LONG, (100.0, 112.0, 94.0, 100.0), (ExitKind.SL, 95.0)),  # both: SL wins
        (Side.LONG, (93.0, 96.0, 92.0, 95.5), (ExitKind.SL, 93.0)),  # gap below SL: the open
        (Side.LONG, (113.0, 114.0, 94.0, 100.0), (ExitKind.TP, 113.0)),  # gap above TP
        # short, TP 90, SL 105
        (Side.SHORT, (100.0, 104.9, 90.1, 95.0), None),
        (Side.SHORT, (100.0, 101.0, 90.0, 91.0), (ExitKind.TP, 90.0)),
        (Side.SHORT, (100.0, 105.0, 99.0, 104.0), (ExitKind.SL, 105.0)),
        (Side.SHORT, (100.0, 106.0, 89.0, 100.0), (ExitKind.SL, 105.0)),  # both: SL wins
        (Side.SHORT, (107.0, 108.0, 104.0, 104.5), (ExitKind.SL, 107.0)),  # gap above SL
        (Side.SHORT, (88.0, 106.0, 87.0, 100.0), (ExitKind.TP, 88.0)),  # gap below TP
    ],
)
def test_decide_exit_follows_the_documented_fill_rules(
    side: Side, bar: PriceObs, expected: tuple[ExitKind, float] | None
) -> None:
    tp, sl = (110.0, 95.0) if side is Side.LONG else (90.0, 105.0)
    o, h, lo, _c = bar
    assert decide_exit(side, tp, sl, o, h, lo) == expected


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
def test_a_live_mark_beyond_a_level_exits_at_the_mark(side: Side) -> None:
    """Live, a mark is a bar with open = high = low: beyond the level it is a gap fill."""
    tp, sl = (110.0, 95.0) if side is Side.LONG else (90.0, 105.0)
    beyond_sl = 94.0 if side is Side.LONG else 106.0
    beyond_tp = 111.0 if side is Side.LONG else 89.0
    assert decide_exit(side, tp, sl, beyond_sl, beyond_sl, beyond_sl) == (ExitKind.SL, beyond_sl)
    assert decide_exit(side, tp, sl, beyond_tp, beyond_tp, beyond_tp) == (ExitKind.TP, beyond_tp)
    assert decide_exit(side, tp, sl, 100.0, 100.0, 100.0) is None


def test_a_position_without_a_new_price_is_not_tested(calls: Calls) -> None:
    prices = {k: v for k, v in CROSSING.items() if k != "BTCUSDT"}
    result = scan(prices)
    assert [i.symbol for i in result.exit_intents] == ["ETHUSDT"]
    assert calls.triggers == [("sl", "ETHUSDT")]


# --- property: an independent oracle walks each bar's price path tick by tick ------------------
#
# The oracle knows only the fill model (docs/architecture.md, step 2): within a bar the price
# jumps to the open (nothing trades between the previous close and the open), then moves one
# tick at a time to the extreme against the position, then to the extreme in its favour, then
# to the close: the pessimistic reading of an unknown intra-bar path. The first price of the walk
# at or beyond a level fills the exit at that price. Gap fills at the open and "SL wins a bar
# that crosses both" are not written down here: they follow from the walk.

TICK = 0.5  # prices, TP and SL all lie on this grid, so a one-tick walk touches a level exactly
ENTRY_TICKS = 200  # entry price 100.0

TickBar = tuple[int, int, int, int]  # open, high, low, close, in ticks


def bar_walk(side: Side, bar: TickBar) -> Iterator[int]:
    """Every price (in ticks) one bar passes through, in the order the fill model assumes."""
    o, h, lo, c = bar
    against, favour = (lo, h) if side is Side.LONG else (h, lo)
    yield o
    for start, end in ((o, against), (against, favour), (favour, c)):
        step = 1 if end >= start else -1
        yield from range(start + step, end + step, step)


def first_touch(
    side: Side, tp: int, sl: int, bars: list[TickBar]
) -> tuple[int, ExitKind, float] | None:
    """The bar index, kind and fill price of the first level the walked path reaches."""
    sign = side.sign  # +1: a long gains as the price rises
    for k, bar in enumerate(bars):
        for price in bar_walk(side, bar):
            if (price - sl) * sign <= 0:
                return k, ExitKind.SL, price * TICK
            if (price - tp) * sign >= 0:
                return k, ExitKind.TP, price * TICK
    return None


WICKS = st.sampled_from([0, 1, 2, 3, 4, 30])  # a long wick now and then crosses both levels


@st.composite
def tick_paths(draw: st.DrawFn) -> tuple[Side, int, int, list[TickBar]]:
    """A side, TP and SL around the entry and a random walk of valid bars, all in ticks.

    Each bar opens near the previous close (sometimes gapping), closes a few ticks away and has
    wicks (some long): exits happen on the first bar or many bars later, by gap, by level, or
    on a bar that crosses both levels.
    """
    side = draw(st.sampled_from([Side.LONG, Side.SHORT]))
    gain = draw(st.integers(1, 24))  # ticks from the entry to TP
    loss = draw(st.integers(1, 24))  # ticks from the entry to SL
    tp, sl = ENTRY_TICKS + side.sign * gain, ENTRY_TICKS - side.sign * loss
    bars: list[TickBar] = []
    close = ENTRY_TICKS
    for _ in range(draw(st.integers(1, 40))):
        o = close + draw(st.sampled_from([0, 0, 0, 0, -1, 1, -2, 2, -8, 8]))
        c = o + draw(st.integers(-4, 4))
        bars.append((o, max(o, c) + draw(WICKS), min(o, c) - draw(WICKS), c))
        close = c
    return side, tp, sl, bars


def test_the_walk_passes_through_every_price_of_a_bar_adverse_extreme_first() -> None:
    assert list(bar_walk(Side.LONG, (4, 6, 2, 5))) == [4, 3, 2, 3, 4, 5, 6, 5]
    assert list(bar_walk(Side.SHORT, (4, 6, 2, 5))) == [4, 5, 6, 5, 4, 3, 2, 3, 4, 5]
    assert list(bar_walk(Side.LONG, (7, 7, 7, 7))) == [7]  # a live mark: one price


@settings(max_examples=400, deadline=None)
@given(tick_paths())
def test_tp_sl_fires_on_the_first_level_the_walked_price_path_reaches(
    path: tuple[Side, int, int, list[TickBar]],
) -> None:
    configure()  # hypothesis runs many examples in one test: start each one fresh
    side, tp_ticks, sl_ticks, tick_bars = path
    tp, sl = tp_ticks * TICK, sl_ticks * TICK
    ledger = FakeLedger([FakePosition("BTCUSDT", side, 1.0, ENTRY_TICKS * TICK)])
    registry = FakeRegistry([FakeEntry("BTCUSDT", tp, sl)])
    fired: tuple[int, ExitKind, float] | None = None
    for k, bar in enumerate(tick_bars):
        prices: PriceObs = (bar[0] * TICK, bar[1] * TICK, bar[2] * TICK, bar[3] * TICK)
        result = scan_tp_sl_exits(ledger, registry, {"BTCUSDT": prices}, {}, T0 + 60 * k)
        if result.exit_intents:
            (intent,) = result.exit_intents
            fired = (k, intent.kind, intent.price)
            assert intent.level == (sl if intent.kind is ExitKind.SL else tp)
            assert intent.ts == T0 + 60 * k
            break
    assert fired == first_touch(side, tp_ticks, sl_ticks, tick_bars)
    triggers = build_runtime_diagnostics_snapshot().exit_triggers_by_kind
    assert triggers == ({} if fired is None else {fired[1].value: 1})
