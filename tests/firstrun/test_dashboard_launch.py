"""`v7 dashboard` launched from a directory that holds another checkout still serves its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dashboard
from dashboard.serve import child_env


def test_the_app_imports_its_own_dashboard_package_from_another_checkouts_directory(
    tmp_path: Path,
) -> None:
    decoy = tmp_path / "dashboard"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("OTHER_CHECKOUT = True\n", encoding="utf-8")
    # serve() starts streamlit with `python -m`, which puts the working directory first on
    # sys.path unless the child environment says otherwise; `-c` has the same rule.
    probe = "import dashboard; print(dashboard.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=child_env(),
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert Path(out.stdout.strip()) == Path(dashboard.__file__).resolve()
