"""Reading one bar file a chunk of rows at a time: what ``read_bar_file`` returns, in pieces.

A streamed replay reads each file more than once (counting, then replaying) and never holds
all of it, so the same file must cut into the same chunks every time: both readers here are
deterministic. A clean numeric file goes through pandas' C reader in chunks of ``rows`` rows;
anything else line by line, in blocks of ``rows`` non-empty lines, with the rules of
``csv_format`` (quotes removed, BOM and blank lines skipped, a malformed line counted).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from execution.market.csv_format import (
    DataError,
    RawBars,
    _Layout,
    _parse_rows,
    bar_columns,
    detect_layout,
    fast_layout,
)

CHUNK_ROWS = 16_384
_READ_BYTES = 1 << 20
BarChunk = tuple[RawBars, int]  # the parsed bars of one chunk and how many lines were malformed


class NotClean(Exception):
    """The file is not clean numeric CSV after all: read it line by line instead."""


def fast_chunks(path: Path, layout: _Layout, rows: int = CHUNK_ROWS) -> Iterator[BarChunk]:
    """The file's bars through pandas' C reader; raise NotClean at the first doubt."""
    try:
        reader = pd.read_csv(
            path, header=None, skiprows=1 if layout.header else 0, dtype=np.float64,
            engine="c", na_filter=True, chunksize=rows,
        )  # fmt: skip
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        raise NotClean from None
    with reader:
        seen = 0
        while True:
            try:
                frame = next(reader)
            except StopIteration:
                break
            except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
                raise NotClean from None
            seen += len(frame)
            yield _fast_chunk(frame, layout)
        if not seen:
            raise NotClean


def _fast_chunk(frame: pd.DataFrame, layout: _Layout) -> BarChunk:
    if frame.shape[1] != layout.n_fields:
        raise NotClean
    cols = [frame[c].to_numpy(dtype=np.float64, copy=True) for c in frame.columns]
    if any(np.isnan(c).any() for c in cols):
        raise NotClean
    return bar_columns(cols, layout)


def _is_line_break(ch: str) -> bool:
    return ch.splitlines() == [""]  # the characters str.splitlines splits on


def line_blocks(path: Path, rows: int = CHUNK_ROWS) -> Iterator[list[str]]:
    """The file's non-empty lines as ``read_lines`` gives them, ``rows`` or more at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    carry, start, block = "", True, []
    try:
        with path.open("rb") as f:
            while True:
                raw = f.read(_READ_BYTES)
                text = carry + decoder.decode(raw, final=not raw).replace('"', "")
                if start:  # a BOM (or several) before the first line
                    text = text.lstrip("\ufeff")
                    start = not text
                lines = text.splitlines()
                carry = lines.pop() if raw and lines and not _is_line_break(text[-1]) else ""
                block += [ln for ln in lines if ln.strip()]
                if len(block) >= rows or not raw:
                    if block:
                        yield block
                    block = []
                if not raw:
                    return
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None


def line_chunks(path: Path, blank_volume_ok: bool, rows: int = CHUNK_ROWS) -> Iterator[BarChunk]:
    """The file's bars parsed line by line (a malformed line counted, never fatal)."""
    layout: _Layout | None = None
    empty_ok: frozenset[int] = frozenset()
    for block in line_blocks(path, max(rows, 50)):  # the layout is read off the first 50 lines
        if layout is None:
            layout = detect_layout(path, block)
            vol_col = layout.cols[5]
            if blank_volume_ok and vol_col is not None:
                empty_ok = frozenset({vol_col})
            c, malformed = _parse_rows(block, layout, empty_ok)
            layout = replace(layout, header=False)  # only the file's first line is a header
        else:
            c, malformed = _parse_rows(block, layout, empty_ok)
        yield (c[0], c[1], c[2], c[3], c[4], c[5]), malformed


def bar_chunks(
    path: Path, blank_volume_ok: bool, fast: bool, rows: int = CHUNK_ROWS
) -> Iterator[BarChunk]:
    """The file's chunks by the reader a first pass chose (``fast``: the C reader)."""
    if fast:
        layout = fast_layout(path, blank_volume_ok)
        assert layout is not None  # the first pass read it so
        return fast_chunks(path, layout, rows)
    return line_chunks(path, blank_volume_ok, rows)
