"""deploy/: alert rules, scrape config and Grafana dashboard are valid and only use metrics the
exporter serves. promtool checks them when it is on PATH; otherwise a schema check of the YAML.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from execution.run.metrics_exporter import V7Collector

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
SCRAPE = DEPLOY / "prometheus" / "scrape.yml"
DASHBOARD = DEPLOY / "grafana" / "v7_dashboard.json"
METRIC = re.compile(r"\bv7_[a-z0-9_]+\b")
DURATION = re.compile(r"^(0|\d+[smhdwy])$")


def exported_names() -> set[str]:
    """Every series name the exporter can serve (counters are exposed with _total)."""
    collector = V7Collector(lambda: {}, symbol_labels=True)
    return {f.name + "_total" if f.type == "counter" else f.name for f in collector.collect()}


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]


def balanced(expr: str) -> bool:
    depth = {"(": 0, "[": 0, "{": 0}
    closing = {")": "(", "]": "[", "}": "{"}
    for ch in expr:
        if ch in depth:
            depth[ch] += 1
        elif ch in closing:
            depth[closing[ch]] -= 1
            if depth[closing[ch]] < 0:
                return False
    return not any(depth.values())


def test_alert_rules_schema() -> None:
    doc = yaml.safe_load(ALERTS.read_text())
    assert set(doc) == {"groups"}
    names = set()
    for group in doc["groups"]:
        assert set(group) <= {"name", "interval", "rules"} and group["name"] and group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            assert re.fullmatch(r"V7[A-Za-z0-9]+", rule["alert"]) and rule["alert"] not in names
            names.add(rule["alert"])
            assert isinstance(rule["expr"], str) and balanced(rule["expr"]), rule["alert"]
            assert DURATION.match(str(rule["for"])), rule["alert"]
            assert rule["labels"]["severity"] in ("critical", "warning")
            assert {"summary", "description", "runbook"} <= set(rule["annotations"])
            runbook = Path(__file__).resolve().parents[1] / rule["annotations"]["runbook"]
            assert runbook.exists(), f"{rule['alert']}: runbook {runbook} missing"
            for window in re.findall(r"\[([^\]]+)\]", rule["expr"]):
                assert DURATION.match(window), (rule["alert"], window)


def test_the_required_alerts_exist() -> None:
    by_name = {r["alert"]: r for r in alert_rules()}
    assert by_name["V7UnderwaterWithoutTpSl"]["expr"].strip() == "v7_underwater_without_tp_sl > 0"
    assert by_name["V7UnderwaterWithoutTpSl"]["labels"]["severity"] == "critical"
    assert "v7_last_exit_scan_timestamp_seconds" in by_name["V7ExitScannerStale"]["expr"]
    assert "v7_open_positions > 0" in by_name["V7ExitScannerStale"]["expr"]
    assert "v7_stage_errors_total" in by_name["V7StageErrors"]["expr"]
    vetoed = by_name["V7AllSignalsVetoed"]
    assert "v7_vetoes_total" in vetoed["expr"] and "v7_signals_total" in vetoed["expr"]
    assert vetoed["for"] == "30m"


def test_rules_and_dashboard_only_use_exported_metrics() -> None:
    exported = exported_names()
    used = {m for r in alert_rules() for m in METRIC.findall(r["expr"])}
    used |= {m for e in dashboard_exprs() for m in METRIC.findall(e)}
    assert used, "nothing parsed"
    assert used <= exported, f"not served by the exporter: {sorted(used - exported)}"


def test_scrape_config_targets_the_loopback_engine_and_loads_the_rules() -> None:
    doc = yaml.safe_load(SCRAPE.read_text())
    assert doc["rule_files"] == ["alerts.yml"]
    (job,) = doc["scrape_configs"]
    assert job["job_name"] == "v7" and job["metrics_path"] == "/metrics"
    targets = [t for sc in job["static_configs"] for t in sc["targets"]]
    assert targets and all(t.startswith("127.0.0.1:") for t in targets)
    assert any('job="v7"' in r["expr"] for r in alert_rules()), "alerts use the job name above"


def test_dashboard_shape() -> None:
    doc = json.loads(DASHBOARD.read_text())
    panels = doc["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    heatmaps = [p for p in panels if p["type"] == "heatmap"]
    assert heatmaps and "v7_vetoes_total" in heatmaps[0]["targets"][0]["expr"]
    titles = " ".join(p["title"] for p in panels if p["type"] == "row").lower()
    assert "exit health" in titles and "liveness" in titles
    for p in panels:
        assert {"h", "w", "x", "y"} <= set(p["gridPos"]) and p["gridPos"]["x"] + p["gridPos"][
            "w"
        ] <= 24
        for t in p.get("targets", []):
            assert balanced(t["expr"]) and t["refId"], p["title"]
    assert {v["name"] for v in doc["templating"]["list"]} == {"datasource", "instance"}


def test_dashboard_panels_do_not_overlap() -> None:
    cells: dict[tuple[int, int], str] = {}
    for p in json.loads(DASHBOARD.read_text())["panels"]:
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not on PATH (schema check above)"
)
def test_promtool_accepts_rules_and_config() -> None:
    for args in (["check", "rules", str(ALERTS)], ["check", "config", str(SCRAPE)]):
        out = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
