"""The symbols a restart must keep managing though the universe no longer lists them.

A universe edit between two runs never strands a position without its exits: a symbol the
memory holds a position in, or sent an entry on whose fill it has not seen, comes back into the
universe as exit-only (its bars reach the exit scanner, never the screener).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from execution.config import EngineConfig, SymbolSpec
from execution.store import (
    EngineLock,
    LockHeld,
    Memory,
    PersistError,
    StoreError,
    read_memory,
    store_exists,
)


def store_exists_quietly(state_dir: Path) -> bool:
    """Return whether ``state_dir`` holds a store; False when even that cannot be told."""
    try:
        return store_exists(state_dir)
    except StoreError:
        return False


def with_held_symbols(cfg: EngineConfig, state_dir: Path, mode: str | None = None) -> EngineConfig:
    """The config plus, as exit-only, the symbols the memory holds a position in, or has sent an
    entry on whose fill it has not seen, but the universe no longer lists: a universe edit
    never strands a position without its exits.

    An entry's fill goes unseen when a kill comes between its send and the next commit: the
    restart's reconcile then finds its position on the exchange and gives it the entry's TP/SL,
    which only the exit scanner of a symbol in the universe (its marks fetched) can act on.
    ``mode``: the run's mode; a memory of another mode is left to the runner, which refuses it
    and says why (its symbols are not this run's to manage).
    """
    components = _memory_quietly(state_dir)
    if components is None or (mode is not None and components.identity.get("mode") != mode):
        return cfg
    held, sent = _outside_the_universe(components, cfg.symbols)
    if held:
        print(f"v7: {', '.join(held)}: not in the universe but holding a position; its exits are "
              "managed, no new entries", file=sys.stderr)  # fmt: skip
    if sent:
        print(f"v7: {', '.join(sent)}: not in the universe, but an entry sent on it has no fill "
              "seen yet (the exchange may hold its position); its exits are managed, no new "
              "entries", file=sys.stderr)  # fmt: skip
    extra = tuple(SymbolSpec(symbol=s, exit_only=True) for s in (*held, *sent))
    return cfg.model_copy(update={"universe": (*cfg.universe, *extra)}) if extra else cfg


def _memory_quietly(state_dir: Path) -> Memory | None:
    """The last committed memory, or None (none yet, or held or damaged: the runner refuses
    those with the reason)."""
    if not store_exists_quietly(state_dir):
        return None
    lock = EngineLock(state_dir)
    try:
        lock.acquire()
    except (LockHeld, PersistError, StoreError):
        return None
    try:
        return read_memory(state_dir, lock_held=True)
    except StoreError:
        return None
    finally:
        lock.release()


def _outside_the_universe(
    components: Memory, symbols: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The symbols outside ``symbols`` the memory's ledger holds a position in, and those (not
    held) its pending intents were sent on, each in the memory's order."""
    # A damaged component may be any JSON value: the runner refuses it, naming it.
    ledger = components.ledger
    positions = ledger.get("positions") if isinstance(ledger, dict) else None
    held = (
        [str(s) for s in positions if str(s) not in symbols] if isinstance(positions, dict) else []
    )
    pending = components.pending_intents
    sent: list[str] = []
    for raw in pending if isinstance(pending, list) else []:
        symbol = raw.get("symbol") if isinstance(raw, dict) else None
        if isinstance(symbol, str) and symbol not in symbols and symbol not in (*held, *sent):
            sent.append(symbol)
    return held, sent
