"""`v7 data fetch`: paging ccxt OHLCV from the canned Binance into replay CSVs."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

import pytest
from ccxt_canned import SERVER_MS, CannedBinance, canned_client

import execution.market.fetch as data_fetch
from execution.cli.data import register_cli
from execution.market.bars import load_csv_dir
from execution.market.fetch import HEADER, fetch_ohlcv_to_csv

MIN = 60_000
START = SERVER_MS - 3_000 * MIN


def fake_with_bars(n: int = 2_500) -> CannedBinance:
    fake = CannedBinance()
    fake.set_klines("BTCUSDT", START, [100.0 + (i % 50) * 0.5 for i in range(n)])
    fake.set_klines("ETHUSDT", START + 100 * MIN, [10.0 + (i % 7) for i in range(300)])
    return fake


def rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def test_pages_through_history_into_one_headered_csv_per_symbol(tmp_path: Path) -> None:
    client, fake = canned_client(fake_with_bars(), keys=False)
    counts = fetch_ohlcv_to_csv(
        client, ["BTCUSDT", "ETH/USDT:USDT"], "1m", START / 1000, tmp_path, progress=False
    )
    assert counts == {"BTCUSDT": 2_500, "ETHUSDT": 300}
    klines = fake.calls("GET", "/fapi/v1/klines")
    assert [int(r.params["startTime"]) for r in klines[:3]] == [START, START + 1000 * MIN, START + 2000 * MIN]  # fmt: skip
    assert all("signature" not in r.params for r in fake.requests)  # public endpoints only
    btc = rows(tmp_path / "BTCUSDT-1m.csv")
    assert tuple(btc[0]) == HEADER and len(btc) == 2_501
    ts = [int(r[0]) for r in btc[1:]]
    assert ts == sorted(set(ts)) and ts[0] == START and ts[1] - ts[0] == MIN


def test_written_files_load_as_replay_data(tmp_path: Path) -> None:
    client, _ = canned_client(fake_with_bars(), keys=False)
    fetch_ohlcv_to_csv(client, ["BTCUSDT", "ETHUSDT"], "1m", START / 1000, tmp_path, progress=False)
    series, rejects = load_csv_dir(tmp_path)
    assert set(series) == {"BTCUSDT", "ETHUSDT"} and rejects.total == 0
    assert len(series["BTCUSDT"]) == 2_500 and series["BTCUSDT"].ts[0] == START / 1000


def test_until_is_exclusive_and_duplicates_are_dropped(tmp_path: Path) -> None:
    fake = fake_with_bars(50)
    fake.klines["BTCUSDT"] += [list(r) for r in fake.klines["BTCUSDT"][10:20]]  # repeated rows
    fake.klines["BTCUSDT"].sort(key=lambda r: r[0])
    client, _ = canned_client(fake, keys=False)
    since, until = (START + 5 * MIN) / 1000, (START + 30 * MIN) / 1000
    counts = fetch_ohlcv_to_csv(client, ["BTCUSDT"], "1m", since, tmp_path, until, progress=False)
    ts = [int(r[0]) for r in rows(tmp_path / "BTCUSDT-1m.csv")[1:]]
    assert counts == {"BTCUSDT": 25} and ts == [START + i * MIN for i in range(5, 30)]


def test_unknown_symbol_fails_before_any_download(tmp_path: Path) -> None:
    client, fake = canned_client(fake_with_bars(), keys=False)
    with pytest.raises(data_fetch.OrderRejected, match="NOPEUSDT"):
        fetch_ohlcv_to_csv(client, ["BTCUSDT", "NOPEUSDT"], "1m", START / 1000, tmp_path)
    assert fake.calls("GET", "/fapi/v1/klines") == [] and list(tmp_path.iterdir()) == []


def test_transient_errors_are_retried(tmp_path: Path) -> None:
    client, fake = canned_client(fake_with_bars(100), keys=False)
    fake.fail("GET", "/fapi/v1/klines", "429", "503")
    sleeps: list[float] = []
    counts = fetch_ohlcv_to_csv(
        client, ["BTCUSDT"], "1m", START / 1000, tmp_path, progress=False, sleep=sleeps.append
    )
    assert counts == {"BTCUSDT": 100} and len(sleeps) == 2


def test_progress_bar_is_shown_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, _ = canned_client(fake_with_bars(100), keys=False)
    fetch_ohlcv_to_csv(client, ["BTCUSDT"], "1m", START / 1000, tmp_path, progress=True)
    assert "bar" in capsys.readouterr().err


# --- the CLI ------------------------------------------------------------------------------------


def run_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch, fake: CannedBinance) -> int:
    client, _ = canned_client(fake, keys=False)
    monkeypatch.setattr(data_fetch, "public_client", lambda exchange_id: client)
    parser = argparse.ArgumentParser(prog="v7")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: Any = args.func(args)
    return int(code)


def test_cli_fetch_writes_files_and_reports_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["data", "fetch", "BTCUSDT", "ETHUSDT", "--timeframe", "1m", "--since",
            "2023-11-12T16:14:00Z", "--out", str(tmp_path), "--no-progress"]  # fmt: skip
    assert run_cli(argv, monkeypatch, fake_with_bars()) == 0
    out = capsys.readouterr().out
    assert "BTCUSDT: 2500 bars" in out and "ETHUSDT: 300 bars" in out
    assert (tmp_path / "ETHUSDT-1m.csv").is_file()


@pytest.mark.parametrize(
    "extra",
    [
        ["--since", "yesterday-ish"],
        ["--since", "2023-11-14", "--until", "2023-11-13"],
        ["--since", "2023-11-14", "--timeframe", "7m"],
    ],
)
def test_cli_bad_arguments_exit_2(
    extra: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["data", "fetch", "BTCUSDT", "--out", str(tmp_path / "o"), "--no-progress", *extra]
    assert run_cli(argv, monkeypatch, fake_with_bars()) == 2
    assert not (tmp_path / "o").exists()


def test_cli_unknown_symbol_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["data", "fetch", "NOPEUSDT", "--since", "2023-11-14", "--out", str(tmp_path)]
    assert run_cli(argv + ["--no-progress"], monkeypatch, fake_with_bars()) == 2


def test_cli_unknown_exchange_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="v7")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["data", "fetch", "BTCUSDT", "--since", "2023-11-14", "--out", str(tmp_path),
         "--exchange", "no_such_exchange"]
    )  # fmt: skip
    assert args.func(args) == 2
    assert "unknown ccxt exchange" in capsys.readouterr().err


def test_perps_fetches_mark_bars_and_funding_history_that_load_beside_the_bars(
    tmp_path: Path,
) -> None:
    fake = fake_with_bars(1_000)
    h8 = 8 * 3_600_000
    first = (START // h8 + 1) * h8
    fake.funding["BTCUSDT"] = [(first + i * h8 + 7, 0.0001 * (i + 1)) for i in range(3)]
    client, _ = canned_client(fake, keys=False)
    fetch_ohlcv_to_csv(
        client, ["BTCUSDT"], "1m", START / 1000, tmp_path, progress=False, perps=True
    )
    assert len(rows(tmp_path / "BTCUSDT-1m_mark.csv")) == 1_001
    funding = rows(tmp_path / "BTCUSDT_8h_funding_rate.csv")
    assert funding[1:] == [[str(t), repr(r)] for t, r in fake.funding["BTCUSDT"]]
    series, rejects = load_csv_dir(tmp_path, "1m")
    perp = series["BTCUSDT"].perp
    assert perp is not None and perp.funding is not None and rejects.total == 0
    assert perp.funding.ts[0] == (first + 7) / 1000 and len(perp.marks[0]) == 1_000
