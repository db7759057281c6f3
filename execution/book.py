"""The engine's view of the market and the account: marks, return buffers, NAV and drawdown.

Risk reads it through :meth:`Book.view` (a frozen PortfolioView); only the executor writes it.
"""

from __future__ import annotations

import base64
import math
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from execution.config import RiskConfig
from execution.position_ledger import LedgerPosition
from execution.risk_limits import PortfolioView
from execution.types import BarTuple


class ReturnsBuffer:
    """Per-symbol ring buffers of bar returns; each window is a contiguous view (no copy).

    Every value is written twice (at i and i + L), so the last L values always sit in one slice.
    """

    def __init__(self, n_symbols: int, lookback: int) -> None:
        self.lookback = lookback
        # The values live in a C array (a store is a plain C assignment, cheaper than a numpy
        # scalar store); _buf is a numpy view of the same memory, no copy.
        self._flat = array("d", [math.nan]) * (n_symbols * 2 * lookback)
        self._buf = np.frombuffer(self._flat, dtype=np.float64).reshape(n_symbols, 2 * lookback)
        self._pos = [0] * n_symbols
        self._count = [0] * n_symbols

    def push(self, idx: int, value: float) -> None:
        """Append one return to symbol ``idx``'s window, dropping the oldest when it is full."""
        if value - value != 0.0:  # NaN or inf (validated bars give neither): windows stay finite
            return
        lookback, positions = self.lookback, self._pos
        pos = positions[idx]
        at = 2 * lookback * idx + pos
        flat = self._flat
        flat[at] = flat[at + lookback] = value
        pos += 1
        positions[idx] = 0 if pos == lookback else pos
        count = self._count
        if count[idx] < lookback:
            count[idx] += 1

    def push_many(self, idx: int, values: np.ndarray, finite: bool = False) -> None:
        """:meth:`push` each of ``values`` in order (``finite``: none is NaN or inf, which push
        drops): only the last ``lookback`` can still be in the window, each written once."""
        if not finite:
            values = values[np.isfinite(values)]
        n = len(values)
        if not n:
            return
        lookback = self.lookback
        if n > lookback:
            values = values[n - lookback :]
        kept = len(values)
        at = (self._pos[idx] + n - kept) % lookback
        row = self._buf[idx]
        first = min(kept, lookback - at)  # up to the end of the ring, then from its start
        row[at : at + first] = row[at + lookback : at + lookback + first] = values[:first]
        if first < kept:
            rest = values[first:]
            row[: kept - first] = row[lookback : lookback + kept - first] = rest
        self._pos[idx] = (self._pos[idx] + n) % lookback
        self._count[idx] = min(lookback, self._count[idx] + n)

    def window(self, idx: int) -> np.ndarray:
        """Return symbol ``idx``'s returns, oldest first: a view, valid until the next push."""
        count = self._count[idx]
        end = self._pos[idx] + self.lookback
        return self._buf[idx, end - count : end]

    def to_dict(self) -> dict[str, Any]:
        """Return each window as base64 of its little-endian float64 bytes (bit-exact).

        Bytes, not a JSON list of floats: every commit writes the book into the memory, and
        formatting every float of a large book one by one would dominate the commit.
        """
        return {
            "lookback": self.lookback,
            "encoding": WINDOW_ENCODING,
            "windows": [_encode_window(self.window(i)) for i in range(len(self._pos))],
        }

    def load(self, data: dict[str, Any]) -> None:
        """Restore windows written by :meth:`to_dict`; another lookback or encoding is ignored."""
        windows = data.get("windows")
        if (
            data.get("lookback") != self.lookback
            or data.get("encoding") != WINDOW_ENCODING
            or not isinstance(windows, list)
        ):
            return
        for idx, encoded in enumerate(windows[: len(self._pos)]):
            for value in _decode_window(encoded)[-self.lookback :]:
                self.push(idx, value)


WINDOW_ENCODING = "float64-le-base64"


def _encode_window(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode("ascii")


def _decode_window(encoded: object) -> list[float]:
    """Values of one saved window; an unreadable one restores as empty (the book refills it)."""
    if not isinstance(encoded, str):
        return []
    try:
        decoded: list[float] = np.frombuffer(
            base64.b64decode(encoded, validate=True), "<f8"
        ).tolist()
    except ValueError:  # bad base64 (binascii.Error) or a length not a multiple of 8
        return []
    return decoded


@dataclass(frozen=True, slots=True)
class DrawdownState:
    """NAV against its peak, and the state and risk mode the drawdown puts the engine in."""

    nav: float
    peak_nav: float
    drawdown_pct: float
    dd_state: str  # normal | warn | panic
    risk_mode: str  # OK | DEFENSIVE


class _BookView(Mapping[str, float]):
    """A live, read-only ``symbol -> value`` view of a book; symbols without a value are absent.

    Risk and the exit scanner read one symbol at a time; a view spares a dict of every symbol
    per loop or per intent.
    """

    __slots__ = ("_book",)

    def __init__(self, book: Book) -> None:
        self._book = book

    def _value(self, symbol: str) -> float | None:
        raise NotImplementedError

    def get(self, symbol: str, default: Any = None) -> Any:  # one call, not Mapping's two
        value = self._value(symbol)
        return default if value is None else value

    def __getitem__(self, symbol: str) -> float:
        value = self._value(symbol)
        if value is None:
            raise KeyError(symbol)
        return value

    def __iter__(self) -> Iterator[str]:
        return (s for s in self._book.symbols if self._value(s) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class MarksView(_BookView):
    """``symbol -> mark`` (what ``Book.marks_by_symbol`` copies)."""

    __slots__ = ()

    def _value(self, symbol: str) -> float | None:
        return self._book.mark(symbol)


class MarkTimesView(_BookView):
    """``symbol -> time of its last mark`` (what risk's stale-mark check reads)."""

    __slots__ = ()

    def _value(self, symbol: str) -> float | None:
        idx = self._book.index.get(symbol)
        return None if idx is None else self._book.mark_ts[idx]


class Book:
    """Marks, bar closes, return windows, NAV and its peak, cooldowns, the HALT flag."""

    def __init__(self, symbols: Sequence[str], risk: RiskConfig, starting_nav: float) -> None:
        self.symbols = list(symbols)
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.risk = risk
        n_symbols = len(self.symbols)
        self.marks = [0.0] * n_symbols
        self.mark_ts: list[float | None] = [None] * n_symbols
        self.last_close = [0.0] * n_symbols  # return base: bar closes only, never intra-bar marks
        self.returns = ReturnsBuffer(n_symbols, risk.lookback_bars)
        self.nav = starting_nav
        self.peak_nav = starting_nav
        self.cooldown_until: dict[str, float] = {}
        self.halted_by_file = False
        self.marks_view = MarksView(self)
        self.mark_ts_view = MarkTimesView(self)

    def on_closes(self, bars: Iterable[BarTuple]) -> None:
        """:meth:`on_close` for each ``(idx, ts, open, high, low, close, volume)`` bar of a loop."""
        last, marks, mark_ts, push = self.last_close, self.marks, self.mark_ts, self.returns.push
        for bar in bars:
            idx, close = bar[0], bar[5]
            prev_close = last[idx]
            if prev_close > 0.0:
                push(idx, close / prev_close - 1.0)
            last[idx] = marks[idx] = close
            mark_ts[idx] = bar[1]

    def on_quiet_closes(
        self, idx: int, last_ts: float, last_close: float, returns: np.ndarray, finite: bool
    ) -> None:
        """:meth:`on_closes` over a run of symbol ``idx``'s bars, given their ``returns`` (each
        close over the one before, the first over the last close taken, less 1.0) and the last
        bar's time and close."""
        self.returns.push_many(idx, returns, finite)
        self.last_close[idx] = self.marks[idx] = last_close
        self.mark_ts[idx] = last_ts

    def push_closes(self, bars: Iterable[BarTuple]) -> None:
        """:meth:`push_close` for each bar of a loop (live: marks come from elsewhere)."""
        for bar in bars:
            self.push_close(bar[0], bar[5])

    def on_close(self, idx: int, ts: float, close: float) -> None:
        """Take a closed bar in a replay: its close is both the return base and the mark."""
        self.push_close(idx, close)
        self.marks[idx] = close
        self.mark_ts[idx] = ts

    def push_close(self, idx: int, close: float) -> None:
        """Record a closed bar's return without touching the (live) mark."""
        prev_close = self.last_close[idx]
        if prev_close > 0.0:
            self.returns.push(idx, close / prev_close - 1.0)
        self.last_close[idx] = close

    def set_mark(self, idx: int, ts: float, mark: float) -> None:
        """Take a live mark price (valuation and staleness only; returns come from closes)."""
        self.marks[idx] = mark
        self.mark_ts[idx] = ts

    def mark(self, symbol: str) -> float | None:
        """Return the symbol's mark, or None if it has none yet or is not in the universe."""
        idx = self.index.get(symbol)
        if idx is None or self.marks[idx] <= 0.0:
            return None
        return self.marks[idx]

    def marks_by_symbol(self) -> dict[str, float]:
        """Return a copy of every known mark by symbol."""
        pairs = zip(self.symbols, self.marks, strict=True)
        return {symbol: mark for symbol, mark in pairs if mark > 0.0}

    def update_nav(self, balance: float, positions: Iterable[LedgerPosition]) -> float:
        """Value the positions at their marks, raise the peak if passed; return the NAV."""
        if not positions:  # flat (an empty dict view or list): the NAV is the balance
            self.nav = balance
            if balance > self.peak_nav:
                self.peak_nav = balance
            return balance
        unrealized = 0.0
        index, marks = self.index, self.marks
        for position in positions:
            idx = index.get(position.symbol)
            if idx is not None and (mark := marks[idx]) > 0.0:
                unrealized += position.unrealized_pnl(mark)
        self.nav = balance + unrealized
        if self.nav > self.peak_nav:
            self.peak_nav = self.nav
        return self.nav

    def drawdown(self) -> DrawdownState:
        """Return the drawdown from the peak NAV and the state it puts the engine in."""
        dd_pct = max(0.0, 1.0 - self.nav / self.peak_nav) if self.peak_nav > 0 else 0.0
        risk = self.risk
        state = (
            "panic" if dd_pct >= risk.dd_panic_pct
            else "warn" if dd_pct >= risk.dd_warn_pct
            else "normal"
        )  # fmt: skip
        mode = "OK" if state == "normal" else "DEFENSIVE"
        return DrawdownState(self.nav, self.peak_nav, dd_pct, state, mode)

    def returns_of(self, symbol: str) -> np.ndarray | None:
        """Return the symbol's return window (None if it is not in the universe)."""
        idx = self.index.get(symbol)
        return None if idx is None else self.returns.window(idx)

    def view(
        self, positions: Iterable[LedgerPosition], now: float, exclude: frozenset[str] = frozenset()
    ) -> PortfolioView:
        """Freeze what risk needs; ``exclude`` drops positions already being closed."""
        notionals = {}
        for position in positions:
            if position.symbol in exclude:
                continue
            mark = self.mark(position.symbol) or position.entry_price
            notionals[position.symbol] = position.signed_notional(mark)
        dd = self.drawdown()
        # Marks and their times are live read-only views: risk decides before anything moves
        # them, and copying every symbol's per intent would cost more than the decision.
        return PortfolioView(
            now=now,
            nav=self.nav,
            peak_nav=self.peak_nav,
            positions=notionals,
            last_mark_ts=self.mark_ts_view,
            marks=self.marks_view,
            cooldown_until=dict(self.cooldown_until),
            halted=self.halted_by_file or dd.dd_state == "panic",
            returns=self.returns_of,
            returns_nan_free=True,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the book as JSON-ready values (the memory's ``book`` component)."""
        return {
            "marks": list(self.marks),
            "last_close": list(self.last_close),
            "mark_ts": list(self.mark_ts),
            "peak_nav": self.peak_nav,
            "nav": self.nav,
            "cooldown_until": dict(self.cooldown_until),
            "returns": self.returns.to_dict(),
        }

    def load(self, data: dict[str, Any]) -> None:
        """Restore what :meth:`to_dict` wrote; a list of another length is left as it is."""
        n_symbols = len(self.symbols)
        marks, mark_ts = data.get("marks"), data.get("mark_ts")
        if isinstance(marks, list) and len(marks) == n_symbols:
            self.marks = [float(mark) for mark in marks]
        closes = data.get("last_close")
        if isinstance(closes, list) and len(closes) == n_symbols:
            self.last_close = [float(close) for close in closes]
        if isinstance(mark_ts, list) and len(mark_ts) == n_symbols:
            self.mark_ts = [None if ts is None else float(ts) for ts in mark_ts]
        for key in ("peak_nav", "nav"):
            value = data.get(key)
            if isinstance(value, int | float):
                setattr(self, key, float(value))
        cooldowns = data.get("cooldown_until")
        if isinstance(cooldowns, dict):
            self.cooldown_until = {str(sym): float(until) for sym, until in cooldowns.items()}
        returns = data.get("returns")
        if isinstance(returns, dict):
            self.returns.load(returns)
