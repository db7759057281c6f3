"""Replay speed and peak memory against length: is v7 flat from 45k to 4.5M bars?

The real BTC perpetual 1m bars (45,031 of them) are tiled 1x, 10x and 100x (``--short``: not
the 100x) into
one CSV under a scratch directory in /tmp: each copy is shifted in time by the span of the
data, so the file is one long valid series of one symbol. Each length is replayed by
`v7 run --fast --data DIR` in-process in a fresh child (``--child DIR``): the ``sma_cross_pct``
setup of bench_vs_backtesting (fees 0, risk relaxed, diagnostics and the journal on). Peak RSS
is the child's own high-water mark (``bench.common.peak_rss_mb``), so nothing a previous length
or the parent allocated is counted. Skipped (with the reason) when the data is absent.

Issue 21's goal: bars/s flat from 45k to 4.5M bars, and peak RSS growing by at most
``RSS_GROWTH_TARGET_MB`` from 450k to 4.5M bars; the headline says both.

Run alone: ``.venv/bin/python -m bench.bench_length [--short] [--runs N]`` (writes
bench/results/length.json).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BTC_1M_DIR, current_rss_mb, headline, median, peak_rss_mb, write_result
from bench.noise import load_note

NAME = "length"
TILES = (1, 10)
LONG_TILES = 100
RUNS = 1
RSS_GROWTH_TARGET_MB = 50.0
SCRATCH_PARENT = Path("/tmp")


def tile_csv(source: Path, target_dir: Path, tiles: int) -> int:
    """Write ``tiles`` time-shifted copies of ``source`` (``ts`` in ms first) as one CSV.

    Returns the number of bars written; the file keeps ``source``'s name (so its symbol).
    """
    header, *rows = source.read_text(encoding="utf-8").splitlines()
    rows = [r for r in rows if r.strip()]
    first = int(float(rows[0].split(",", 1)[0]))
    last = int(float(rows[-1].split(",", 1)[0]))
    step = last - first + (last - first) // max(len(rows) - 1, 1)  # span plus one bar
    parts = [(int(float(r.split(",", 1)[0])), r.split(",", 1)[1]) for r in rows]
    target_dir.mkdir(parents=True, exist_ok=True)
    with (target_dir / source.name).open("w", encoding="utf-8") as out:
        out.write(header + "\n")
        for k in range(tiles):
            shift = k * step
            out.writelines(f"{ts + shift},{rest}\n" for ts, rest in parts)
    return tiles * len(rows)


def _child(data_dir: Path) -> dict[str, Any]:
    """Load and replay ``data_dir`` once in this process; what a parent needs to report.

    As ``run_prepared`` (the replay and its final commit timed), with the peak RSS taken after
    them too: the end-of-run summary (its report reads the whole journal) is told apart.
    """
    from bench.common import prepare_replay, temp_dir
    from bench.fill_rules import v7_config
    from execution.cli.run import paper_exchange_factory
    from execution.clock import ReplayClock
    from execution.run.runner import EngineRunner, RunOptions
    from execution.run.summary import summary_dict

    start = time.perf_counter()
    prep = prepare_replay(v7_config(), None, data_dir)
    load_s = time.perf_counter() - start
    rss_loaded, peak_loading = current_rss_mb(), peak_rss_mb()
    with temp_dir("v7-length-") as state_dir:
        clock = ReplayClock(prep.merged.first_ts)
        opts = RunOptions("replay", prep.source, None, False)
        factory = paper_exchange_factory(prep.cfg, clock)
        runner = EngineRunner(prep.cfg, opts, state_dir, clock, factory, prep.rejects)
        wall, cpu = time.perf_counter(), time.process_time()
        runner.run_replay(prep.merged)
        runner.finish()  # the last journal rows are committed here: timed, as the CLI times it
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        peak_replay = peak_rss_mb()
        summary = summary_dict(runner, wall, runner.bars_done)
    bars = runner.bars_done
    return {
        "bars": bars, "load_s": load_s, "replay_s": wall, "replay_cpu_s": cpu,
        "bars_per_s": bars / wall, "bars_per_cpu_s": bars / cpu,
        "rss_after_load_mb": rss_loaded, "peak_rss_loading_mb": peak_loading,
        "peak_rss_replay_mb": peak_replay, "rss_end_mb": current_rss_mb(),
        "orders": summary.get("orders"),
    }  # fmt: skip


def spawn(data_dir: Path) -> dict[str, Any]:
    """Run one child; its figures, with its own peak RSS."""
    cmd = [sys.executable, "-m", "bench.bench_length", "--child", str(data_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"bench_length child failed ({proc.returncode}): {err[-2000:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def measure(source: Path, tiles: int, runs: int) -> dict[str, Any]:
    """Tile ``source`` ``tiles`` times into a scratch dir and replay it ``runs`` times."""
    with tempfile.TemporaryDirectory(prefix="v7-length-data-", dir=SCRATCH_PARENT) as tmp:
        bars = tile_csv(source, Path(tmp), tiles)
        children = [spawn(Path(tmp)) for _ in range(runs)]
    return {
        "tiles": tiles,
        "bars": bars,
        "bars_replayed": children[0]["bars"],
        "bars_per_s": round(median([c["bars_per_s"] for c in children])),
        "bars_per_cpu_s": round(median([c["bars_per_cpu_s"] for c in children])),
        "runs_bars_per_s": [round(c["bars_per_s"]) for c in children],
        "load_s": round(median([c["load_s"] for c in children]), 2),
        "rss_after_load_mb": round(median([c["rss_after_load_mb"] for c in children]), 1),
        "peak_rss_loading_mb": round(median([c["peak_rss_loading_mb"] for c in children]), 1),
        "peak_rss_replay_mb": round(median([c["peak_rss_replay_mb"] for c in children]), 1),
        "peak_rss_mb": round(median([c["peak_rss_mb"] for c in children]), 1),
        "orders": children[0]["orders"],
    }


def run(small: bool = False, long: bool = True, runs: int = RUNS) -> dict[str, Any]:
    """Measure each length (``small``: 1x only; ``long``: add 100x = 4.5M bars)."""
    sources = sorted(BTC_1M_DIR.glob("*.csv")) if BTC_1M_DIR.is_dir() else []
    if not sources:
        return {"benchmark": NAME, "skipped": f"no real data in {BTC_1M_DIR}", "headline": []}
    tiles = (1,) if small else (*TILES, *((LONG_TILES,) if long else ()))
    started_load = load_note()
    rows = [measure(sources[0], k, runs) for k in tiles]
    heads = [
        headline(
            f"v7 replay {row['bars'] / 1000:,.0f}k bars, 1 sym",
            f"{row['bars_per_s']:,} bars/s, {row['peak_rss_mb']:.0f}",
            "MiB",
            "flat",
            row["bars_per_s"] / rows[0]["bars_per_s"],
        )
        for row in rows
    ]
    if len(rows) > 2:
        growth = rows[-1]["peak_rss_replay_mb"] - rows[1]["peak_rss_replay_mb"]
        heads.append(headline(
            f"peak RSS growth, {rows[1]['bars'] / 1000:,.0f}k to {rows[-1]['bars'] / 1e6:.1f}M bars",
            f"{growth:+.0f}", "MiB", f"<= {RSS_GROWTH_TARGET_MB:g}", growth / RSS_GROWTH_TARGET_MB,
        ))  # fmt: skip
    return {
        "benchmark": NAME,
        "data": f"{sources[0].name} tiled {'/'.join(str(k) for k in tiles)}x",
        "rows": rows,
        "load_before": started_load,
        "load_after": load_note(),
        "headline": heads,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="v7 replay bars/s and peak RSS against length")
    parser.add_argument("--child", metavar="DATA_DIR")
    parser.add_argument("--short", action="store_true", help="leave out the 4.5M bars (100x)")
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args(argv)
    if args.child:
        child = _child(Path(args.child))
        child["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(child))
        return
    result = run(long=not args.short, runs=args.runs)
    if "skipped" in result:
        print(f"bench_length: skipped: {result['skipped']}")
        return
    path = write_result(NAME, result)
    print(f"{'bars':>10} {'bars/s':>9} {'bars/cpu-s':>10} {'load s':>7} {'peak loading':>13} "
          f"{'RSS loaded':>11} {'peak replay':>12} {'peak w/ summary':>16}")  # fmt: skip
    for row in result["rows"]:
        print(
            f"{row['bars']:>10,} {row['bars_per_s']:>9,} {row['bars_per_cpu_s']:>10,} "
            f"{row['load_s']:>7.1f} {row['peak_rss_loading_mb']:>9.0f} MiB"
            f" {row['rss_after_load_mb']:>7.0f} MiB {row['peak_rss_replay_mb']:>8.0f} MiB"
            f" {row['peak_rss_mb']:>12.0f} MiB"
        )
    for note in (result["load_before"], result["load_after"]):
        if note:
            print(note)
    print(f"-> {path}")


if __name__ == "__main__":
    main()
