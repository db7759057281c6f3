"""`v7 doctor --sync-registry`: register TP/SL for ledger positions that have none.

The playbook's "run ledger/registry sync". A dry run by default (shows what it would write);
with ``apply`` it adds the missing entries at the configured default distances, ``source:
"sync"``: to the store's ``registry`` component (one transaction, under the engine lock) when
the state dir has a store, so the next restart keeps them, then to tp_sl_registry.json
atomically. It refuses while an engine runs (it would overwrite the change). It never sends an
order and never touches another file.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from doctor.model import as_dict, dig, num
from execution.clock import to_iso
from execution.position_tp_sl_registry import has_valid_levels
from execution.state_io import SCHEMA_VERSION, JsonRead, write_json_atomic
from execution.state_v7 import (
    INTEL_FILE,
    POSITIONS_LEDGER_FILE,
    TP_SL_REGISTRY_FILE,
    read_state_file,
    resolve_state_dir,
)
from execution.store import (
    LOCK_FILE,
    EngineLock,
    JournalBatch,
    LockHeld,
    Memory,
    PersistError,
    Store,
    StoreError,
    lock_holder,
    store_exists,
)


@dataclass(frozen=True)
class SyncReport:
    """What the sync found, planned and (if applied) wrote; ``refused`` says why it could not."""

    state_dir: str
    applied: bool
    tp_pct: float
    sl_pct: float
    planned: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    already_registered: list[str] = field(default_factory=list)
    refused: str | None = None

    @property
    def exit_code(self) -> int:
        return 2 if self.refused else 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exit_code": self.exit_code}

    def render(self) -> str:
        """Human-readable report: one line per planned or skipped entry."""
        verb = "registered" if self.applied else "would register"
        lines = [
            f"TP/SL registry sync ({'apply' if self.applied else 'dry run'}) in {self.state_dir}",
            f"defaults: tp {self.tp_pct:.2%} / sl {self.sl_pct:.2%} from entry price",
        ]
        if self.refused:
            lines.append(f"REFUSED: {self.refused}")
        for e in self.planned:
            lines.append(
                f"  {verb} {e['symbol']} {e['side']}: entry {e['entry_price']:g} "
                f"-> tp {e['tp_price']:g}, sl {e['sl_price']:g}"
            )
        lines += [f"  skipped {s['symbol']}: {s['reason']}" for s in self.skipped]
        lines.append(f"already registered: {len(self.already_registered)}")
        if not self.planned and not self.refused:
            lines.append("nothing to do: every ledger position has a TP/SL entry")
        elif self.planned and not self.applied and not self.refused:
            lines.append("dry run: nothing written; add --apply to write tp_sl_registry.json")
        return "\n".join(lines)


def levels(side: str, entry: float, tp_pct: float, sl_pct: float) -> tuple[float, float]:
    """(tp, sl) at the given distances from entry: above/below for a long, mirrored for a short."""
    sign = 1.0 if side == "long" else -1.0
    return _tidy(entry * (1 + sign * tp_pct)), _tidy(entry * (1 - sign * sl_pct))


def _tidy(x: float) -> float:
    """Drop float noise (61800.00000000001 -> 61800.0) while keeping tiny prices exact."""
    return float(f"{x:.12g}")


def _plan(
    ledger: dict[str, Any], entries: dict[str, Any], tp_pct: float, sl_pct: float, ts: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    planned, skipped, present = [], [], []
    for symbol, raw in sorted(as_dict(ledger.get("positions")).items()):
        pos = as_dict(raw)
        side, entry = pos.get("side"), num(pos.get("entry_price"))
        if has_valid_levels(entries.get(symbol)):  # a NaN or 'n/a' entry is repaired too
            present.append(symbol)
        elif side not in ("long", "short"):
            skipped.append({"symbol": symbol, "reason": f"side is {side!r}, not long/short"})
        elif entry is None or entry <= 0:
            skipped.append(
                {"symbol": symbol, "reason": f"entry_price is {pos.get('entry_price')!r}"}
            )
        else:
            tp, sl = levels(str(side), entry, tp_pct, sl_pct)
            planned.append(
                {
                    "symbol": symbol,
                    "side": side,
                    "entry_price": entry,
                    "tp_price": tp,
                    "sl_price": sl,
                    "created_ts": ts,
                    "source": "sync",
                }
            )
    return planned, skipped, present


def _unusable(read: JsonRead, *, missing_ok: bool) -> str | None:
    if read.ok or (missing_ok and read.status == "missing"):
        return None
    return f"{Path(read.path).name} is {read.status} ({read.error})"


def engine_pid_alive(intel: dict[str, Any]) -> int | None:
    """The engine's pid when intel.json says running and that process exists on this host."""
    engine = dig(intel, "engine")
    pid = engine.get("pid")
    if engine.get("running") is not True or not isinstance(pid, int) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def sync_registry(
    state_dir: str | Path | None, *, apply: bool, tp_pct: float, sl_pct: float, now: float
) -> SyncReport:
    """Plan (and with ``apply`` write) TP/SL entries for ledger positions lacking one."""
    if not (0 < tp_pct < 1 and 0 < sl_pct < 1):
        raise ValueError(f"tp_pct and sl_pct must be in (0, 1) (got {tp_pct}, {sl_pct})")
    directory = resolve_state_dir(state_dir)
    base = SyncReport(str(directory), applied=False, tp_pct=tp_pct, sl_pct=sl_pct)
    ledger = read_state_file(POSITIONS_LEDGER_FILE, directory)
    registry = read_state_file(TP_SL_REGISTRY_FILE, directory)
    why = _unusable(ledger, missing_ok=False) or _unusable(registry, missing_ok=True)
    if why:
        return _replace(base, refused=f"{why}; nothing written")
    entries = as_dict(registry.data.get("entries"))
    ts = to_iso(now) or ""
    planned, skipped, present = _plan(ledger.data, entries, tp_pct, sl_pct, ts)
    report = _replace(base, planned=planned, skipped=skipped, already_registered=present)
    if not apply or not planned:
        return report
    pid = running_engine(directory)
    if pid is not None:
        return _replace(report, refused=_running_message(pid))
    try:
        _apply(directory, registry.data, planned, ts)
    except LockHeld as held:
        return _replace(report, refused=_running_message(held.pid))
    except (PersistError, StoreError) as err:
        return _replace(report, refused=f"{err}; nothing written")
    return _replace(report, applied=True)


def running_engine(directory: Path) -> int | None:
    """The running engine's pid (-1 if it has not written it yet), or None.

    The engine lock says it; a state dir without a lock file is from an engine that predates
    the store, so there intel.json's pid is the evidence.
    """
    if (directory / LOCK_FILE).exists():
        return lock_holder(directory)
    return engine_pid_alive(read_state_file(INTEL_FILE, directory).data)


def _running_message(pid: int | None) -> str:
    who = f"the engine (pid {pid})" if pid is not None and pid > 0 else "an engine"
    return (
        f"{who} is running and owns the registry: it would overwrite this change at its next "
        "commit. Stop it, re-run with --apply, restart it (it reloads the registry at start)"
    )


def _apply(
    directory: Path, current: dict[str, Any], planned: list[dict[str, Any]], ts: str
) -> None:
    """Write the store first (the engine's memory), then the JSON view of it."""
    if store_exists(directory):
        # The lock keeps an engine from starting between our read and our write.
        with EngineLock(directory), Store.open(directory, durable=True) as store:
            memory = store.load() or Memory()
            memory.registry = _with_entries(memory.registry, planned, ts)
            store.commit(memory, JournalBatch())
    write_json_atomic(directory / TP_SL_REGISTRY_FILE, _with_entries(current, planned, ts))


def _with_entries(
    current: dict[str, Any], planned: list[dict[str, Any]], ts: str
) -> dict[str, Any]:
    """The registry document with the planned entries added: an existing entry is kept when
    its levels are protection, replaced when they are not (a NaN, a string, a missing TP)."""
    entries = dict(as_dict(current.get("entries")))
    for e in planned:
        if not has_valid_levels(entries.get(e["symbol"])):
            entries[e["symbol"]] = {k: v for k, v in e.items() if k != "entry_price"}
    doc = dict(current)
    doc.setdefault("schema_version", SCHEMA_VERSION)
    doc["updated_ts"] = ts
    doc["entries"] = entries
    return doc


def _replace(report: SyncReport, **changes: Any) -> SyncReport:
    return SyncReport(**{**asdict(report), **changes})
