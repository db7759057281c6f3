"""/metrics exports cumulative funding (v7_funding_pnl) from positions_ledger.json, apart from
the trading figures, and nothing on a spot run that never paid any."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from execution.run.metrics_exporter import (
    V7Collector,
    risk_view_from_state_file,
    with_ledger_funding,
)


def _samples(collector: V7Collector) -> dict[str, float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.labels
    }


def _ledger(state_dir: Path, **extra: object) -> None:
    doc = {"schema_version": 1, "positions": {}, "realized_pnl": 12.5, "fees_paid": 1.0}
    (state_dir / "positions_ledger.json").write_text(json.dumps(doc | extra), encoding="utf-8")


def test_funding_paid_is_its_own_gauge_read_at_scrape_time(tmp_path: Path) -> None:
    _ledger(tmp_path, funding_pnl=-3.25, open_funding={})
    collector = V7Collector(with_ledger_funding(lambda: {"nav": 1000.0}, tmp_path))
    assert _samples(collector)["v7_funding_pnl"] == -3.25
    _ledger(tmp_path, funding_pnl=-4.0, open_funding={})  # the next settlement
    samples = _samples(collector)
    assert samples["v7_funding_pnl"] == -4.0 and samples["v7_nav"] == 1000.0


def test_a_spot_ledger_without_funding_exports_no_funding_sample(tmp_path: Path) -> None:
    _ledger(tmp_path)
    assert "v7_funding_pnl" not in _samples(V7Collector(risk_view_from_state_file(tmp_path)))
    assert "v7_funding_pnl" not in _samples(V7Collector(with_ledger_funding(dict, tmp_path / "x")))
