"""Atomic JSON writes and defensive JSON reads for the state directory.

Writers: temp file in the same directory, fsync, os.replace, so a reader or a crash never sees
half a file. Readers never raise on a missing or corrupt file: they say why instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


def _finite(obj: Any) -> Any:
    """Replace NaN/inf by None so the file stays strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def write_json_atomic(path: str | Path, data: dict[str, Any], *, fsync: bool = True) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temp file + fsync + os.replace)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(_finite(data), separators=(",", ":"), allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(payload)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True, slots=True)
class JsonRead:
    """What a defensive read found: the data ({} unless ok) and, if not ok, why."""

    path: str
    status: str  # "ok" | "missing" | "empty" | "corrupt"
    data: dict[str, Any]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def read_json_defensive(path: str | Path) -> JsonRead:
    """Read a JSON object; a missing, empty, non-JSON or non-object file gives {} and a reason."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return JsonRead(str(p), "missing", {}, "file not found")
    except (OSError, UnicodeDecodeError) as err:
        log.warning("state file %s unreadable: %s", p, err)
        return JsonRead(str(p), "corrupt", {}, f"unreadable: {err}")
    if not text.strip():
        return JsonRead(str(p), "empty", {}, "file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        log.warning("state file %s is not valid JSON: %s", p, err)
        return JsonRead(str(p), "corrupt", {}, f"not valid JSON: {err.msg} at line {err.lineno}")
    if not isinstance(data, dict):
        return JsonRead(str(p), "corrupt", {}, f"expected a JSON object, got {type(data).__name__}")
    return JsonRead(str(p), "ok", data)


def remove_stale_temp_files(directory: str | Path, names: tuple[str, ...]) -> list[str]:
    """Delete the temp files a killed :func:`write_json_atomic` left for ``names``; list them.

    Only the writer of ``directory`` may call this (the engine at start-up): a temp file of a
    write in progress elsewhere would be taken away from under it.
    """
    d = Path(directory)
    removed: list[str] = []
    if not d.is_dir():
        return removed
    for name in names:
        for tmp in d.glob(f".{name}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed.append(tmp.name)
    if removed:
        log.info("removed %d temp file(s) of interrupted writes in %s", len(removed), d)
    return removed


def quarantine_file(path: str | Path) -> Path | None:
    """Move an unreadable file aside to ``<name>.corrupt`` (kept as evidence, never read again).

    Return the new path, or None if there was nothing to move. A later corrupt copy replaces an
    earlier one.
    """
    src = Path(path)
    dst = src.with_name(src.name + ".corrupt")
    try:
        os.replace(src, dst)
    except FileNotFoundError:
        return None
    except OSError as err:  # e.g. a directory in the way: leave it, say so
        log.warning("cannot move %s aside: %s", src, err)
        return None
    return dst
