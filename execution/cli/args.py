"""Argument types shared by the subcommands: bad values are argparse errors (exit 2)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

_N = TypeVar("_N", int, float)


def _parsed(text: str, cast: Callable[[str], _N], noun: str) -> _N:
    """Convert ``text``, or fail the way argparse reports a bad value."""
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number (got {text})")
    return value


def _require(ok: bool, rule: str, text: str) -> None:
    if not ok:
        raise argparse.ArgumentTypeError(f"{rule} (got {text})")


def port_number(text: str) -> int:
    """A TCP port, 1..65535."""
    port = _parsed(text, int, "a port number")
    _require(1 <= port <= 65535, "port must be 1..65535", text)
    return port


def non_negative_int(text: str) -> int:
    """An integer >= 0."""
    value = _parsed(text, int, "an integer")
    _require(value >= 0, "must be >= 0", text)
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _parsed(text, float, "a number")
    _require(value > 0, "must be a finite number > 0", text)
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    value = _parsed(text, float, "a number")
    _require(value >= 0, "must be a finite number >= 0", text)
    return value
