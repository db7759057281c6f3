"""Prometheus /metrics: scraped over HTTP and parsed with prometheus_client's own text parser."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from execution import diagnostics_metrics as diag
from execution.run.metrics_exporter import (
    MAX_LABEL_VALUES,
    MetricsServer,
    bounded,
    start_metrics_server,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z


@pytest.fixture(autouse=True)
def fresh_diagnostics() -> Iterator[None]:
    diag.configure(diag.DiagnosticsSettings(), clock=lambda: T0)
    yield
    diag.reset_diagnostics()


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    risk = {"nav": 10_123.5, "drawdown_pct": 0.0075, "var": 0.0031, "cvar": None}
    srv = start_metrics_server(0, lambda: risk)
    yield srv
    srv.close()


def scrape(url: str) -> tuple[set[str], Samples]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    families = list(text_string_to_metric_families(text))
    samples: Samples = {}
    for fam in families:
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return {f.name for f in families}, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def record_some_activity() -> None:
    for _ in range(5):
        diag.record_signal_emitted("BTCUSDT")
    diag.record_veto("max_concurrent", "BTCUSDT")
    diag.record_veto("max_concurrent", "ETHUSDT")
    diag.record_veto("var_limit", "BTCUSDT")
    diag.record_risk_passed("BTCUSDT")
    diag.record_order_placed("entry", "BTCUSDT")
    diag.record_order_failed("timeout", "entry", "ETHUSDT")
    diag.record_order_placed("exit", "BTCUSDT")
    diag.record_exit_trigger("sl", "BTCUSDT")
    diag.record_exit_scan_run()
    diag.update_exit_pipeline_status(3, 2, 1, 1)
    diag.record_stages_success(diag.STAGES)
    diag.record_stage_error("router", RuntimeError("boom"))
    diag.record_loop_start()
    diag.record_loop_end()


def test_scrape_reports_counters_gauges_and_stage_timestamps(server: MetricsServer) -> None:
    record_some_activity()
    _, s = scrape(server.url)
    assert value(s, "v7_signals_total") == 5
    assert value(s, "v7_vetoes_total", reason="max_concurrent") == 2
    assert value(s, "v7_vetoes_total", reason="var_limit") == 1
    assert value(s, "v7_orders_total", kind="entry") == 1
    assert value(s, "v7_orders_total", kind="exit") == 1
    assert value(s, "v7_order_failures_total", error="timeout") == 1
    assert value(s, "v7_exit_triggers_total", kind="sl") == 1
    assert value(s, "v7_open_positions") == 3
    assert value(s, "v7_tp_sl_registered") == 2
    assert value(s, "v7_tp_sl_missing") == 1
    assert value(s, "v7_underwater_without_tp_sl") == 1
    assert value(s, "v7_last_exit_scan_timestamp_seconds") == T0
    for stage in diag.STAGES:
        assert value(s, "v7_stage_last_success_timestamp_seconds", stage=stage) == T0
    assert value(s, "v7_stage_errors_total", stage="router") == 1
    assert value(s, "v7_stage_errors_total", stage="risk") == 0
    assert value(s, "v7_loop_count") == 1
    assert value(s, "v7_diagnostics_enabled") == 1


def test_risk_values_are_read_at_scrape_time_and_none_is_omitted(server: MetricsServer) -> None:
    names, s = scrape(server.url)
    assert value(s, "v7_nav") == 10_123.5
    assert value(s, "v7_drawdown_pct") == 0.0075
    assert value(s, "v7_var") == 0.0031
    assert "v7_cvar" in names and ("v7_cvar", ()) not in s


def test_counters_grow_between_scrapes_without_any_hot_path_cost(server: MetricsServer) -> None:
    _, before = scrape(server.url)
    diag.record_signal_emitted()
    diag.record_veto("symbol_cap")
    _, after = scrape(server.url)
    assert value(after, "v7_signals_total") == value(before, "v7_signals_total") + 1
    assert value(after, "v7_vetoes_total", reason="symbol_cap") == 1


def test_symbol_label_only_when_enabled(server: MetricsServer) -> None:
    record_some_activity()
    names, _ = scrape(server.url)
    assert "v7_vetoes_by_symbol" not in names
    srv = start_metrics_server(0, None, symbol_labels=True)
    try:
        names, s = scrape(srv.url)
    finally:
        srv.close()
    assert value(s, "v7_vetoes_by_symbol_total", reason="max_concurrent", symbol="ETHUSDT") == 1
    assert value(s, "v7_vetoes_by_symbol_total", reason="var_limit", symbol="BTCUSDT") == 1
    assert "v7_nav" in names and ("v7_nav", ()) not in s


def test_a_failing_risk_view_does_not_break_the_scrape() -> None:
    def broken() -> Mapping[str, float | None]:
        raise RuntimeError("book locked")

    srv = start_metrics_server(0, broken)
    try:
        _, s = scrape(srv.url)
    finally:
        srv.close()
    assert value(s, "v7_signals_total") == 0 and ("v7_nav", ()) not in s


def test_disabled_diagnostics_still_scrape(server: MetricsServer) -> None:
    diag.configure(diag.DiagnosticsSettings(enabled=False))
    diag.record_veto("max_concurrent")
    _, s = scrape(server.url)
    assert value(s, "v7_diagnostics_enabled") == 0
    assert value(s, "v7_signals_total") == 0


def test_serves_on_loopback_only_and_close_frees_the_port(server: MetricsServer) -> None:
    assert server.host == "127.0.0.1" and server.port > 0
    assert server.server.server_address[0] == "127.0.0.1"
    port = server.port
    server.close()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_label_values_are_bounded() -> None:
    many = {f"err{i}": i for i in range(200)}
    kept = bounded(many)
    assert len(kept) == MAX_LABEL_VALUES
    assert sum(kept.values()) == sum(many.values())
    assert kept["err199"] == 199 and "other" in kept
    assert bounded({"a": 1, "b": 2}) == {"b": 2.0, "a": 1.0}


# --- the running engine -----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_scrape(url: str, proc: subprocess.Popen[bytes], deadline: float) -> Samples | None:
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            _, samples = scrape(url)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
            continue
        if value(samples, "v7_loop_count") > 0:
            return samples
        time.sleep(0.2)
    return None


@pytest.mark.slow
def test_running_engine_serves_metrics_on_its_configured_port(tmp_path: Path) -> None:
    config = json.loads((ROOT / "config" / "strategy_config.json").read_text())
    config["metrics_port"] = port = free_port()
    (tmp_path / "config.json").write_text(json.dumps(config))
    exe = shutil.which("v7", path=str(Path(sys.executable).parent)) or "v7"
    cmd = [exe, "run", "--config", str(tmp_path / "config.json"), "--pace", "0.01"]
    cmd += ["--state-dir", str(tmp_path / "state")]
    with open(tmp_path / "engine.log", "wb") as log_file:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            samples = wait_for_scrape(
                f"http://127.0.0.1:{port}/metrics", proc, time.monotonic() + 30
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
    log_text = (tmp_path / "engine.log").read_text(errors="replace")
    assert samples is not None, log_text
    assert code == 0, log_text
    assert value(samples, "v7_diagnostics_enabled") == 1
    assert value(samples, "v7_signals_total") >= 0
    screener = value(samples, "v7_stage_last_success_timestamp_seconds", stage="screener")
    assert abs(screener - time.time()) < 120, "a realtime engine stamps the wall clock"
    assert value(samples, "v7_nav") > 0


def test_the_verdict_gauges_answer_both_questions_over_http(tmp_path: Path) -> None:
    import doctor_state_factory as f

    from execution.run.metrics_exporter import verdict_view_from_state_dir

    def circuit_and_gating(state: f.State) -> None:
        state["risk_snapshot.json"].update(drawdown_pct=0.0831, dd_state="warn")
        gating = {"BTCUSDT": ["max_concurrent", "portfolio_dd_circuit"], "ETHUSDT": []}
        state["intel.json"]["runtime_diagnostics"]["liveness"]["gating"] = gating

    state_dir = f.make_state(tmp_path, circuit_and_gating, f.underwater_without_tp_sl)
    srv = start_metrics_server(0, None, verdict_view=verdict_view_from_state_dir(state_dir))
    try:
        names, samples = scrape(srv.url)
    finally:
        srv.close()
    assert {"v7_verdict_status", "v7_verdict_state", "v7_blocked_symbols"} <= names
    assert value(samples, "v7_verdict_status", question="trading") == 2.0
    assert value(samples, "v7_verdict_status", question="protection") == 2.0
    assert value(samples, "v7_verdict_state", question="trading", status="not_trading") == 1.0
    assert value(samples, "v7_verdict_state", question="trading", status="trading") == 0.0
    assert value(samples, "v7_verdict_reason", reason="portfolio_dd_circuit") == 1.0
    assert value(samples, "v7_blocked_symbols", reason="portfolio_dd_circuit") == 1.0
    assert value(samples, "v7_unprotected_positions") == 1.0


def test_without_a_verdict_view_there_are_no_verdict_gauges(server: MetricsServer) -> None:
    names, _ = scrape(server.url)
    assert "v7_verdict_status" not in names
