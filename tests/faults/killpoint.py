"""Run ``v7`` and SIGKILL it at one exact point of its state writes.

``V7_KILL_AT_REPLACE=N`` counts the writes of a publish (seven: the ``os.replace`` of each
atomic JSON view - paper account, ledger, registry, positions, risk, intel - then the store's
commit). ``V7_KILL_MODE=mid`` kills in place of the N-th write (a view's temp file is written
and synced, the target still the old copy; the commit has not started); ``after`` kills just
after it. The name of the file is written to stderr first.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def main() -> int:
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
