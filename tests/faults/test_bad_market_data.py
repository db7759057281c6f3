"""Bad market data: every malformed bar is rejected and counted under its reason, never traded on.

Each case corrupts one symbol's CSV; the loader must keep exactly the good bars (bit-identical
to the file without the bad rows) and count each bad one once. Files that cannot be used at all
are a one-line `input error` naming the path, exit 2, nothing written. Finally the engine, run on
a file carrying every kind of defect, trades exactly as on the clean file.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from execution.cli import main as v7_main
from execution.config import load_config
from execution.market.bars import BarSeries, DataError, load_csv_dir, synthetic_series

from .helpers import BASE_CONFIG, FIGURES, diff_keys, final_outcome, frequent_publish_config, load

pytestmark = pytest.mark.timeout(120)

HEADER = "timestamp,open,high,low,close,volume"
N = 1_500
Row = list[str]


def _rows(symbol: str, n: int = N) -> list[Row]:
    cfg = load_config(BASE_CONFIG)
    spec = next(s for s in cfg.universe if s.symbol == symbol)
    bs = synthetic_series([spec], n, cfg.data.synthetic, 60)[symbol]
    cols = (bs.ts * 1000, bs.open, bs.high, bs.low, bs.close, bs.volume)
    return [[str(int(t)), *(repr(float(x)) for x in vals)] for t, *vals in zip(*cols, strict=True)]


ETH = _rows("ETHUSDT")
BTC = _rows("BTCUSDT")
I = 700  # where the damage goes  # noqa: E741


def _lines(rows: list[Row]) -> list[str]:
    return [",".join(r) for r in rows]


def _set(rows: list[Row], i: int, col: int, value: str) -> list[Row]:
    out = [list(r) for r in rows]
    out[i][col] = value
    return out


def _scaled_ts(rows: list[Row], factor: float, which: Callable[[int], bool]) -> list[str]:
    return [
        ",".join([str(int(int(r[0]) * factor)) if which(i) else r[0], *r[1:]])
        for i, r in enumerate(rows)
    ]


def _iso(ms: str) -> str:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _kline(r: Row) -> str:
    t = int(r[0])
    return ",".join([r[0], *r[1:], str(t + 59_999), "1", "1", "1", "1", "0"])


DROP_I = [i for i in range(N) if i != I]
ALL = list(range(N))

# (case, file text or lines, expected rejects {reason: n}, indexes of ETH rows that must remain)
Case = tuple[str, list[str] | str | bytes, dict[str, int], list[int]]
CASES: list[Case] = [
    ("truncated_line", _lines(ETH[:I]) + [",".join(ETH[I])[:15]] + _lines(ETH[I + 1 :]),
     {"malformed_line": 1}, DROP_I),
    # cut inside its fields (a cut inside the last number still parses: see reliability.md)
    ("cut_mid_write_at_the_end", "\n".join([HEADER, *_lines(ETH[:-1]), ",".join(ETH[-1][:3])]),
     {"malformed_line": 1}, ALL[:-1]),
    ("extra_column", _lines(ETH[:I]) + [",".join(ETH[I]) + ",7"] + _lines(ETH[I + 1 :]),
     {"malformed_line": 1}, DROP_I),
    ("missing_column", _lines(ETH[:I]) + [",".join(ETH[I][:-1])] + _lines(ETH[I + 1 :]),
     {"malformed_line": 1}, DROP_I),
    ("nan_close", _lines(_set(ETH, I, 4, "nan")), {"nan": 1}, DROP_I),
    ("inf_high", _lines(_set(ETH, I, 2, "inf")), {"nan": 1}, DROP_I),
    ("empty_field", _lines(_set(ETH, I, 1, "")), {"malformed_line": 1}, DROP_I),
    ("text_in_price", _lines(_set(ETH, I, 3, "abc")), {"malformed_line": 1}, DROP_I),
    ("zero_price", _lines(_set(ETH, I, 1, "0")), {"non_positive": 1}, DROP_I),
    ("negative_low", _lines(_set(ETH, I, 3, "-5.0")), {"non_positive": 1}, DROP_I),
    ("negative_volume", _lines(_set(ETH, I, 5, "-1")), {"non_positive": 1}, DROP_I),
    ("high_below_low", _lines(_set(_set(ETH, I, 2, ETH[I][3]), I, 3, ETH[I][2])),
     {"high_below_low": 1}, DROP_I),
    ("open_above_high", _lines(_set(ETH, I, 1, repr(float(ETH[I][2]) * 1.1))),
     {"open_outside_range": 1}, DROP_I),
    ("close_below_low", _lines(_set(ETH, I, 4, repr(float(ETH[I][3]) * 0.9))),
     {"close_outside_range": 1}, DROP_I),
    ("duplicate_row", _lines(ETH[: I + 1]) + _lines(ETH[I:]), {"duplicate_ts": 1}, ALL),
    ("duplicate_ts_other_prices", _lines(ETH[: I + 1]) + [",".join(ETH[I][:1] + ETH[I + 5][1:])]
     + _lines(ETH[I + 1 :]), {"duplicate_ts": 1}, ALL),
    ("stale_row_replayed", _lines(ETH[:I]) + [",".join(ETH[10])] + _lines(ETH[I:]),
     {"out_of_order_ts": 1}, ALL),
    ("old_ts_new_prices_out_of_order", _lines(ETH[:I]) + [",".join([str(int(ETH[10][0]) + 1),
     *ETH[10][1:]])] + _lines(ETH[I:]), {"out_of_order_ts": 1}, ALL),
    ("swapped_rows", _lines(ETH[:I]) + _lines([ETH[I + 1], ETH[I]]) + _lines(ETH[I + 2 :]),
     {"out_of_order_ts": 1}, [i for i in ALL if i != I]),
    ("microseconds", _scaled_ts(ETH, 1000, lambda i: True), {}, ALL),
    ("mixed_us_and_ms", _scaled_ts(ETH, 1000, lambda i: i % 2 == 0), {}, ALL),
    ("seconds", _scaled_ts(ETH, 0.001, lambda i: True), {}, ALL),
    ("iso_timestamps", [",".join([_iso(r[0]), *r[1:]]) for r in ETH], {}, ALL),
    ("impossible_iso_date", _lines(_set(ETH, I, 0, "2024-13-45T99:00:00Z")),
     {"malformed_line": 1}, DROP_I),
    ("bom_and_crlf", "\ufeff" + "\r\n".join([HEADER, *_lines(ETH)]) + "\r\n", {}, ALL),
    ("blank_lines", _lines(ETH[:I]) + ["", "   "] + _lines(ETH[I:]), {}, ALL),
    ("header_repeated_inside", _lines(ETH[:I]) + [HEADER] + _lines(ETH[I:]),
     {"malformed_line": 1}, ALL),
    ("garbage_line", _lines(ETH[:I]) + ["@@@@ corrupted sector @@@@"] + _lines(ETH[I:]),
     {"malformed_line": 1}, ALL),
    ("binance_klines_truncated_line", "\n".join(
        [_kline(r) for r in ETH[:I]] + [_kline(ETH[I])[:30]] + [_kline(r) for r in ETH[I + 1 :]]
    ), {"malformed_line": 1}, DROP_I),
]  # fmt: skip


def _write(d: Path, name: str, content: list[str] | str | bytes) -> None:
    d.mkdir(parents=True, exist_ok=True)
    path = d / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, newline="")
    else:
        path.write_text("\n".join([HEADER, *content]) + "\n")


def _expected(indexes: list[int]) -> BarSeries:
    rows = np.array([[float(x) for x in ETH[i]] for i in indexes])
    return BarSeries("ETHUSDT", rows[:, 0] / 1000, *(rows[:, k] for k in range(1, 6)))


@pytest.mark.parametrize(("case", "content", "rejects", "kept"), CASES, ids=[c[0] for c in CASES])
def test_malformed_bars_are_rejected_counted_once_and_the_rest_kept_exactly(
    case: str, content: list[str] | str, rejects: dict[str, int], kept: list[int], tmp_path: Path
) -> None:
    _write(tmp_path, "BTCUSDT-1m.csv", _lines(BTC))
    _write(tmp_path, "ETHUSDT-1m.csv", content)
    series, counts = load_csv_dir(tmp_path)
    assert counts.by_symbol.get("ETHUSDT", {}) == rejects
    assert counts.total == sum(rejects.values())
    assert series["ETHUSDT"].equals(_expected(kept)), "good bars lost or bad ones kept"
    assert len(series["BTCUSDT"]) == N
    FIGURES["inputs.market_data_files"] += 1
    FIGURES["inputs.bad_bars_rejected"] += counts.total


UNUSABLE: list[tuple[str, Callable[[Path], Path], str]] = [
    ("five_columns_no_header", lambda d: (_write(d, "ETHUSDT.csv", "\n".join(
        ",".join(r[:5]) for r in ETH)), d)[1], "unrecognised CSV format"),
    ("binary_garbage", lambda d: (_write(d, "ETHUSDT.csv", bytes(range(256)) * 8), d)[1],
     "unrecognised CSV format"),
    ("every_row_bad", lambda d: (_write(d, "ETHUSDT.csv", [",".join([r[0], "0", "0", "0", "0",
     "0"]) for r in ETH]), d)[1], "no valid bar"),
    ("empty_file", lambda d: (_write(d, "ETHUSDT.csv", ""), d)[1], "no valid bar"),
    ("header_only", lambda d: (_write(d, "ETHUSDT.csv", HEADER + "\n"), d)[1], "no valid bar"),
    ("no_csv_files", lambda d: (_write(d, "notes.txt", "x"), d)[1], "no *.csv files"),
    ("missing_dir", lambda d: d / "nope", "does not exist"),
    ("a_file_not_a_dir", lambda d: (_write(d, "x.csv", "x"), d / "x.csv")[1], "not a directory"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "make", "expect"), UNUSABLE, ids=[c[0] for c in UNUSABLE])
def test_unusable_data_is_one_line_exit_2_naming_the_path_and_writes_nothing(
    case: str,
    make: Callable[[Path], Path],
    expect: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = make(tmp_path / "data")
    with pytest.raises(DataError):
        load_csv_dir(data)
    state = tmp_path / "state"
    code = v7_main(["run", "--fast", "--data", str(data), "--config", str(BASE_CONFIG),
                    "--state-dir", str(state), "--no-progress"])  # fmt: skip
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1, err
    assert lines[0].startswith("input error: ") and expect in lines[0], lines[0]
    assert str(tmp_path / "data") in lines[0], "the message must name the path"
    assert not state.exists()
    FIGURES["inputs.market_data_files"] += 1


def _run(data: Path, state: Path, cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = v7_main(["run", "--fast", "--data", str(data), "--config", str(cfg),
                    "--state-dir", str(state), "--no-progress", "--json-summary"])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 0, err


def test_the_engine_never_trades_on_a_rejected_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every defect in one file: the run equals the run on the clean file, bar for bar."""
    damaged = list(range(100, N - 100, 45))  # rows replaced by a defect, each a different kind
    defects = [
        (1, "nan"), (2, "inf"), (1, "0"), (3, "-1"), (5, "-3"), (4, "abc"), (1, ""),
        (0, "not-a-time"),
    ]  # fmt: skip
    rows = [list(r) for r in ETH]
    for n, i in enumerate(damaged):
        col, value = defects[n % len(defects)]
        rows[i][col] = value
    lines = _lines(rows)
    extra = {900: ",".join(ETH[300]), 1000: ",".join(ETH[999]), 1100: "@@@", 1200: "1,2,3"}
    for at in sorted(extra, reverse=True):  # stale, duplicate and broken lines slipped in
        lines.insert(at, extra[at])
    _write(tmp_path / "bad", "BTCUSDT-1m.csv", _lines(BTC))
    _write(tmp_path / "bad", "ETHUSDT-1m.csv", lines)
    _write(tmp_path / "clean", "BTCUSDT-1m.csv", _lines(BTC))
    _write(tmp_path / "clean", "ETHUSDT-1m.csv", [ln for i, ln in enumerate(_lines(ETH))
                                                   if i not in set(damaged)])  # fmt: skip
    cfg = frequent_publish_config(tmp_path / "config.json")
    _run(tmp_path / "bad", tmp_path / "s-bad", cfg, capsys)
    _run(tmp_path / "clean", tmp_path / "s-clean", cfg, capsys)
    bad, clean = final_outcome(tmp_path / "s-bad"), final_outcome(tmp_path / "s-clean")
    assert clean["counters"]["total_orders"] > 0, "the clean run should trade"
    assert diff_keys(bad, clean) == []
    bad_bars = load(tmp_path / "s-bad" / "intel.json")["bad_bars"]
    assert bad_bars["total"] == len(damaged) + len(extra)
    assert set(bad_bars["by_symbol"]) == {"ETHUSDT"}
    FIGURES["inputs.market_data_files"] += 1
    FIGURES["inputs.bad_bars_rejected"] += bad_bars["total"]
