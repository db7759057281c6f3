"""bench/bench_store.py stays runnable and reports sane commit latencies."""

from __future__ import annotations

import importlib

from .helpers import ROOT


def test_a_small_store_benchmark_reports_latencies_for_both_modes() -> None:
    import sys

    if str(ROOT) not in sys.path:  # bench/ is not an installed package
        sys.path.insert(0, str(ROOT))
    result = importlib.import_module("bench.bench_store").run(small=True)
    for mode in ("paced_durable", "replay"):
        figures = result[mode]
        assert figures["commits"] == 20
        assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
        assert figures["memory_json_bytes"] > 100_000, "a 10-symbol memory is ~130 KB of JSON"
    assert [row["unit"] for row in result["headline"]] == ["%", "ms", "ms", "ms"]
    cost = result["replay_store_cost"]
    assert cost["pairs"] == 2 and cost["bars"] > 0
    assert cost["method"].startswith("turn-taking pairs")
    assert len(cost["null_pairs"]["ratios"]) == 1
    assert cost["same_decisions_on_off"], "stripping the store must not change what is traded"


def test_the_counted_replays_run_with_the_store_on_and_off() -> None:
    import sys

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    bench = importlib.import_module("bench.store_in_replay")
    for mode in ("on", "off", "setup"):  # what valgrind counts, here without valgrind
        bench.counted_replay(mode, 200)
