"""A state file claiming year 1 (or 9999) is damaged: the doctor says so instead of dying."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from execution.cli import main


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
                                   "9999-12-31T23:59:59Z"])  # fmt: skip
def test_the_doctor_measures_against_the_wall_clock_when_updated_ts_is_implausible(
    stamp: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--fast", "--max-bars", "70", "--no-progress",
                 "--state-dir", str(tmp_path)]) == 0  # fmt: skip
    for path in tmp_path.glob("*.json"):
        doc = json.loads(path.read_text())
        if isinstance(doc, dict) and "updated_ts" in doc:
            doc["updated_ts"] = stamp
            path.write_text(json.dumps(doc))
    capsys.readouterr()
    code = main(["doctor", "--state-dir", str(tmp_path)])
    out = capsys.readouterr()
    assert code in (0, 1, 2)
    assert "out of range" not in out.out + out.err
    assert "runtime failure" not in out.err
    assert "not a plausible time" in out.out
