"""Reading one replay CSV file: format detection, quoted fields, epoch/ISO timestamps.

Two bar formats are recognised: a headered ``timestamp,open,high,low,close,volume`` file (any
column order, a few timestamp aliases, volume optional) and Binance's 12-column bulk klines
(no header, ms or µs open times). A funding-rate file is headered ``ts,funding_rate``. Nothing
here validates prices: :func:`execution.market.bars.validate_bars` does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
# ts, open, high, low, close, volume
RawBars = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]

N_BAR_FIELDS = 6
_TS_ALIASES = ("timestamp", "ts", "open_time", "time", "datetime", "date", "fundingtime")
_RATE_ALIASES = ("funding_rate", "fundingrate", "rate", "last_funding_rate")
_BINANCE_KLINE_FIELDS = 12
_NAN_LITERALS = frozenset({"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity"})
_NAN_LITERALS |= {"+infinity", "-infinity"}
_EPOCH = pd.Timestamp(0, tz="UTC")


class DataError(Exception):
    """Market data that cannot be used at all; the message is one line naming the path."""


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the fields are: header line present?, fields per line, column of each field."""

    header: bool
    n_fields: int
    cols: tuple[int | None, ...]  # ts first; a None column (volume) reads as 0


def _header_names(line: str) -> list[str]:
    return [f.strip().strip("\"'").lower() for f in line.split(",")]


def _header_layout(names: list[str]) -> _Layout | None:
    ts_col = next((names.index(a) for a in _TS_ALIASES if a in names), None)
    if ts_col is None or not {"open", "high", "low", "close"} <= set(names):
        return None
    ohlc = (names.index("open"), names.index("high"), names.index("low"), names.index("close"))
    vol = names.index("volume") if "volume" in names else None
    return _Layout(True, len(names), (ts_col, *ohlc, vol))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def detect_layout(path: Path, lines: list[str]) -> _Layout:
    """Return the bar layout of a file's non-empty lines, or raise DataError naming the file."""
    first = _header_names(lines[0])
    headered = _header_layout(first)
    if headered is not None:
        return headered
    counts = Counter(ln.count(",") + 1 for ln in lines[:50])
    if counts.most_common(1)[0][0] == _BINANCE_KLINE_FIELDS:
        # Binance bulk klines; tolerate any header line (its first field is not a number).
        return _Layout(not _is_number(first[0]), _BINANCE_KLINE_FIELDS, (0, 1, 2, 3, 4, 5))
    raise DataError(
        f"{path}: unrecognised CSV format (want a timestamp,open,high,low,close,volume header, "
        f"12-column Binance klines or a ts,funding_rate header; first line {lines[0][:60]!r})"
    )


def _funding_layout(path: Path, lines: list[str]) -> _Layout:
    names = _header_names(lines[0])
    ts_col = next((names.index(a) for a in _TS_ALIASES if a in names), None)
    rate_col = next((names.index(a) for a in _RATE_ALIASES if a in names), None)
    if ts_col is None or rate_col is None:
        raise DataError(
            f"{path}: unrecognised funding-rate CSV (want a ts,funding_rate header; first line "
            f"{lines[0][:60]!r})"
        )
    return _Layout(True, len(names), (ts_col, rate_col))


def is_funding_header(line: str) -> bool:
    """Return True if ``line`` is the header of a funding-rate file (``ts,funding_rate``)."""
    names = _header_names(line)
    return any(a in names for a in _RATE_ALIASES) and not {"open", "close"} <= set(names)


def parse_floats(col: Sequence[str]) -> tuple[FloatArray, BoolArray]:
    """Return the values and which fields parsed; a literal "nan"/"inf" parses (it is data)."""
    try:
        return np.array(col, dtype=np.float64), np.ones(len(col), dtype=np.bool_)
    except (ValueError, TypeError):
        pass  # at least one bad field: fall back to the element-wise, forgiving path
    s = pd.Series(col, dtype=object)
    vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    literal = s.str.strip().str.lower().isin(_NAN_LITERALS).to_numpy(dtype=np.bool_)
    return vals, ~np.isnan(vals) | literal


def epoch_seconds(x: FloatArray) -> FloatArray:
    """Scale epoch numbers to seconds by magnitude: >= 1e17 is ns, >= 1e14 µs, >= 1e11 ms."""
    a = np.abs(x)
    return np.where(
        a >= 1e17, x / 1e9, np.where(a >= 1e14, x / 1e6, np.where(a >= 1e11, x / 1e3, x))
    )


# Bar times the engine can stamp and print (1970 .. 2200); anything else is a bad field, so a
# replay never dies mid-way on a date.
PLAUSIBLE_EPOCH = (0.0, 7_258_118_400.0)


def plausible_times(secs: FloatArray, ok: BoolArray) -> tuple[FloatArray, BoolArray]:
    """``ok`` without the times outside 1970 .. 2200."""
    return secs, ok & (secs >= PLAUSIBLE_EPOCH[0]) & (secs < PLAUSIBLE_EPOCH[1])


def parse_timestamps(col: Sequence[str]) -> tuple[FloatArray, BoolArray]:
    """Return epoch seconds (numbers or ISO-8601 text) and which fields parsed."""
    raw, ok = parse_floats(col)
    secs = epoch_seconds(raw)
    if ok.all():
        return plausible_times(secs, ok)
    bad = np.flatnonzero(~ok)
    text = pd.Series(np.asarray(col, dtype=object)[bad]).str.strip()
    try:
        dt = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        iso = ((dt - _EPOCH) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError, OverflowError):
        iso = np.full(len(bad), np.nan)
    secs[bad] = iso
    ok[bad] = ~np.isnan(iso)
    return plausible_times(secs, ok)


def empty_columns(n: int) -> list[FloatArray]:
    return [np.empty(0, dtype=np.float64) for _ in range(n)]


def read_lines(path: Path) -> list[str]:
    """Return the file's non-empty lines, quotes removed (a quoted numeric CSV reads as plain)."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None
    if '"' in text:
        text = text.replace('"', "")
    return [ln for ln in text.lstrip("\ufeff").splitlines() if ln.strip()]


def _parse_rows(
    lines: list[str], layout: _Layout, empty_ok: frozenset[int]
) -> tuple[list[FloatArray], int]:
    """Return one array per layout column (rows that parsed) and the count of the others.

    Columns listed in ``empty_ok`` read an empty field as 0 (a mark file's blank volume).
    """
    rows = [ln.split(",") for ln in (lines[1:] if layout.header else lines)]
    good = [r for r in rows if len(r) == layout.n_fields]
    malformed = len(rows) - len(good)
    if not good:
        return empty_columns(len(layout.cols)), malformed
    fields = list(zip(*good, strict=True))
    ts_col, *value_cols = layout.cols
    assert ts_col is not None
    ts, ok = parse_timestamps(fields[ts_col])
    cols = [ts]
    for col in value_cols:
        if col is None:
            cols.append(np.zeros(len(good), dtype=np.float64))
            continue
        raw = fields[col]
        if col in empty_ok:
            raw = tuple(f if f.strip() else "0" for f in raw)
        vals, parsed = parse_floats(raw)
        cols.append(vals)
        ok &= parsed
    return [c[ok] for c in cols], malformed + int((~ok).sum())


_HEAD_BYTES = 65_536


def _head_lines(path: Path) -> tuple[list[str], bool]:
    """The first non-empty lines of a file (as ``read_lines`` gives them) and whether the raw
    first line is one of them (no blank line or BOM before it)."""
    try:
        with path.open("rb") as f:
            raw = f.read(_HEAD_BYTES)
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None
    text = raw.decode("utf-8", errors="replace").replace('"', "")
    lines = text.splitlines()
    if len(raw) == _HEAD_BYTES and lines:
        lines = lines[:-1]  # the last one may be cut
    clean = bool(lines) and bool(lines[0].strip()) and not text.startswith("\ufeff")
    return [ln for ln in lines if ln.strip()], clean


def _fast_columns(path: Path, layout: _Layout) -> list[FloatArray] | None:
    """Every column of a clean all-numeric file, parsed by pandas' C reader; None otherwise.

    Clean means: every line has ``layout.n_fields`` fields and every field is a number, so
    nothing is malformed (any doubt: None, and the forgiving line-by-line path decides).
    pandas 3's default parser gives ``float()``'s bits (checked on every file of the shared
    real data and on 650k random decimal strings; ``float_precision`` is deprecated).
    """
    try:
        frame = pd.read_csv(
            path, header=None, skiprows=1 if layout.header else 0, dtype=np.float64,
            engine="c", na_filter=True,
        )  # fmt: skip
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return None
    if frame.shape[1] != layout.n_fields or not len(frame):
        return None
    # Column by column: no 2-D copy of the whole file (216 MB at 4.5M bars).
    cols = [frame[c].to_numpy(dtype=np.float64, copy=True) for c in frame.columns]
    del frame
    return None if any(np.isnan(c).any() for c in cols) else cols


def fast_layout(path: Path, blank_volume_ok: bool) -> _Layout | None:
    """The file's layout when its head says it may be read by the C reader; else None."""
    head, clean = _head_lines(path)
    if not head or not clean or len(head) < 2:
        return None
    layout = detect_layout(path, head)
    if blank_volume_ok and layout.cols[5] is not None:
        return None  # a mark file: blank volumes read as 0 on the line-by-line path
    return layout


def _read_fast(path: Path, blank_volume_ok: bool) -> tuple[RawBars, int] | None:
    """The bar columns through :func:`_fast_columns`, when the file is clean; else None."""
    layout = fast_layout(path, blank_volume_ok)
    if layout is None:
        return None
    cols = _fast_columns(path, layout)
    if cols is None:
        return None
    return bar_columns(cols, layout)


def bar_columns(cols: Sequence[FloatArray], layout: _Layout) -> tuple[RawBars, int]:
    """The six bar columns of a clean file's numeric ``cols`` laid out as ``layout`` says:
    times in epoch seconds, a missing volume as zeros, rows with an implausible time dropped
    (returned with how many were dropped, for the rejects)."""
    ts_col, *value_cols = layout.cols
    assert ts_col is not None
    secs, ok = plausible_times(epoch_seconds(cols[ts_col]), np.ones(len(cols[0]), np.bool_))
    out = [secs] + [np.zeros(len(secs)) if c is None else cols[c] for c in value_cols]
    if not ok.all():
        out = [c[ok] for c in out]
    return (out[0], out[1], out[2], out[3], out[4], out[5]), int((~ok).sum())


def read_bar_file(path: Path, blank_volume_ok: bool = False) -> tuple[RawBars, int]:
    """Return the six parsed bar columns of one file and how many lines were malformed.

    A clean numeric file is read as columns (no Python object per line: a 4.5M-bar file would
    need GiBs as lists of strings); anything else goes line by line.
    """
    fast = _read_fast(path, blank_volume_ok)
    if fast is not None:
        return fast
    lines = read_lines(path)
    if not lines:
        c = empty_columns(N_BAR_FIELDS)
        return (c[0], c[1], c[2], c[3], c[4], c[5]), 0
    layout = detect_layout(path, lines)
    vol_col = layout.cols[5]
    empty_ok = frozenset({vol_col}) if blank_volume_ok and vol_col is not None else frozenset()
    c, malformed = _parse_rows(lines, layout, empty_ok)
    return (c[0], c[1], c[2], c[3], c[4], c[5]), malformed


def read_funding_file(path: Path) -> tuple[FloatArray, FloatArray, int]:
    """Return a funding file's (ts seconds, rate) columns and how many lines were malformed."""
    lines = read_lines(path)
    if not lines:
        e = empty_columns(2)
        return e[0], e[1], 0
    cols, malformed = _parse_rows(lines, _funding_layout(path, lines), frozenset())
    return cols[0], cols[1], malformed
