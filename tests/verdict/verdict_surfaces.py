"""Read the verdict back from each surface as a user sees it: `v7 doctor --json`, the
dashboard's top callouts (AppTest) and the /metrics text exposition.

Every reader returns the same shape, so one comparison proves the three surfaces agree:
``{"trading": (status, reason, severity), "protection": (status, severity)}``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from apptest_helpers import run_app
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from doctor.cli import run_doctor
from doctor.verdict import SEVERITIES, read_verdict
from execution.run.metrics_exporter import V7Collector, verdict_view_from_state_dir

Answer = dict[str, tuple[Any, ...]]

_CALLOUT_SEVERITY = {"success": "ok", "warning": "warn", "error": "critical", "info": "unknown"}
_TRADING = re.compile(r"^\*\*Trading: (\w+)\*\*(?: — \*\*(\w+)\*\*)?")
_PROTECTION = re.compile(r"^\*\*Protection: (\w+)\*\*")


def doctor_answer(state_dir: Path) -> Answer:
    """The verdict object of `v7 doctor --json`."""
    _, text = run_doctor(state_dir, as_json=True, config_path=None)
    verdict = json.loads(text)["verdict"]
    t, p = verdict["trading"], verdict["protection"]
    return {
        "trading": (t["status"], t["reason"], t["severity"]),
        "protection": (p["status"], p["severity"]),
        "unprotected": tuple(p["unprotected"]),
    }


def dashboard_answer(state_dir: Path) -> Answer:
    """The two coloured callouts at the top of the page (colour read back as severity)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        at = run_app(monkeypatch, state_dir)
    answer: Answer = {}
    for kind, severity in _CALLOUT_SEVERITY.items():
        for element in getattr(at, kind):
            text = str(element.value)
            if (m := _TRADING.match(text)) is not None:
                answer["trading"] = (m.group(1), m.group(2), severity)
            elif (m := _PROTECTION.match(text)) is not None:
                answer["protection"] = (m.group(1), severity)
                names = re.match(r"^\*\*Protection: \w+\*\* \(([^)]*)\)", text)
                answer["unprotected"] = tuple(names.group(1).split(", ")) if names else ()
    return answer


def metrics_text(state_dir: Path) -> str:
    """The /metrics exposition of a collector whose verdict view reads ``state_dir``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(V7Collector(verdict_view=verdict_view_from_state_dir(state_dir)))
    return generate_latest(registry).decode()


def metrics_answer(state_dir: Path) -> Answer:
    """v7_verdict_status / v7_verdict_state / v7_verdict_reason read back from the text."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(metrics_text(state_dir)):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))

    def current(question: str) -> str:
        states = samples["v7_verdict_state"]
        return next(lab["status"] for lab, v in states if lab["question"] == question and v == 1)

    def severity(question: str) -> str:
        value = next(v for lab, v in samples["v7_verdict_status"] if lab["question"] == question)
        return SEVERITIES[int(value)]

    reasons = [lab["reason"] for lab, v in samples.get("v7_verdict_reason", []) if v == 1]
    n_unprotected = int(samples["v7_unprotected_positions"][0][1])
    expected_names = read_verdict(state_dir).protection.unprotected
    return {
        "trading": (current("trading"), reasons[0] if reasons else None, severity("trading")),
        "protection": (current("protection"), severity("protection")),
        # /metrics carries the count, not the names (bounded labels): names must match the count
        "unprotected": expected_names if len(expected_names) == n_unprotected else ("?",),
    }
