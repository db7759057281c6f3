"""Prometheus /metrics for the engine (when ``metrics_port`` is set), on 127.0.0.1 by default.

A custom collector: every value is read at scrape time from
``build_runtime_diagnostics_snapshot()`` and a ``risk_view`` callable, so the engine's hot path
pays nothing (no ``labels().inc()`` per veto). It has its own CollectorRegistry, so two engines
in one process (tests) never collide. Label values are bounded: reasons and kinds are closed
enums, anything past ``MAX_LABEL_VALUES`` per metric is summed into "other", and a symbol label
exists only when ``metrics.symbol_labels`` is true.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from execution.clock import from_iso
from execution.config import EngineConfig
from execution.diagnostics_metrics import (
    STAGES,
    RuntimeDiagnosticsSnapshot,
    build_runtime_diagnostics_snapshot,
)
from execution.state_io import read_json_defensive
from execution.state_v7 import (
    POSITIONS_LEDGER_FILE,
    STATE_DIR_ENV,
    load_risk_snapshot,
    resolve_state_dir,
)

if TYPE_CHECKING:
    from doctor.verdict import Verdict

log = logging.getLogger(__name__)


class PortInUse(Exception):
    """The metrics port cannot be opened: the run does not start (exit code 2)."""


RiskView = Callable[[], Mapping[str, float | None]]
VerdictView = Callable[[], "Verdict | None"]
RISK_GAUGES = (
    ("nav", "v7_nav", "Net asset value (quote currency, marked to market)."),
    ("drawdown_pct", "v7_drawdown_pct", "Drawdown below peak NAV, as a positive fraction."),
    ("var", "v7_var", "Portfolio historical VaR as a fraction of NAV."),
    ("cvar", "v7_cvar", "Portfolio historical CVaR as a fraction of NAV."),
    (
        "funding_pnl",
        "v7_funding_pnl",
        "Perpetuals' funding received (+) or paid (-) since the start, quote currency; in NAV, "
        "apart from trading PnL (positions_ledger.json funding_pnl; absent until the first).",
    ),
)
MAX_LABEL_VALUES = 50
MAX_SYMBOLS = 250  # the design covers universes of up to 200 symbols
OTHER = "other"


def bounded(counts: Mapping[str, Any], limit: int = MAX_LABEL_VALUES) -> dict[str, float]:
    """Keep the ``limit - 1`` largest label values; sum the rest into "other"."""
    items = sorted(
        ((str(k), float(v)) for k, v in counts.items() if isinstance(v, int | float)),
        key=lambda kv: -kv[1],
    )
    if len(items) <= limit:
        return dict(items)
    kept = dict(items[: limit - 1])
    kept[OTHER] = kept.get(OTHER, 0.0) + sum(v for _, v in items[limit - 1 :])
    return kept


def _counter(name: str, doc: str, label: str, counts: Mapping[str, Any]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=[label])
    for value, n in bounded(counts).items():
        family.add_metric([value], n)
    return family


def _gauge(name: str, doc: str, value: float | None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc)
    if value is not None:
        family.add_metric([], value)
    return family


def counter_families(snap: RuntimeDiagnosticsSnapshot) -> Iterator[Metric]:
    """Signals, vetoes by reason, orders by kind, exit triggers by kind, failures by error."""
    counters, acc = snap.veto_counters, snap.accounting
    yield CounterMetricFamily(
        "v7_signals", "Entry signals emitted by the screener.", counters.total_signals
    )
    yield _counter(
        "v7_vetoes", "Entry signals vetoed by risk, by reason.", "reason", counters.by_reason
    )
    yield _counter(
        "v7_orders",
        "Orders accepted by the exchange, by kind.",
        "kind",
        acc.get("orders_by_kind", {}),
    )
    yield _counter(
        "v7_exit_triggers",
        "TP/SL/signal exits triggered, by kind.",
        "kind",
        snap.exit_triggers_by_kind,
    )
    failures = acc.get("order_failures_by_error", {})
    yield _counter("v7_order_failures", "Orders that failed, by error category.", "error", failures)


def exit_pipeline_families(snap: RuntimeDiagnosticsSnapshot) -> Iterator[Metric]:
    """The exit-pipeline counts of the last exit scan, and when it ran."""
    exits = snap.exit_pipeline_status
    yield _gauge("v7_open_positions", "Open positions (ledger).", exits.open_positions_count)
    yield _gauge(
        "v7_tp_sl_registered", "Open positions with a TP/SL.", exits.tp_sl_registered_count
    )
    yield _gauge("v7_tp_sl_missing", "Open positions without a TP/SL.", exits.tp_sl_missing_count)
    yield _gauge(
        "v7_underwater_without_tp_sl",
        "Open positions below the underwater threshold without a TP/SL.",
        exits.underwater_without_tp_sl_count,
    )
    yield _gauge(
        "v7_liquidation_before_stop",
        "Open positions whose liquidation price comes before their stop (or with no stop).",
        exits.liquidation_before_stop_count,
    )
    yield _gauge(
        "v7_last_exit_scan_timestamp_seconds",
        "Engine-clock time of the last exit scan (bar time in a replay).",
        from_iso(exits.last_exit_scan_ts),
    )


def liveness_families(snap: RuntimeDiagnosticsSnapshot) -> Iterator[Metric]:
    """Per-stage last success and error count, loop count, and whether diagnostics are on."""
    stages = snap.liveness.get("stages", {})
    success = GaugeMetricFamily(
        "v7_stage_last_success_timestamp_seconds",
        "Engine-clock time of each stage's last success (bar time in a replay).",
        labels=["stage"],
    )
    errors = CounterMetricFamily("v7_stage_errors", "Errors per pipeline stage.", labels=["stage"])
    for stage in STAGES:
        st = stages.get(stage) or {}
        ts = from_iso(st.get("last_success_ts"))
        if ts is not None:
            success.add_metric([stage], ts)
        errors.add_metric([stage], float(st.get("error_count") or 0))
    yield success
    yield errors
    yield _gauge(
        "v7_loop_count", "Engine loop iterations since start.", snap.liveness.get("loop_count", 0)
    )
    yield _gauge(
        "v7_diagnostics_enabled", "1 when runtime diagnostics are enabled.", float(snap.enabled)
    )


def risk_families(values: Mapping[str, float | None]) -> Iterator[Metric]:
    for key, name, doc in RISK_GAUGES:
        raw = values.get(key)
        yield _gauge(name, doc, float(raw) if isinstance(raw, int | float) else None)


def symbol_families(snap: RuntimeDiagnosticsSnapshot) -> Iterator[Metric]:
    """Vetoes by reason and symbol (only when metrics.symbol_labels is true)."""
    family = CounterMetricFamily(
        "v7_vetoes_by_symbol",
        "Entry signals vetoed, by reason and symbol.",
        labels=["reason", "symbol"],
    )
    by_reason_symbol = snap.heatmap.get("by_reason_symbol", {})
    # Reasons are a closed enum; symbols are bounded by the configured universe.
    for reason, per_symbol in sorted(by_reason_symbol.items())[:MAX_LABEL_VALUES]:
        for symbol, n in bounded(per_symbol, MAX_SYMBOLS).items():
            family.add_metric([reason, symbol], n)
    yield family


def _verdict_state_families(verdict: Verdict) -> Iterator[Metric]:
    from doctor.verdict import PROTECTION_STATUSES, SEVERITIES, TRADING_STATUSES

    severity = GaugeMetricFamily(
        "v7_verdict_status",
        "Verdict severity per question: 0 ok, 1 warn, 2 critical (the doctor's exit code).",
        labels=["question"],
    )
    state = GaugeMetricFamily(
        "v7_verdict_state",
        "1 for the verdict's current status per question, 0 for the others.",
        labels=["question", "status"],
    )
    for question, answer, statuses in (
        ("trading", verdict.trading, TRADING_STATUSES),
        ("protection", verdict.protection, PROTECTION_STATUSES),
    ):
        severity.add_metric([question], float(SEVERITIES.index(answer.severity)))
        for status in statuses:
            state.add_metric([question, status], float(answer.status == status))
    yield severity
    yield state


def verdict_families(verdict: Verdict) -> Iterator[Metric]:
    """The shared verdict (doctor.verdict): severity, status and reason per question."""
    yield from _verdict_state_families(verdict)
    reason = GaugeMetricFamily(
        "v7_verdict_reason",
        "1 for the root cause the trading verdict names (a veto reason, no_signals, "
        "engine_down, stale_data or halted); absent while trading.",
        labels=["reason"],
    )
    if verdict.trading.reason:
        reason.add_metric([verdict.trading.reason], 1.0)
    yield reason
    blocked = GaugeMetricFamily(
        "v7_blocked_symbols", "Symbols a gating reason holds back now.", labels=["reason"]
    )
    for name, n in bounded(verdict.trading.blocked_by_reason).items():
        blocked.add_metric([name], n)
    yield blocked
    yield _gauge(
        "v7_unprotected_positions",
        "Open positions the verdict finds unprotected (no finite TP and SL, stale exit scanner "
        "or engine down).",
        float(len(verdict.protection.unprotected)),
    )


class V7Collector:
    """Builds every v7_* metric family at scrape time from the diagnostics snapshot."""

    def __init__(
        self,
        risk_view: RiskView | None = None,
        *,
        symbol_labels: bool = False,
        snapshot: Callable[[], RuntimeDiagnosticsSnapshot] = build_runtime_diagnostics_snapshot,
        verdict_view: VerdictView | None = None,
    ) -> None:
        self._risk_view = risk_view
        self._symbol_labels = symbol_labels
        self._snapshot = snapshot
        self._verdict_view = verdict_view

    def _risk(self) -> Mapping[str, float | None]:
        if self._risk_view is None:
            return {}
        try:
            return self._risk_view()
        except Exception:  # a scrape must not fail because the risk view did
            log.warning("metrics: risk_view failed", exc_info=True)
            return {}

    def _verdict(self) -> Verdict | None:
        if self._verdict_view is None:
            return None
        try:
            return self._verdict_view()
        except Exception:  # a scrape must not fail because the state files are odd
            log.warning("metrics: verdict_view failed", exc_info=True)
            return None

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        yield from counter_families(snap)
        yield from exit_pipeline_families(snap)
        yield from liveness_families(snap)
        yield from risk_families(self._risk())
        if (verdict := self._verdict()) is not None:
            yield from verdict_families(verdict)
        if self._symbol_labels:
            yield from symbol_families(snap)


def risk_view_from_state_file(state_dir: str | Path) -> RiskView:
    """A risk view that reads risk_snapshot.json at scrape time (nav, drawdown_pct, var, cvar)."""

    def view() -> Mapping[str, float | None]:
        risk = load_risk_snapshot(state_dir)
        return {key: risk.get(key) for key, _, _ in RISK_GAUGES}

    return with_ledger_funding(view, resolve_state_dir(state_dir))


def with_ledger_funding(risk_view: RiskView, state_dir: str | Path) -> RiskView:
    """Add ``funding_pnl`` from positions_ledger.json, read at scrape time, to a risk view
    (risk_snapshot.json does not carry it; the ledger writes it once funding has happened)."""
    path = Path(state_dir) / POSITIONS_LEDGER_FILE

    def view() -> Mapping[str, float | None]:
        doc = read_json_defensive(path).data
        funding = doc.get("funding_pnl") if isinstance(doc, dict) else None
        if isinstance(funding, bool) or not isinstance(funding, int | float):
            funding = None
        return {**risk_view(), "funding_pnl": funding}

    return view


def verdict_view_from_state_dir(state_dir: str | Path) -> VerdictView:
    """A verdict view that decides the verdict from the state files at scrape time."""

    def view() -> Verdict:
        from doctor.verdict import read_verdict  # read side: loaded only when /metrics is on

        return read_verdict(state_dir)

    return view


@dataclass
class MetricsServer:
    """A running /metrics endpoint; ``close()`` stops it and frees the port."""

    host: str
    port: int
    registry: CollectorRegistry
    server: WSGIServer
    thread: threading.Thread
    closed: bool = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and release the port (idempotent; takes up to ~0.5 s)."""
        if self.closed:
            return
        self.closed = True
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_metrics_server(
    port: int,
    risk_view: RiskView | None,
    *,
    symbol_labels: bool = False,
    host: str = "127.0.0.1",
    verdict_view: VerdictView | None = None,
) -> MetricsServer:
    """Serve /metrics on host:port in a daemon thread (port 0 picks a free port)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        V7Collector(risk_view, symbol_labels=symbol_labels, verdict_view=verdict_view)
    )
    server, thread = start_http_server(port, addr=host, registry=registry)
    actual = int(server.server_port)
    log.info("metrics: serving http://%s:%d/metrics", host, actual)
    return MetricsServer(host, actual, registry, server, thread)


@contextmanager
def metrics_endpoint(
    cfg: EngineConfig, risk_view: RiskView, state_dir: str | Path | None = None
) -> Iterator[None]:
    """Serve /metrics on 127.0.0.1 while the block runs, when ``metrics_port`` is set.

    The verdict gauges read ``state_dir`` (default: $V7_STATE_DIR, else the config's).
    """
    if cfg.metrics_port is None:
        yield
        return
    directory = resolve_state_dir(state_dir or os.environ.get(STATE_DIR_ENV) or cfg.state_dir)
    try:
        server = start_metrics_server(
            cfg.metrics_port,
            with_ledger_funding(risk_view, directory),
            symbol_labels=cfg.metrics.symbol_labels,
            verdict_view=verdict_view_from_state_dir(directory),
        )
    except OSError as err:
        raise PortInUse(
            f"metrics_port {cfg.metrics_port}: cannot listen on 127.0.0.1 ({err.strerror or err});"
            " choose another metrics_port or stop what uses it"
        ) from err
    print(f"v7: metrics on http://127.0.0.1:{server.port}/metrics", file=sys.stderr)
    try:
        yield
    finally:
        server.close()
