"""A replay directory per instrument: naming rule, timeframes, quoted CSVs, mark and funding."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from execution.config import SymbolSpec, SyntheticConfig
from execution.market.bars import DataError, load_csv_dir, merge_series, synthetic_series
from execution.market.files import parse_data_filename
from execution.market.perp_series import FUNDING_INTERVAL_SECONDS

XRP = Path("/work/shared/data/futures_xrp")
HEADER = "ts,open,high,low,close,volume"
T0 = 1_700_006_400  # 2023-11-15T00:00:00Z, a multiple of 8 h


def _bars(path: Path, n: int, step: int = 300, t0: int = T0, volume: str = "1") -> Path:
    rows = [HEADER] + [
        f"{(t0 + i * step) * 1000},{1 + i * 0.01},{1.02 + i * 0.01},{0.99 + i * 0.01},"
        f"{1.01 + i * 0.01},{volume}"
        for i in range(n)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "symbol", "kind", "tf", "part"),
    [
        ("ADABTC-1m-2021-11-27.csv", "ADABTC", "bars", "1m", "2021-11-27"),
        ("ADABTC_5m.csv", "ADABTC", "bars", "5m", ""),
        ("BTC-PERP.csv", "BTC-PERP", "bars", None, ""),
        ("BTC-PERP_1m_2022-01.csv", "BTC-PERP", "bars", "1m", "2022-01"),
        ("futures_XRP_USDT_USDT_1h_mark.csv", "futures_XRP_USDT_USDT", "mark", "1h", ""),
        ("XRPUSDT_8h_funding_rate.csv", "XRPUSDT", "funding", "8h", ""),
        ("1000PEPEUSDT_funding_rate.csv", "1000PEPEUSDT", "funding", None, ""),
    ],
)
def test_the_naming_rule_keeps_the_whole_symbol_and_reads_timeframe_and_kind(
    name: str, symbol: str, kind: str, tf: str | None, part: str
) -> None:
    f = parse_data_filename(name)
    assert (f.symbol, f.kind, f.timeframe, f.part) == (symbol, kind, tf, part)


def test_perp_and_spot_files_of_one_base_are_two_symbols(tmp_path: Path) -> None:
    _bars(tmp_path / "BTC-PERP.csv", 10)
    _bars(tmp_path / "BTC-SPOT.csv", 10)
    series, rejects = load_csv_dir(tmp_path, "5m")
    assert sorted(series) == ["BTC-PERP", "BTC-SPOT"] and rejects.total == 0


def test_two_files_for_one_series_exit_2_naming_both(tmp_path: Path) -> None:
    _bars(tmp_path / "BTCUSDT_5m.csv", 10)
    _bars(tmp_path / "BTCUSDT-5m.csv", 10)
    with pytest.raises(DataError, match=r"BTCUSDT-5m.csv and BTCUSDT_5m.csv both hold bars"):
        load_csv_dir(tmp_path, "5m")


def test_the_configured_timeframe_is_used_and_the_others_are_named_as_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _bars(tmp_path / "BTCUSDT_5m.csv", 12)
    _bars(tmp_path / "BTCUSDT_1h.csv", 3, step=3600)
    with caplog.at_level(logging.WARNING, logger="v7.data"):
        series, _ = load_csv_dir(tmp_path, "5m")
    assert len(series["BTCUSDT"]) == 12
    assert "ignored: BTCUSDT_1h.csv" in caplog.text
    with pytest.raises(DataError, match=r"several timeframes \(1h, 5m\).*data.timeframe=1m"):
        load_csv_dir(tmp_path, "1m")


def test_bar_spacing_other_than_the_timeframe_is_a_warning_with_the_measured_spacing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _bars(tmp_path / "BTCUSDT.csv", 10, step=300)
    with caplog.at_level(logging.WARNING, logger="v7.data"):
        load_csv_dir(tmp_path, "1m")
    assert "bars are 300s apart (median) but data.timeframe is 60s" in caplog.text


def test_a_quoted_csv_reads_like_a_plain_one(tmp_path: Path) -> None:
    plain = _bars(tmp_path / "A.csv", 5)
    quoted = tmp_path / "B.csv"
    lines = plain.read_text(encoding="utf-8").splitlines()
    quoted.write_text(
        "\n".join(",".join(f'"{f}"' for f in ln.split(",")) for ln in lines) + "\n",
        encoding="utf-8",
    )
    series, rejects = load_csv_dir(tmp_path, "5m")
    assert rejects.total == 0
    assert np.array_equal(series["A"].close, series["B"].close)


def test_mark_with_blank_volume_and_funding_series_are_read_beside_the_bars(tmp_path: Path) -> None:
    _bars(tmp_path / "XRPUSDT_5m.csv", 200)
    _bars(tmp_path / "XRPUSDT_5m_mark.csv", 200, volume="")
    funding = ["ts,funding_rate", f"{T0 * 1000 + 17},0.0001", f"{(T0 + 28_800) * 1000},-0.0002"]
    (tmp_path / "XRPUSDT_8h_funding_rate.csv").write_text("\n".join(funding), encoding="utf-8")
    series, rejects = load_csv_dir(tmp_path, "5m")
    assert list(series) == ["XRPUSDT"] and rejects.total == 0
    perp = series["XRPUSDT"].perp
    assert perp is not None and perp.funding is not None and len(perp.marks) == 1
    assert perp.funding.rate == (0.0001, -0.0002)
    assert perp.mark_at(T0 + 0.017) == 1.0  # inside the first mark bar: its open
    assert perp.mark_at(T0 + 28_800) == pytest.approx(1 + 96 * 0.01)  # bar 96 opens then
    merged = merge_series(series, ["XRPUSDT"])
    assert merged.perps["XRPUSDT"] is perp


def test_a_funding_series_without_bars_is_an_error(tmp_path: Path) -> None:
    _bars(tmp_path / "BTCUSDT_5m.csv", 5)
    (tmp_path / "ETHUSDT_8h_funding_rate.csv").write_text("ts,funding_rate\n1,0.0001\n")
    with pytest.raises(DataError, match="ETHUSDT has mark/funding data but no bars"):
        load_csv_dir(tmp_path, "5m")


def test_synthetic_funding_is_8_hourly_small_and_leaves_the_prices_unchanged() -> None:
    specs = [SymbolSpec(symbol="BTCUSDT", base_price=60_000.0)]
    plain = synthetic_series(specs, 3000, SyntheticConfig(), 60)["BTCUSDT"]
    perped = synthetic_series(specs, 3000, SyntheticConfig(funding=True), 60)["BTCUSDT"]
    assert plain.perp is None and plain.equals(perped)
    perp = perped.perp
    assert perp is not None and perp.funding is not None
    assert all(t % FUNDING_INTERVAL_SECONDS == 0 for t in perp.funding.ts)
    assert len(perp.funding) == 7  # 3000 one-minute bars from 00:00 span 00:00 .. 49:59
    assert all(abs(r) < 0.001 for r in perp.funding.rate)
    marks = np.array([perp.mark_at(float(t)) for t in perped.ts])
    assert np.all(np.abs(marks / perped.open - 1) < 0.002)


@pytest.mark.skipif(not XRP.is_dir(), reason="real data folder /work/shared/data absent")
def test_the_xrp_folder_is_one_instrument_with_marks_and_funding() -> None:
    series, rejects = load_csv_dir(XRP, "5m")
    (symbol,) = series
    perp = series[symbol].perp
    assert symbol == "futures_XRP_USDT_USDT" and len(series[symbol]) == 1999
    assert perp is not None and perp.funding is not None and len(perp.funding) == 91
    assert [m.timeframe_seconds for m in perp.marks] == [3600.0, 28800.0]
    assert rejects.total == 0
