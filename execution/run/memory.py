"""The engine's memory as store components, and back: per-symbol state is keyed by symbol.

Keying by symbol (not by the universe's index) is what lets a restart survive a universe edit:
a symbol keeps its own indicators, marks and returns wherever it moves in the list, an added
symbol starts fresh, and a removed one is simply not read back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from execution import diagnostics_metrics as diag
from execution import memory_errors as memory
from execution.book import Book
from execution.config import EngineConfig
from execution.diagnostics.state import parse_state
from execution.executor_live import Restored
from execution.memory_errors import MemoryCorrupt
from execution.position_ledger import PositionLedger
from execution.position_tp_sl_registry import TpSlRegistry
from execution.signal_screener import Strategy
from execution.state_snapshots import intent_from_dict, intent_to_dict
from execution.state_v7 import PAPER_EXCHANGE_FILE, POSITIONS_LEDGER_FILE, TP_SL_REGISTRY_FILE
from execution.types import Intent
from execution.venues.paper import PaperExchange

if TYPE_CHECKING:
    from execution.run.runner import EngineRunner

PER_SYMBOL = "per_symbol"
SHARED = "shared"


def key_by_symbol(state: Mapping[str, Any], symbols: Sequence[str]) -> dict[str, Any]:
    """Split an index-keyed state (lists one value per symbol) into per-symbol and shared parts."""
    n = len(symbols)
    per_symbol: dict[str, dict[str, Any]] = {s: {} for s in symbols}
    shared: dict[str, Any] = {}
    for key, value in state.items():
        if isinstance(value, list) and len(value) == n:
            for sym, v in zip(symbols, value, strict=True):
                per_symbol[sym][key] = v
        else:
            shared[key] = value
    return {PER_SYMBOL: per_symbol, SHARED: shared}


def index_by_symbol(
    keyed: Mapping[str, Any], symbols: Sequence[str], fresh: Mapping[str, Any], component: str
) -> dict[str, Any]:
    """Rebuild an index-keyed state for ``symbols`` from :func:`key_by_symbol`'s output.

    ``fresh`` is a new instance's state: it gives the shape, and the values of symbols the
    memory does not know (added to the universe since).
    """
    per_symbol = keyed.get(PER_SYMBOL)
    shared = keyed.get(SHARED)
    if not isinstance(per_symbol, dict) or not isinstance(shared, dict):
        raise MemoryCorrupt(component, PER_SYMBOL, "expected per_symbol and shared objects")
    out: dict[str, Any] = dict(fresh)
    out.update(shared)
    n = len(symbols)
    for key, value in fresh.items():
        if not (isinstance(value, list) and len(value) == n):
            continue
        merged = list(value)
        for i, sym in enumerate(symbols):
            saved = per_symbol.get(sym)
            if saved is None:
                continue
            if not isinstance(saved, dict):
                raise MemoryCorrupt(component, f"{PER_SYMBOL}.{sym}", "expected an object")
            if key in saved:
                merged[i] = _of_the_same_kind(saved[key], value[i], component, f"{sym}.{key}")
        out[key] = merged
    return out


def _of_the_same_kind(saved: object, fresh: object, component: str, key: str) -> object:
    """Return ``saved`` if the state whose fresh value is ``fresh`` could hold it later.

    Strategies and the book restore these values as they are, unchecked: a string where a
    number was would stop the screener on every loop, an infinity would stop the first commit.
    A value still unset (None) when fresh may become anything.
    """
    where = f"{PER_SYMBOL}.{key}"
    if fresh is None:
        return saved
    if not isinstance(fresh, bool) and isinstance(fresh, int | float):
        memory.finite(component, where, saved)  # the JSON number kinds, finite, giant ints too
        return saved
    if type(saved) is not type(fresh):
        shown = type(saved).__name__ if isinstance(saved, int) else repr(saved)[:60]
        raise MemoryCorrupt(component, where, f"{shown} is not a {type(fresh).__name__}")
    return saved


def book_to_memory(book_state: Mapping[str, Any], symbols: Sequence[str]) -> dict[str, Any]:
    """The book's state keyed by symbol (its return windows included)."""
    flat = {k: v for k, v in book_state.items() if k != "returns"}
    returns = dict(book_state.get("returns") or {})
    windows = returns.pop("windows", None)
    if isinstance(windows, list):
        flat["returns_window"] = windows
    keyed = key_by_symbol(flat, symbols)
    keyed["returns"] = returns  # lookback and encoding
    return keyed


def book_from_memory(
    keyed: Mapping[str, Any], symbols: Sequence[str], fresh: Mapping[str, Any]
) -> dict[str, Any]:
    """The book's state for ``symbols`` from :func:`book_to_memory`'s output."""
    fresh_flat = {k: v for k, v in fresh.items() if k != "returns"}
    fresh_returns = dict(fresh.get("returns") or {})
    fresh_flat["returns_window"] = fresh_returns.pop("windows", [""] * len(symbols))
    flat = index_by_symbol(keyed, symbols, fresh_flat, "book")
    returns = keyed.get("returns")
    if not isinstance(returns, dict):
        raise MemoryCorrupt("book", "returns", "expected an object")
    windows = flat.pop("returns_window")
    flat["returns"] = {**fresh_returns, **returns, "windows": windows}
    return flat


# --- the run's identity: which memory a run may resume ------------------------------------------

_MODE_NAMES = {"replay": "a replay", "realtime": "a paced paper engine", "live": "a live engine"}


@dataclass(frozen=True, slots=True)
class RunIdentity:
    mode: str  # "replay" | "realtime" | "live"
    source: str
    account: str

    def to_component(self) -> dict[str, Any]:
        return {"mode": self.mode, "source": self.source, "account": self.account}

    @classmethod
    def from_component(cls, raw: object) -> RunIdentity:
        doc = memory.mapping("identity", "", raw)
        return cls(
            memory.text("identity", "mode", doc.get("mode")),
            memory.text("identity", "source", doc.get("source")),
            memory.text("identity", "account", doc.get("account")),
        )

    def cannot_resume(self, saved: RunIdentity) -> str | None:
        """Why a run of this identity must not take over ``saved``'s memory (None: it may)."""
        if saved.mode != self.mode:
            return (
                f"it holds the memory of {_MODE_NAMES.get(saved.mode, saved.mode)} "
                f"({saved.source}, account {saved.account}); {_MODE_NAMES.get(self.mode, self.mode)}"
                " cannot use it"
            )
        if saved.account != self.account:
            return f"it holds the memory of account {saved.account}, not {self.account}"
        if saved.source != self.source:
            return f"it holds the memory of a run on {saved.source}, not {self.source}"
        return None


def replay_universe_changed(progress: Mapping[str, Any], symbols: Sequence[str]) -> str | None:
    """Why an unfinished replay cannot resume over ``symbols`` (None: it can).

    A replay resumes at a bar count over the merged bars of its universe: with a symbol added,
    removed or moved, that count points elsewhere in the data, and a removed symbol's position
    would never see a bar again. A paced or live engine reconciles a universe edit by symbol
    instead (its bars are not replayed).
    """
    saved = progress.get("symbols")
    if not isinstance(saved, list) or saved == list(symbols):
        return None
    return (
        f"it holds an unfinished replay of the universe {', '.join(map(str, saved))}; this "
        f"run's universe is {', '.join(symbols)}, and a replay resumes only over the universe "
        "it began with (restore that universe to finish it)"
    )


# The views that record memory (positions, TP/SL, the paper account), not only its effects.
MEMORY_VIEWS = (POSITIONS_LEDGER_FILE, TP_SL_REGISTRY_FILE, PAPER_EXCHANGE_FILE)


def files_without_their_store(state_dir: Path) -> str | None:
    """Why a state dir without engine.db must not get a fresh engine (None: it may).

    Its memory files describe positions, TP/SL and an account (engine.db deleted by hand, or
    the files of a v7 before the store): a fresh engine would publish over them, their last
    record.
    """
    held = [name for name in MEMORY_VIEWS if os.path.lexists(state_dir / name)]
    if not held:
        return None
    return (
        f"missing, but the state dir holds the engine's files ({', '.join(held)}): a new engine "
        "would write over what they record"
    )


# --- capture and restore -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RestoredRun:
    executor: Restored
    paper_account: dict[str, Any] | None
    bars_processed: int
    last_ts: float  # the engine clock at the commit: the last loop's time
    diagnostics: dict[str, Any]
    held_outside_universe: tuple[str, ...]
    symbols: tuple[str, ...] = ()  # the universe the memory was committed over (old: unknown)
    entry_in_flight: str | None = None  # the intent a live pre-send commit was made for


def capture_memory(runner: EngineRunner, now: float) -> dict[str, Any]:
    """Return every memory component of ``runner`` as JSON-ready values."""
    ex = runner.executor
    symbols = ex.symbols
    paper = ex.exchange.to_dict() if isinstance(ex.exchange, PaperExchange) else {}
    orders = paper.pop("orders", {})  # its own component (Memory.paper_orders)
    return {
        "identity": runner.identity.to_component(),
        "progress": {
            "bars_processed": runner.bars_done,
            "completed": runner.completed,
            "last_ts": now,
            "symbols": list(symbols),
            "entry_in_flight": runner.entry_in_flight,
        },
        "ledger": ex.ledger.to_dict(now),
        "registry": ex.registry.to_dict(now),
        "pending_intents": [intent_to_dict(i) for i in ex.pending_intents.values()],
        "open_orders": ex.exchange.open_orders() if hasattr(ex.exchange, "open_orders") else [],
        "paper_account": paper,
        "paper_orders": orders,
        "strategy": key_by_symbol(ex.strategy.state(), symbols),
        "book": book_to_memory(ex.book.to_dict(), symbols),
        "diagnostics": diag.export_state(),
    }


def restore_memory(
    components: Mapping[str, Any], cfg: EngineConfig, strategy: Strategy
) -> RestoredRun:
    """Rebuild what a resumed run needs; raise :class:`MemoryCorrupt` naming a bad value."""
    symbols = cfg.symbols
    progress = memory.mapping("progress", "", components.get("progress"))
    bars = memory.count("progress", "bars_processed", progress.get("bars_processed"))
    ledger = PositionLedger.from_memory(components.get("ledger"))
    registry = TpSlRegistry.from_memory(components.get("registry"))
    _check_sides(ledger, registry)
    raw_pending = components.get("pending_intents")
    if not isinstance(raw_pending, list):
        raise MemoryCorrupt("pending_intents", "", "expected a list")
    pending: dict[str, Intent] = {}
    for n, raw in enumerate(raw_pending):
        intent = intent_from_dict(raw, strict=True, key=f"[{n}]")
        if intent is not None:
            pending[intent.intent_id] = intent
    fresh_book = Book(symbols, cfg.risk, 0.0).to_dict()
    strategy_state = index_by_symbol(
        memory.mapping("strategy", "", components.get("strategy")), symbols, strategy.state(),
        "strategy",
    )  # fmt: skip
    book_state = book_from_memory(
        memory.mapping("book", "", components.get("book")), symbols, fresh_book
    )
    diagnostics = dict(memory.mapping("diagnostics", "", components.get("diagnostics")))
    try:
        parse_state(diagnostics)
    except ValueError as err:
        raise MemoryCorrupt("diagnostics", "", str(err)) from err
    outside = tuple(s for s in ledger.positions if s not in symbols)
    return RestoredRun(
        executor=Restored(ledger, registry, pending, strategy_state, book_state),
        paper_account=paper_account_whole(components),
        bars_processed=bars,
        last_ts=memory.finite("progress", "last_ts", progress.get("last_ts")),
        diagnostics=diagnostics,
        held_outside_universe=outside,
        symbols=_saved_symbols(progress.get("symbols")),
        entry_in_flight=_entry_in_flight(progress.get("entry_in_flight")),
    )


def _entry_in_flight(raw: object) -> str | None:
    return None if raw is None else memory.text("progress", "entry_in_flight", raw)


def _saved_symbols(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        return ()
    return tuple(raw)


def paced_bars_to_skip(bars_done: int, saved: Sequence[str], symbols: Sequence[str]) -> int:
    """The bars of a paced stream over ``symbols`` that a run over ``saved`` already stepped.

    The stream gives every symbol one bar per loop, each symbol its own price path: across a
    universe edit the number of loops is kept, not of bars (that would move every path in time).
    """
    if not saved or list(saved) == list(symbols):
        return bars_done
    return bars_done // len(saved) * len(symbols)


def _check_sides(ledger: PositionLedger, registry: TpSlRegistry) -> None:
    """Raise MemoryCorrupt for a TP/SL whose side is not its position's: on the wrong side of
    the price, both levels would be crossed at once and the position closed on the next bar."""
    for symbol, entry in registry.entries.items():
        held = ledger.positions.get(symbol)
        if held is not None and held.side is not entry.side:
            raise MemoryCorrupt("registry", f"{symbol}.side", f"{entry.side.value}, but the "
                                f"ledger's position is {held.side.value}")  # fmt: skip


def paper_account_whole(components: Mapping[str, Any]) -> dict[str, Any] | None:
    """The saved paper account with its order history back in it (None on a live venue).

    The history is its own component (``paper_orders``); a store written before that keeps it
    inside ``paper_account``, and is read as it is.
    """
    paper = components.get("paper_account")
    if not paper:
        return None
    account = dict(memory.mapping("paper_account", "", paper))
    if "orders" not in account:
        orders = components.get("paper_orders") or {}
        account["orders"] = dict(memory.mapping("paper_orders", "", orders))
    return account


def refuse_a_paper_venue_without_its_account(exchange: object) -> None:
    """Raise MemoryCorrupt when a resumed memory has no paper account for a paper venue.

    Resumed without its account, a paper venue would start afresh: its positions gone (the
    reconcile then closes the ledger's as "closed outside the engine"), its balance reset.
    """
    if isinstance(exchange, PaperExchange):
        raise MemoryCorrupt("paper_account", "", "is empty, but this memory is a paper account's")
