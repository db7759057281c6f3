"""Run ``v7`` and SIGKILL it at one exact point of its state writes.

``V7_KILL_AT_REPLACE=N`` counts the writes of a publish (seven: the ``os.replace`` of each
atomic JSON view - paper account, ledger, registry, positions, risk, intel - then the store's
commit). ``V7_KILL_MODE=mid`` kills in place of the N-th write (a view's temp file is written
and synced, the target still the old copy; the commit has not started); ``after`` kills just
after it. The name of the file is written to stderr first.

``V7_KILL_AFTER_RENAME=name`` instead kills just after the ``os.rename`` of the file ``name``
(``--fresh`` moving the memory aside one rename at a time).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def _kill_after_rename(name: str) -> None:
    real_rename = os.rename

    def rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        real_rename(src, dst, *args, **kwargs)
        if os.path.basename(str(src)) == name:
            os.write(2, f"killpoint: after rename {name}\n".encode())
            os.kill(os.getpid(), signal.SIGKILL)

    os.rename = rename  # type: ignore[assignment]


def main() -> int:
    after_rename = os.environ.get("V7_KILL_AFTER_RENAME")
    if after_rename:
        _kill_after_rename(after_rename)
        from execution.cli import main as v7

        return v7(sys.argv[1:])
    target = int(os.environ["V7_KILL_AT_REPLACE"])
    mode = os.environ.get("V7_KILL_MODE", "mid")
    seen = 0

    def at_write(name: str, write: Callable[[], None]) -> None:
        """Count one write; on the target one, kill in place of it (mid) or just after it."""
        nonlocal seen
        seen += 1
        if seen == target:
            os.write(2, f"killpoint: {mode} {name}\n".encode())
            if mode == "mid":
                os.kill(os.getpid(), signal.SIGKILL)
        write()
        if seen == target:
            os.kill(os.getpid(), signal.SIGKILL)

    real_replace = os.replace

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        at_write(os.path.basename(str(dst)), lambda: real_replace(src, dst, *args, **kwargs))

    os.replace = replace  # type: ignore[assignment]
    from execution.cli import main as v7
    from execution.store.store import Store

    real_commit = Store.commit

    def commit(self: Store, *args: Any, **kwargs: Any) -> None:
        at_write("engine.db", lambda: real_commit(self, *args, **kwargs))

    Store.commit = commit  # type: ignore[method-assign]

    return v7(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
