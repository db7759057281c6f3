"""Child process of the kill test: resume from the store, then commit loop after loop forever.

Each commit n writes progress.bars_processed = n, a ledger and a book padded to span many
database pages, and loop n's journal (one equity row, one fill, ...), so a commit cut in half
would show as a mismatch between the components and the row counts.
"""

from __future__ import annotations

import sys

from execution.store import EngineLock, Store
from store.helpers import loop_batch, memory_at

PAD = "x" * 20_000


def main(state_dir: str, durable: bool) -> None:
    with EngineLock(state_dir), Store.open(state_dir, durable=durable) as store:
        memory = store.load()
        n = int(memory.progress["bars_processed"]) if memory else 0
        print(n, flush=True)
        while True:
            n += 1
            memory = memory_at(n)
            memory.ledger["pad"] = PAD[: 1000 + (n * 7919) % 19_000]
            store.commit(memory, loop_batch(n))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] == "durable")
