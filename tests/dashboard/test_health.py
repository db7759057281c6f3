"""Exit health: the traffic light of spec §6.2."""

from __future__ import annotations

from state_factory import NOW, iso

from dashboard.health import (
    GREEN,
    ORANGE,
    RED,
    UNKNOWN,
    exit_counts,
    exit_health,
    unprotected_symbols,
)

STALE = 300.0


def block(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "last_exit_scan_ts": iso(NOW - 10),
        "last_exit_trigger_ts": None,
        "open_positions_count": 3,
        "tp_sl_registered_count": 3,
        "tp_sl_missing_count": 0,
        "underwater_without_tp_sl_count": 0,
    }
    return {**base, **overrides}


def test_all_positions_protected_and_a_fresh_scan_is_green() -> None:
    health = exit_health(block(), NOW, STALE)
    assert health.level == GREEN and health.reasons == ()
    assert health.scan_age_seconds == 10 and health.trigger_age_seconds is None
    assert health.icon == "🟢" and health.headline().startswith("Exit pipeline healthy")


def test_an_underwater_position_without_tp_sl_is_red() -> None:
    health = exit_health(block(underwater_without_tp_sl_count=1, tp_sl_missing_count=1), NOW, STALE)
    assert health.level == RED
    assert health.reasons[0] == "1 underwater position(s) without TP/SL"
    assert health.icon == "🔴" and "needs attention" in health.headline()


def test_a_missing_tp_sl_that_is_not_underwater_is_orange() -> None:
    health = exit_health(block(tp_sl_missing_count=1), NOW, STALE)
    assert health.level == ORANGE and health.reasons == ("1 open position(s) missing TP/SL",)


def test_an_old_exit_scan_with_positions_open_is_orange_then_red() -> None:
    late = exit_health(block(last_exit_scan_ts=iso(NOW - 400)), NOW, STALE)
    assert late.level == ORANGE and "last exit scan 6.7 min ago (limit 5.0 min)" in late.reasons
    dead = exit_health(block(last_exit_scan_ts=iso(NOW - 4000)), NOW, STALE)
    assert dead.level == RED


def test_no_scan_ever_with_positions_open_is_red() -> None:
    assert exit_health(block(last_exit_scan_ts=None), NOW, STALE).level == RED


def test_an_old_scan_without_open_positions_is_fine() -> None:
    health = exit_health(
        block(open_positions_count=0, last_exit_scan_ts=iso(NOW - 10**6)), NOW, STALE
    )
    assert health.level == GREEN


def test_no_exit_pipeline_block_is_unknown_not_green() -> None:
    for value in ({}, None, "x"):
        assert exit_health(value, NOW, STALE).level == UNKNOWN


def test_garbage_counts_read_as_zero() -> None:
    counts = exit_counts(block(open_positions_count="3", underwater_without_tp_sl_count=-2))
    assert counts.open_positions == 0 and counts.underwater_without_tp_sl == 0


def test_unprotected_symbols_are_ledger_positions_without_both_levels() -> None:
    ledger = {"positions": {"BTCUSDT": {}, "ETHUSDT": {}, "SOLUSDT": {}}}
    registry = {
        "entries": {
            "BTCUSDT": {"tp_price": 2.0, "sl_price": 1.0},
            "SOLUSDT": {"tp_price": 2.0, "sl_price": None},
        }
    }
    assert unprotected_symbols(ledger, registry) == ["ETHUSDT", "SOLUSDT"]
    assert unprotected_symbols({"positions": "x"}, []) == []
