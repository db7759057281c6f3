"""Atomic JSON writes and defensive JSON reads for the state directory.

Writers: temp file in the same directory, fsync, os.replace, so a reader or a crash never sees
half a file. Readers never raise on a missing or corrupt file: they say why instead.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import stat
import tempfile
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _text  # what json.dumps uses for a key
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

# Bounds of what a reader accepts. The engine's files are a few KiB to a few MiB and nest about
# six levels; past these a file is not one the engine wrote, and reading it would cost memory,
# or break the recursive walkers downstream (json_safe, _finite), for nothing.
MAX_STATE_FILE_BYTES = 64 * 1024 * 1024
MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 300

_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _finite(obj: Any) -> Any:
    """Replace NaN/inf by None so the file stays strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


class PreEncoded:
    """A value that keeps its own compact strict JSON text (:attr:`json`).

    A large value that barely changes between two writes (the paper venue's order history) is
    then neither walked nor encoded again: the writers below splice its text in where it stands
    in a dict, so the output is byte for byte what ``json.dumps`` of the whole would give.
    """

    __slots__ = ()

    @property
    def json(self) -> str:
        """The value as compact strict JSON; ValueError if it holds a NaN or an infinity."""
        raise NotImplementedError


def json_text(data: Any) -> str:
    """Return ``data`` as compact strict JSON, NaN and infinities written as null."""
    if isinstance(data, PreEncoded):
        return _own_text(data, strict=False)
    return _spliced(data, strict=False) or json.dumps(
        _finite(data), separators=(",", ":"), allow_nan=False
    )


def strict_json_text(data: Any) -> str:
    """Return ``data`` as compact strict JSON; ValueError on a NaN or an infinity."""
    if isinstance(data, PreEncoded):
        return _own_text(data, strict=True)
    return _spliced(data, strict=True) or json.dumps(data, separators=(",", ":"), allow_nan=False)


def _own_text(value: PreEncoded, *, strict: bool) -> str:
    """A PreEncoded value's own text. Not strict: one that refuses a NaN is walked like any
    other value (NaN as null)."""
    try:
        return value.json
    except ValueError:
        if strict:
            raise
        return json.dumps(_finite(value), separators=(",", ":"), allow_nan=False)


def _spliced(data: Any, *, strict: bool) -> str | None:
    """``data``'s text with its top-level PreEncoded values spliced in, or None if it has none."""
    if not isinstance(data, dict) or not any(isinstance(v, PreEncoded) for v in data.values()):
        return None
    encode = strict_json_text if strict else json_text
    parts = [f"{_text(str(key))}:{encode(value)}" for key, value in data.items()]
    return "{" + ",".join(parts) + "}"


def write_json_atomic(path: str | Path, data: dict[str, Any], *, fsync: bool = True) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temp file + fsync + os.replace)."""
    write_text_atomic(path, json_text(data), fsync=fsync)


def write_text_atomic(path: str | Path, payload: str, *, fsync: bool = True) -> None:
    """Write ``payload`` to ``path`` atomically (temp file + fsync + os.replace)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
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
        """Return whether the file held a JSON object."""
        return self.status == "ok"


def read_json_defensive(path: str | Path) -> JsonRead:
    """Read a JSON object; a missing, empty, non-JSON or non-object file gives {} and a reason.

    Never blocks and never raises: a FIFO, socket, device or directory in the file's place, a
    symlink loop, a file over :data:`MAX_STATE_FILE_BYTES`, invalid UTF-8, nesting deeper than
    :data:`MAX_JSON_DEPTH` and integers beyond :data:`MAX_INT_DIGITS` digits are "corrupt".
    """
    file_path = Path(path)
    raw = _read_regular_file(file_path)
    if isinstance(raw, JsonRead):
        return raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return _corrupt(file_path, f"not UTF-8: byte {err.start} ({err.reason})")
    if not text.strip():
        return JsonRead(str(file_path), "empty", {}, "file is empty")
    try:
        data = json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as err:
        return _corrupt(file_path, f"not valid JSON: {err.msg} at line {err.lineno}")
    except RecursionError:
        return _corrupt(file_path, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    except ValueError as err:  # _bounded_int's refusal
        return _corrupt(file_path, str(err))
    if not isinstance(data, dict):
        return _corrupt(file_path, f"expected a JSON object, got {type(data).__name__}")
    if _deeper_than(data, MAX_JSON_DEPTH):
        return _corrupt(file_path, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return JsonRead(str(file_path), "ok", data)


def _corrupt(file_path: Path, error: str) -> JsonRead:
    log.warning("state file %s refused: %s", file_path, error)
    return JsonRead(str(file_path), "corrupt", {}, error)


def _read_regular_file(file_path: Path) -> bytes | JsonRead:
    """Return the file's bytes, or why it is not a regular file of a sane size (never blocks)."""
    try:
        # O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever.
        fd = os.open(file_path, os.O_RDONLY | _O_NONBLOCK | _O_CLOEXEC)
    except FileNotFoundError:
        return JsonRead(str(file_path), "missing", {}, "file not found")
    except OSError as err:
        return _corrupt(file_path, _open_error(err))
    try:
        info = os.fstat(fd)  # of what was opened, so a swap after a check cannot fool it
        if not stat.S_ISREG(info.st_mode):
            return _corrupt(file_path, f"not a regular file: {_file_kind(info.st_mode)}")
        if info.st_size > MAX_STATE_FILE_BYTES:
            bound = MAX_STATE_FILE_BYTES
            return _corrupt(file_path, f"{info.st_size} bytes, over the {bound} bound")
        chunks, size = [], 0
        # Bounded even if the file grows while it is read.
        while size <= MAX_STATE_FILE_BYTES and (chunk := os.read(fd, 1 << 20)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as err:
        return _corrupt(file_path, f"unreadable: {err}")
    finally:
        os.close(fd)
    if size > MAX_STATE_FILE_BYTES:
        return _corrupt(file_path, f"over the {MAX_STATE_FILE_BYTES} byte bound")
    return b"".join(chunks)


def _open_error(err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "symlink loop (too many levels of symbolic links)"
    if err.errno == errno.ENXIO:  # what open() says of a socket
        return "not a regular file: a socket"
    return f"unreadable: {err}"


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"))  # fmt: skip
    return next((name for test, name in kinds if test(mode)), f"mode {oct(mode)}")


def _bounded_int(digits: str) -> int:
    # Checked before int() runs: past 4300 digits int() raises its own ValueError, and past
    # ~308 the number has no float, so every reader's float() would raise OverflowError.
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(digits)} digits (over {MAX_INT_DIGITS})")
    return int(digits)


def _deeper_than(data: object, limit: int) -> bool:
    """Return whether containers nest deeper than ``limit`` (walked without recursion)."""
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def remove_stale_temp_files(directory: str | Path, names: tuple[str, ...]) -> list[str]:
    """Delete the temp files a killed :func:`write_json_atomic` left for ``names``; list them.

    Only the writer of ``directory`` may call this (the engine at start-up): a temp file of a
    write in progress elsewhere would be taken away from under it.
    """
    folder = Path(directory)
    removed: list[str] = []
    if not folder.is_dir():
        return removed
    for name in names:
        for tmp in folder.glob(f".{name}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed.append(tmp.name)
    if removed:
        log.info("removed %d temp file(s) of interrupted writes in %s", len(removed), folder)
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
