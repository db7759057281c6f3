"""A --state-dir that is not a directory is refused in one line, exit 2, and left as it is.

Before, a file, a FIFO, a symlink loop or a dangling symlink there ended in "runtime failure:
FileExistsError" (exit 1), which names no way out.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from faults.helpers import paced


def _plant(where: Path, kind: str) -> None:
    if kind == "file":
        where.write_text("not a dir\n")
    elif kind == "fifo":
        os.mkfifo(where)
    elif kind == "symlink_loop":
        where.symlink_to(where.name)
    elif kind == "dangling_symlink":
        where.symlink_to(where.parent / "gone" / "state")


@pytest.mark.parametrize("kind", ["file", "fifo", "symlink_loop", "dangling_symlink"])
def test_a_state_dir_that_is_not_a_directory_is_refused_naming_it(
    tmp_path: Path, kind: str
) -> None:
    state = tmp_path / "state"
    _plant(state, kind)
    before = sorted(p.name for p in tmp_path.iterdir())
    out = paced(state, 14, "--pace", "0")
    assert out.returncode == 2, out.stderr
    assert str(state) in out.stderr and "--state-dir" in out.stderr, out.stderr
    assert "runtime failure" not in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_state_dir_under_a_file_is_refused_naming_why(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a dir\n")
    out = paced(blocker / "state", 14, "--pace", "0")
    assert out.returncode == 2, out.stderr
    assert f"{blocker / 'state'}: cannot be made (Not a directory)" in out.stderr, out.stderr
    assert "runtime failure" not in out.stderr
    assert blocker.read_text() == "not a dir\n"
