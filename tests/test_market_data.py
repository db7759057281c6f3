"""Tests for execution.market.bars: validation, CSV replay, synthetic bars, merging."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.clock import from_iso
from execution.config import SymbolSpec, SyntheticConfig
from execution.market.bars import (
    BarSeries,
    DataError,
    MergedBars,
    SyntheticStream,
    concat_series,
    load_csv_dir,
    load_csv_file,
    merge_series,
    synthetic_series,
    timeframe_seconds,
    validate_bars,
)
from execution.types import RejectCounts

NAN = float("nan")
T0_MS = 1637971200000  # 2021-11-27T00:00:00Z


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _kline(open_time: int, o: float, h: float, lo: float, c: float, v: float) -> str:
    close_time = open_time + 59_999
    return f"{open_time},{o:.8f},{h:.8f},{lo:.8f},{c:.8f},{v:.8f},{close_time},1.5,79,10.0,0.5,0"


def _klines(n: int, scale: int = 1, start_ms: int = T0_MS) -> list[str]:
    """Return n 1m Binance kline rows; scale=1000 writes the open time in microseconds."""
    rows = []
    for i in range(n):
        p = 2.85e-5 + i * 1e-8
        rows.append(
            _kline((start_ms + i * 60_000) * scale, p, p + 2e-8, p - 2e-8, p + 1e-8, 100 + i)
        )
    return rows


def _validate(rows: list[tuple[float, ...]]) -> tuple[BarSeries, RejectCounts]:
    rejects = RejectCounts()
    ts, o, h, lo, c, v = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
    return validate_bars("X", ts, o, h, lo, c, v, rejects), rejects


def _specs(n: int) -> list[SymbolSpec]:
    prices = [60000.0, 3000.0, 150.0, 550.0, 0.6, 0.15, 1e-5, 25.0, 7.0, 1.2]
    return [SymbolSpec(symbol=f"SYM{i}USDT", base_price=prices[i % len(prices)]) for i in range(n)]


# --- validate_bars ----------------------------------------------------------------------------


def test_each_bad_bar_is_counted_once_under_its_first_failing_reason() -> None:
    good = (10.0, 11.0, 9.0, 10.0, 1.0)
    rows = [
        (1.0, *good),
        (2.0, NAN, 11.0, 9.0, 10.0, 1.0),  # nan
        (NAN, *good),  # nan ts
        (3.0, 1.0, 2.0, 0.0, 1.0, 1.0),  # non_positive low
        (4.0, 10.0, 11.0, 9.0, 10.0, -1.0),  # negative volume
        (5.0, 10.0, 9.0, 11.0, 10.0, 1.0),  # high_below_low (open is outside too)
        (6.0, 12.0, 11.0, 9.0, 10.0, 1.0),  # open_outside_range
        (7.0, 10.0, 11.0, 9.0, 8.0, 1.0),  # close_outside_range
        (8.0, *good),
        (8.0, *good),  # duplicate_ts
        (5.0, *good),  # out_of_order_ts: below the kept 8
        (9.0, *good),
        (20.0, 10.0, 11.0, 9.0, float("inf"), 1.0),  # inf counts as nan; its ts is ignored
        (10.0, *good),
    ]
    bars, rejects = _validate(rows)
    assert bars.ts.tolist() == [1.0, 8.0, 9.0, 10.0]
    assert rejects.by_symbol["X"] == {
        "nan": 3,
        "non_positive": 2,
        "high_below_low": 1,
        "open_outside_range": 1,
        "close_outside_range": 1,
        "duplicate_ts": 1,
        "out_of_order_ts": 1,
    }
    assert len(bars) + rejects.total == len(rows)


def test_time_checks_compare_with_the_running_maximum_of_earlier_valid_bars() -> None:
    good = (10.0, 11.0, 9.0, 10.0, 1.0)
    bars, rejects = _validate([(t, *good) for t in (1.0, 5.0, 3.0, 4.0, 5.0, 6.0)])
    assert bars.ts.tolist() == [1.0, 5.0, 6.0]
    assert rejects.by_symbol["X"] == {"out_of_order_ts": 2, "duplicate_ts": 1}


def test_validate_bars_rejects_columns_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="equal length"):
        validate_bars("X", [1.0, 2.0], [1.0], [1.0], [1.0], [1.0], [1.0], RejectCounts())


finite = st.floats(min_value=-5, max_value=20, allow_nan=False, allow_infinity=False)
value = st.one_of(finite, st.sampled_from([NAN, float("inf"), 0.0]))
bar_rows = st.lists(
    st.tuples(st.integers(0, 15).map(float), value, value, value, value, value), max_size=60
)


@settings(max_examples=200, deadline=None)
@given(bar_rows)
def test_kept_bars_are_increasing_and_consistent_and_every_bar_is_accounted_for(
    rows: list[tuple[float, ...]],
) -> None:
    rejects = RejectCounts()
    cols = [np.array([r[i] for r in rows], dtype=np.float64) for i in range(6)]
    bars = validate_bars("X", *cols, rejects)
    assert np.all(np.diff(bars.ts) > 0)
    assert np.all(bars.high >= np.maximum(bars.open, bars.close))
    assert np.all(bars.low <= np.minimum(bars.open, bars.close))
    assert np.all(bars.low > 0) and np.all(bars.volume >= 0)
    assert len(bars) + rejects.total == len(rows)


# --- CSV replay -------------------------------------------------------------------------------


def test_binance_klines_in_ms_and_us_and_with_a_header_give_identical_series(
    tmp_path: Path,
) -> None:
    header = "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    header += "taker_buy_volume,taker_buy_quote_volume,ignore"
    ms, _ = load_csv_file(_write(tmp_path / "ADABTC-1m-a.csv", _klines(5)))
    us, _ = load_csv_file(_write(tmp_path / "ADABTC-1m-b.csv", _klines(5, scale=1000)))
    hd, _ = load_csv_file(_write(tmp_path / "ADABTC-1m-c.csv", [header, *_klines(5)]))
    assert ms.symbol == "ADABTC" and len(ms) == 5
    assert ms.ts[0] == 1637971200.0 and ms.ts[1] - ms.ts[0] == 60.0
    assert ms.open[0] == pytest.approx(2.85e-5) and ms.volume[4] == 104.0
    assert ms.equals(us) and ms.equals(hd)


def test_headered_files_with_epoch_ms_and_iso_timestamps_agree(tmp_path: Path) -> None:
    epoch = [
        "ts,open,high,low,close,volume",
        "1704067200000,100,101,99,100.5,7",
        "1704067260000,100.5,102,100,101,8",
    ]
    iso = [
        "Timestamp,Open,High,Low,Close,Volume,Trades",
        "2024-01-01T00:00:00Z,100,101,99,100.5,7,3",
        "2024-01-01 00:01:00,100.5,102,100,101,8,4",
    ]
    a, _ = load_csv_file(_write(tmp_path / "BTCUSDT.csv", epoch))
    b, _ = load_csv_file(_write(tmp_path / "iso.csv", iso), symbol="BTCUSDT")
    assert a.ts.tolist() == [from_iso("2024-01-01T00:00:00Z"), 1704067260.0]
    assert a.close.tolist() == [100.5, 101.0]
    assert a.equals(b)


def test_malformed_lines_are_counted_and_never_fatal(tmp_path: Path) -> None:
    rows = _klines(6)
    rows[1] = rows[1].rsplit(",", 1)[0]  # 11 columns
    rows[2] = rows[2].replace(",79,", ",abc,").replace("0.0000285", "x.0000285", 1)
    rows[3] = ",".join(f if i != 5 else "" for i, f in enumerate(rows[3].split(",")))
    rows.append("1637971560000,0.0000")  # truncated last line
    path = _write(tmp_path / "ADABTC-1m-2021-11-27.csv", rows)
    bars, rejects = load_csv_file(path)
    assert len(bars) == 3
    assert rejects.by_symbol == {"ADABTC": {"malformed_line": 4}}

    iso = ["timestamp,open,high,low,close,volume", "2024-01-01T00:00:00Z,1,1,1,1,1"]
    iso += ["not-a-date,1,1,1,1,1", "2024-01-01T00:02:00Z,1,1,1,1,nan"]
    bars, rejects = load_csv_file(_write(tmp_path / "X.csv", iso))
    assert len(bars) == 1
    assert rejects.by_symbol == {"X": {"malformed_line": 1, "nan": 1}}


def test_files_of_one_symbol_are_joined_in_file_name_order(tmp_path: Path) -> None:
    day2 = T0_MS + 86_400_000
    _write(tmp_path / "ADABTC-1m-2021-11-28.csv", _klines(4, start_ms=day2))
    _write(tmp_path / "ADABTC-1m-2021-11-27.csv", _klines(3))
    _write(tmp_path / "BTCUSDT.csv", ["ts,open,high,low,close,volume", "1704067200000,1,2,1,2,3"])
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub" / "ETHUSDT.csv", _klines(2))  # not recursive
    series, rejects = load_csv_dir(tmp_path)
    assert sorted(series) == ["ADABTC", "BTCUSDT"]
    ada = series["ADABTC"]
    assert len(ada) == 7 and np.all(np.diff(ada.ts) > 0)
    assert ada.ts[3] == day2 / 1000
    assert rejects.total == 0


def test_overlapping_files_count_duplicates_and_empty_files_are_skipped(tmp_path: Path) -> None:
    _write(tmp_path / "ADABTC-1m-a.csv", _klines(3))
    _write(tmp_path / "ADABTC-1m-b.csv", _klines(5))  # first 3 bars repeat file a
    _write(tmp_path / "EMPTY.csv", [""])
    series, rejects = load_csv_dir(tmp_path)
    assert list(series) == ["ADABTC"] and len(series["ADABTC"]) == 5
    # b's first two bars are below a's last one (out of order), its third equals it.
    ada = {"duplicate_ts": 1, "out_of_order_ts": 2}
    assert rejects.by_symbol == {"ADABTC": ada}


def test_a_file_whose_every_line_is_rejected_is_an_error_naming_it(tmp_path: Path) -> None:
    _write(tmp_path / "ADABTC-1m-a.csv", _klines(3))
    _write(tmp_path / "ZZZ.csv", ["ts,open,high,low,close,volume", "oops,1,1,1,1,1"])
    with pytest.raises(
        DataError, match=r"ZZZ.csv: no valid bar: all 1 line\(s\) rejected \(1 malformed_line\)"
    ):
        load_csv_dir(tmp_path)


def test_unusable_input_raises_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_csv_dir(tmp_path / "missing")
    with pytest.raises(DataError, match=r"no \*\.csv files"):
        load_csv_dir(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load_csv_file(tmp_path / "missing.csv")
    _write(tmp_path / "rates.csv", ["ts,funding_rate", "1637193600017,0.0001"])
    with pytest.raises(DataError, match="rates.csv: unrecognised CSV format"):
        load_csv_dir(tmp_path)
    (tmp_path / "rates.csv").unlink()
    _write(tmp_path / "BAD.csv", ["ts,open,high,low,close,volume", "1,2,1,2,2,1"])
    with pytest.raises(DataError, match="BAD.csv: no valid bar"):
        load_csv_dir(tmp_path)


# --- synthetic --------------------------------------------------------------------------------


def _same(a: dict[str, BarSeries], b: dict[str, BarSeries]) -> bool:
    return list(a) == list(b) and all(a[s].equals(b[s]) for s in a)


def test_synthetic_series_is_deterministic_per_seed() -> None:
    specs = _specs(3)
    a = synthetic_series(specs, 2000, SyntheticConfig(seed=1), 60)
    b = synthetic_series(specs, 2000, SyntheticConfig(seed=1), 60)
    c = synthetic_series(specs, 2000, SyntheticConfig(seed=2), 60)
    assert _same(a, b)
    assert not any(np.array_equal(a[s].close, c[s].close) for s in a)


def test_synthetic_bars_are_consistent_ohlc_over_ten_symbols() -> None:
    cfg = SyntheticConfig()
    specs = _specs(10)
    out = synthetic_series(specs, 5000, cfg, 60)
    start = from_iso(cfg.start)
    for spec in specs:
        b = out[spec.symbol]
        assert len(b) == 5000 and b.ts[0] == start and np.all(np.diff(b.ts) == 60.0)
        assert np.all(b.high >= np.maximum(b.open, b.close))
        assert np.all(b.low <= np.minimum(b.open, b.close))
        assert np.all(b.low > 0) and np.all(b.volume > 0)
        assert b.open[0] == spec.base_price
        continuous = np.mean(b.open[1:] == b.close[:-1])
        assert 0.9 < continuous < 1.0  # mostly continuous, with a few gaps
        assert (
            len(
                validate_bars(
                    b.symbol, b.ts, b.open, b.high, b.low, b.close, b.volume, RejectCounts()
                )
            )
            == 5000
        )


def test_synthetic_series_contains_both_up_and_down_trends() -> None:
    out = synthetic_series(_specs(10), 5000, SyntheticConfig(), 60)
    window = 300
    t_stats = []
    for b in out.values():
        r = np.diff(np.log(b.close))[: (len(b) - 1) // window * window].reshape(-1, window)
        # The window's mean return over its own realised vol: immune to volatility regimes.
        t_stats.extend(r.sum(axis=1) / (r.std(axis=1) * np.sqrt(window)))
    # Without drift |t| > 3 happens in ~0.3% of windows (~0.5 of these 160).
    assert sum(t > 3.0 for t in t_stats) >= 3 and sum(t < -3.0 for t in t_stats) >= 3


def test_stream_chunks_concatenate_to_the_batch_series() -> None:
    specs, cfg = _specs(3), SyntheticConfig(seed=11)
    for chunk, k in ((256, 4), (100, 3), (1024, 2)):
        stream = SyntheticStream(specs, cfg, 60, chunk_bars=chunk)
        chunks = [stream.next_chunk() for _ in range(k)]
        joined = {s: concat_series([c[s] for c in chunks]) for s in chunks[0]}
        assert stream.bars_emitted == chunk * k
        assert _same(joined, synthetic_series(specs, chunk * k, cfg, 60))


def test_synthetic_start_defaults_to_the_configured_start() -> None:
    cfg = SyntheticConfig(start="2024-03-01T00:00:00Z")
    out = synthetic_series(_specs(1), 3, cfg, 300)
    assert out["SYM0USDT"].ts.tolist() == [1709251200.0, 1709251500.0, 1709251800.0]
    assert synthetic_series(_specs(1), 1, cfg, 300, start_ts=5.0)["SYM0USDT"].ts[0] == 5.0


# --- merge and helpers ------------------------------------------------------------------------


def _series(symbol: str, ts: list[float]) -> BarSeries:
    t = np.array(ts, dtype=np.float64)
    return BarSeries(symbol, t, t + 1, t + 2, t, t + 1, np.ones_like(t))


def test_merge_orders_by_time_then_symbol_position_and_appends_unknown_symbols() -> None:
    series = {
        "A": _series("A", [1.0, 2.0, 3.0]),
        "C": _series("C", [2.0]),
        "B": _series("B", [2.0, 4.0]),
    }
    merged = merge_series(series, ["B", "A", "X"])
    assert merged.symbols == ["B", "A", "X", "C"]
    names = [merged.symbols[i] for i in merged.sym_idx]
    assert list(zip(merged.ts, names, strict=True)) == [
        (1.0, "A"),
        (2.0, "B"),
        (2.0, "A"),
        (2.0, "C"),
        (3.0, "A"),
        (4.0, "B"),
    ]
    assert len(merged) == 6 and merged.open[0] == 2.0 and merged.volume[0] == 1.0
    assert type(merged.ts[0]) is float and type(merged.sym_idx[0]) is int  # plain scalars
    assert len(merge_series({}, ["A"])) == 0
    # One engine loop per time: where each run of equal times ends.
    assert list(merged.loop_ends()) == [1, 4, 5, 6]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=60))
def test_loop_ends_split_the_merged_bars_into_runs_of_one_time(times: list[int]) -> None:
    merged = merge_series({"A": _series("A", sorted(float(t) for t in times))}, ["A"])
    ends = list(merged.loop_ends())
    starts = [0, *ends[:-1]]
    assert ends[-1] == len(merged) and all(a < b for a, b in zip(starts, ends, strict=True))
    for a, b in zip(starts, ends, strict=True):
        assert len(set(merged.ts[a:b])) == 1  # one time per loop
        assert b == len(merged) or merged.ts[b] != merged.ts[a]  # and every bar of it
    # Bars built without the ends (by hand) get them computed.
    bare = MergedBars(merged.symbols, merged.ts, merged.sym_idx, merged.open, merged.high,
                      merged.low, merged.close, merged.volume)  # fmt: skip
    assert list(bare.loop_ends()) == ends


def test_timeframe_seconds_knows_the_supported_timeframes() -> None:
    assert [timeframe_seconds(tf) for tf in ("1m", "3m", "5m", "15m", "30m", "1h", "4h", "1d")] == [
        60,
        180,
        300,
        900,
        1800,
        3600,
        14_400,
        86_400,
    ]
    with pytest.raises(ValueError, match="unknown timeframe"):
        timeframe_seconds("2w")


def test_bar_series_rejects_arrays_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="length"):
        BarSeries("X", np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(1), np.zeros(2), np.zeros(2))


def test_one_bar_dated_twenty_years_ahead_is_dropped_and_the_bars_after_it_are_kept() -> None:
    good = (10.0, 11.0, 9.0, 10.0, 1.0)
    minute = 60.0
    ts = [i * minute for i in range(3000)]
    ts[1000] += 20 * 365 * 86_400.0
    bars, rejects = _validate([(t, *good) for t in ts])
    assert rejects.by_symbol["X"] == {"ts_far_ahead": 1}
    assert len(bars) == 2999 and bars.ts.tolist()[999:1001] == [999 * minute, 1001 * minute]


def test_swapped_neighbours_are_an_order_problem_not_a_bar_far_ahead() -> None:
    good = (10.0, 11.0, 9.0, 10.0, 1.0)
    bars, rejects = _validate([(t, *good) for t in (1.0, 2.0, 4.0, 3.0, 5.0)])
    assert rejects.by_symbol["X"] == {"out_of_order_ts": 1}
    assert bars.ts.tolist() == [1.0, 2.0, 4.0, 5.0]
