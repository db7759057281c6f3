"""A streamed CSV replay (read in chunks, merged k ways) gives what the whole-file load gives:
the same loops bar for bar, the same rejects in the same order, the same errors."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.market.bars import DataError, MergedBars, load_csv_dir, merge_series
from execution.market.series_scan import BitReader, BitWriter, Histogram
from execution.market.stream import StreamedBars, open_csv_replay

REAL_BTC = Path("/work/shared/data/btc_perp_1m")
T0_MS = 1_704_067_200_000
HEADER = "ts,open,high,low,close,volume"


def _loops(bars: MergedBars | StreamedBars, start: int = 0) -> list[list[tuple[float, ...]]]:
    return [[tuple(b) for b in g] for g in bars.loops(start)]


def _assert_stream_is_the_whole_load(d: Path, timeframe: str | None = None) -> None:
    series, rejects = load_csv_dir(d, timeframe)
    order = sorted(series, reverse=True)  # not the stream's own (sorted) order
    merged = merge_series(series, order)
    for rows in (3, 50, 65_536):
        stream, stream_rejects = open_csv_replay(d, timeframe, rows)
        stream = stream.in_order(order)
        assert list(stream_rejects.by_symbol.items()) == list(rejects.by_symbol.items())
        for sym, per in rejects.by_symbol.items():
            assert list(stream_rejects.by_symbol[sym]) == list(per)  # same order of reasons
        assert stream.symbols == merged.symbols
        assert len(stream) == len(merged) and stream.first_ts == merged.first_ts
        for start in (0, 1, len(merged) // 2, len(merged)):
            assert _loops(stream, start) == _loops(merged, start)


def _dirty_row(rng: random.Random, t_ms: int) -> str:
    price = round(rng.uniform(90, 110), 2)
    hi, lo = price + 1, price - 1
    kind = rng.random()
    if kind < 0.04:
        return "garbage,line"
    if kind < 0.07:
        return f"{t_ms},nan,{hi},{lo},{price},1"
    if kind < 0.10:
        return f"{t_ms},{price},{lo},{hi},{price},1"  # high below low
    if kind < 0.12:
        return f'"{t_ms}","{price}","{hi}","{lo}","{price}","2"'
    if kind < 0.14:
        return ""
    return f"{t_ms},{price},{hi},{lo},{price},{rng.randint(0, 9)}"


def _dirty_times(rng: random.Random, n: int) -> list[int]:
    times = [T0_MS + 60_000 * i for i in range(n)]
    for _ in range(max(1, n // 20)):
        i = rng.randrange(n)
        what = rng.random()
        if what < 0.3:
            times[i] = times[max(0, i - 1)]  # duplicate
        elif what < 0.6 and i + 1 < n:
            times[i], times[i + 1] = times[i + 1], times[i]  # swapped
        elif what < 0.8:
            times[i] += 20 * 365 * 86_400_000  # a lone bar far ahead
        else:
            times[i] -= 600_000  # from the past
    return times


def _write_dirty_dir(d: Path, seed: int, n: int) -> None:
    rng = random.Random(seed)
    for sym, parts in (("AAA", 1), ("BBB", 2), ("CCC", 1)):
        times = _dirty_times(rng, n)
        cut = [0, n // 2, n][:: 2 if parts == 1 else 1]
        for k, (a, b) in enumerate(zip(cut, cut[1:], strict=False)):
            lines = [HEADER] + [_dirty_row(rng, t) for t in times[a:b]]
            name = f"{sym}_1m_{k}.csv"
            text = "\r\n".join(lines) if rng.random() < 0.5 else "\n".join(lines)
            prefix = "\ufeff" if rng.random() < 0.3 else ""
            (d / name).write_text(prefix + text + "\n", encoding="utf-8")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 120))
def test_a_streamed_dirty_directory_replays_and_rejects_as_the_whole_load(
    tmp_path_factory: pytest.TempPathFactory, seed: int, n: int
) -> None:
    d = tmp_path_factory.mktemp("dirty")
    _write_dirty_dir(d, seed, n)
    try:
        load_csv_dir(d)
    except DataError as err:
        with pytest.raises(DataError) as streamed_err:
            open_csv_replay(d, None, 3)
        assert str(streamed_err.value) == str(err)
        return
    _assert_stream_is_the_whole_load(d)


def test_clean_files_of_three_symbols_at_different_times_merge_as_the_arrays(
    tmp_path: Path,
) -> None:
    for sym, step, offset in (("AAA", 60, 0), ("BBB", 120, 60), ("CCC", 60, 30)):
        rows = [f"{T0_MS + (offset + step * i) * 1000},1,2,0.5,1.5,3" for i in range(200)]
        (tmp_path / f"{sym}_1m.csv").write_text("\n".join([HEADER, *rows]), encoding="utf-8")
    _assert_stream_is_the_whole_load(tmp_path)


def test_a_second_file_repeating_the_first_ones_bars_counts_duplicates_as_the_whole_load(
    tmp_path: Path,
) -> None:
    rows = [f"{T0_MS + 60_000 * i},1,2,0.5,1.5,3" for i in range(5)]
    (tmp_path / "AAA_1m_a.csv").write_text("\n".join([HEADER, *rows[:3]]), encoding="utf-8")
    (tmp_path / "AAA_1m_b.csv").write_text("\n".join([HEADER, *rows]), encoding="utf-8")
    _assert_stream_is_the_whole_load(tmp_path)
    # b repeats t0, t1 (below the running maximum t2: out of order) and t2 (a duplicate)
    want = {"AAA": {"duplicate_ts": 1, "out_of_order_ts": 2}}
    assert open_csv_replay(tmp_path)[1].by_symbol == want


def test_a_file_whose_every_line_is_rejected_is_the_same_error_streamed(tmp_path: Path) -> None:
    (tmp_path / "AAA.csv").write_text(f"{HEADER}\n{T0_MS},1,2,1,2,1\n", encoding="utf-8")
    (tmp_path / "ZZZ.csv").write_text(f"{HEADER}\noops,1,1,1,1,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="ZZZ.csv: no valid bar") as whole:
        load_csv_dir(tmp_path)
    with pytest.raises(DataError) as streamed:
        open_csv_replay(tmp_path)
    assert str(streamed.value) == str(whole.value)


def test_the_median_of_a_histogram_is_numpys_median() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 1000, 1001):
        x = rng.choice([60.0, 120.0, 0.5, 1e-3, 7.25], size=n)
        h = Histogram()
        for part in np.array_split(x, 3):
            h.add(part)
        assert h.median() == float(np.median(x))


def test_bits_read_back_as_written_in_any_split() -> None:
    rng = np.random.default_rng(5)
    bits = rng.random(200_003) < 0.5
    w = BitWriter()
    for part in np.array_split(bits, 7):
        w.append(part)
    r = BitReader(w.getvalue())
    got = np.concatenate([r.take(len(p)) for p in np.array_split(bits, 11)])
    assert np.array_equal(got, bits)


@pytest.mark.skipif(not REAL_BTC.is_dir(), reason=f"real data absent: {REAL_BTC}")
def test_the_real_btc_file_streams_as_it_loads() -> None:
    series, _ = load_csv_dir(REAL_BTC)
    merged = merge_series(series, sorted(series))
    stream, rejects = open_csv_replay(REAL_BTC, None, 10_000)
    assert rejects.total == 0 and len(stream) == len(merged) == 45_031
    assert _loops(stream) == _loops(merged)
