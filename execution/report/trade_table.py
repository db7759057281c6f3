"""Closed trades held as columns: what a report keeps of a long run's journal.

A long replay closes a hundred thousand trades; as a dict per row they took over 1 KB each,
as ``Trade`` objects about 300 bytes. Here each trade is nine float64 and three small string
codes (about 84 bytes), and a ``Trade`` is built only while a metric looks at it, so the end of
`v7 run --fast` does not grow with the length of the run.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from execution.report.metrics import Trade

# The order ``TradeTable.append_row`` takes, as ``stream_rows`` selects them.
ROW_COLUMNS = ("symbol", "side", "entry_ts", "exit_ts", "entry_price", "exit_price", "qty",
               "exit_reason", "pnl", "fees", "tp", "sl")  # fmt: skip
_NUMBERS = ("entry_ts", "exit_ts", "entry_price", "exit_price", "qty", "pnl", "fees", "tp", "sl")
_TEXTS = ("symbol", "side", "exit_reason")


def _or_nan(value: Any) -> float:
    # The journal refuses NaN, so NaN here can only stand for a missing TP or SL.
    return math.nan if value is None else float(value)


def _or_none(value: float) -> float | None:
    return None if math.isnan(value) else value


class TradeTable(Sequence[Trade]):
    """An append-only sequence of trades, read back as ``Trade`` objects built on access."""

    def __init__(self, rows: Iterable[Sequence[Any]] = ()) -> None:
        self._numbers = {name: array("d") for name in _NUMBERS}
        self._codes = {name: array("I") for name in _TEXTS}
        self._names: list[str] = []  # each distinct symbol, side or exit reason, once
        self._code_of: dict[str, int] = {}
        for row in rows:
            self.append_row(row)

    def _code(self, text: Any) -> int:
        name = str(text)
        code = self._code_of.get(name)
        if code is None:
            code = self._code_of[name] = len(self._names)
            self._names.append(name)
        return code

    def append_row(self, row: Sequence[Any]) -> None:
        """Add one closed-trades row, its fields in ``ROW_COLUMNS`` order."""
        values = dict(zip(ROW_COLUMNS, row, strict=True))
        for name in _TEXTS:
            self._codes[name].append(self._code(values[name]))
        for name in _NUMBERS:
            self._numbers[name].append(_or_nan(values[name]))

    def __len__(self) -> int:
        return len(self._numbers["pnl"])

    def _trade(self, i: int) -> Trade:
        n, c, names = self._numbers, self._codes, self._names
        return Trade(
            names[c["symbol"][i]], names[c["side"][i]], n["entry_ts"][i], n["exit_ts"][i],
            n["entry_price"][i], n["exit_price"][i], n["qty"][i], names[c["exit_reason"][i]],
            n["pnl"][i], n["fees"][i], _or_none(n["tp"][i]), _or_none(n["sl"][i]),
        )  # fmt: skip

    @overload
    def __getitem__(self, i: int) -> Trade: ...

    @overload
    def __getitem__(self, i: slice) -> list[Trade]: ...

    def __getitem__(self, i: int | slice) -> Trade | list[Trade]:
        if isinstance(i, slice):
            return [self._trade(k) for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("trade index out of range")
        return self._trade(i)

    def __iter__(self) -> Iterator[Trade]:
        # zip over the columns: a metric pass over 100k trades costs ~0.1 s, not ~0.4 s by index.
        names, n, c = self._names, self._numbers, self._codes
        columns = (c["symbol"], c["side"], n["entry_ts"], n["exit_ts"], n["entry_price"],
                   n["exit_price"], n["qty"], c["exit_reason"], n["pnl"], n["fees"], n["tp"],
                   n["sl"])  # fmt: skip
        for sym, side, et, xt, ep, xp, qty, why, pnl, fee, tp, sl in zip(*columns, strict=True):
            yield Trade(names[sym], names[side], et, xt, ep, xp, qty, names[why], pnl, fee,
                        None if tp != tp else tp, None if sl != sl else sl)  # fmt: skip
