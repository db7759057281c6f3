"""Strategy API v1: what a strategy receives on each bar and what it may return.

A strategy is a class built once per symbol as ``Class(cfg)`` (``cfg`` is the config's
``strategy`` section; plug-in parameters are in ``cfg.params``). On every closed bar of its
symbol the engine calls ``on_bar(bar)`` with a :class:`BarContext`; the strategy returns a
:class:`Signal` to ask for an entry, or None. ``state()`` / ``load_state()`` carry its
indicators across a restart. docs/strategies.md is the guide.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from execution.types import Side


@dataclass(frozen=True, slots=True)
class Signal:
    """An entry request: ``side`` (``Side.LONG`` / ``Side.SHORT``, or "long" / "short"), and
    the take-profit and stop-loss as absolute prices (a long's TP above the close, SL below)."""

    side: Side | str
    tp: float
    sl: float


class SignalError(ValueError):
    """A strategy returned something the engine cannot trade; the message names the strategy."""


class PositionView:
    """Read-only view of one symbol's open position, read from the ledger when asked."""

    __slots__ = ("_symbol", "_lookup")

    def __init__(self, symbol: str, lookup: Callable[[str], Any] | None = None) -> None:
        self._symbol = symbol
        self._lookup = lookup

    def _pos(self) -> Any:
        return self._lookup(self._symbol) if self._lookup is not None else None

    @property
    def side(self) -> Side | None:
        """``Side.LONG`` / ``Side.SHORT`` while a position is open, else None."""
        pos = self._pos()
        return pos.side if pos is not None else None

    @property
    def qty(self) -> float:
        """Open quantity in base units (0.0 when flat)."""
        pos = self._pos()
        return float(pos.qty) if pos is not None else 0.0

    @property
    def entry_price(self) -> float | None:
        """Average entry price, None when flat."""
        pos = self._pos()
        return float(pos.entry_price) if pos is not None else None

    @property
    def is_open(self) -> bool:
        return self._pos() is not None


class AccountView:
    """Read-only view of the account: NAV and how many positions are open."""

    __slots__ = ("_nav", "_open_count")

    def __init__(
        self, nav: Callable[[], float] | None = None, open_count: Callable[[], int] | None = None
    ) -> None:
        self._nav = nav
        self._open_count = open_count

    @property
    def nav(self) -> float:
        """Net asset value (balance plus unrealised PnL), in the quote currency."""
        return float(self._nav()) if self._nav is not None else 0.0

    @property
    def open_positions(self) -> int:
        """How many symbols hold an open position."""
        return int(self._open_count()) if self._open_count is not None else 0


class BarContext:
    """One closed bar of one symbol, with views of its position and the account.

    Read-only for the strategy: the engine reuses one context per symbol (no allocation per
    bar), so keep the numbers you need, not the context.
    """

    __slots__ = ("symbol", "time", "open", "high", "low", "close", "volume", "position", "account")

    def __init__(self, symbol: str, position: PositionView, account: AccountView) -> None:
        self.symbol = symbol
        self.time = 0.0  # epoch seconds (UTC) of the bar's open
        self.open = self.high = self.low = self.close = self.volume = 0.0
        self.position = position
        self.account = account


@runtime_checkable
class Strategy(Protocol):
    """The v1 protocol: one instance per symbol, built as ``Class(cfg)``."""

    name: str

    def on_bar(self, bar: BarContext) -> Signal | None:
        """Look at one closed bar; return a Signal to ask for an entry, else None."""
        ...

    def state(self) -> dict[str, Any]:
        """Return the indicator state (JSON-ready) so a restart resumes exactly."""
        ...

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned (ignore what does not fit)."""
        ...


def checked_signal(sig: object, strategy: str, bar: BarContext) -> Signal:
    """Return ``sig`` with its side as ``Side``; raise SignalError naming the strategy when it
    is not a Signal, its side is unknown, or TP/SL are not finite or on the wrong side."""
    if not isinstance(sig, Signal):
        raise _refused(strategy, bar, f"returned {type(sig).__name__}, expected Signal or None")
    side = sig.side
    if not isinstance(side, Side):
        try:
            side = Side(str(side).lower())
        except ValueError:
            raise _refused(strategy, bar, f"side {sig.side!r} is not 'long' or 'short'") from None
    tp, sl = sig.tp, sig.sl
    # Two finite floats (every signal of a working strategy) pass the per-key check below.
    if not (type(tp) is float and type(sl) is float and math.isfinite(tp + sl)):
        for key, value in (("tp", tp), ("sl", sl)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise _refused(strategy, bar, f"{key} must be a finite price (got {value!r})")
    close = bar.close
    if side is Side.LONG and not sl < close < tp:
        raise _refused(strategy, bar, f"a long needs sl < close < tp (got sl {sl:g}, tp {tp:g})")
    if side is Side.SHORT and not tp < close < sl:
        raise _refused(strategy, bar, f"a short needs tp < close < sl (got tp {tp:g}, sl {sl:g})")
    return sig if side is sig.side else Signal(side, float(tp), float(sl))


def _refused(strategy: str, bar: BarContext, what: str) -> SignalError:
    """The error for a signal the engine cannot trade, naming the strategy, the symbol and the
    close (built only on an error)."""
    return SignalError(f"strategy {strategy!r} on {bar.symbol} (close {bar.close:g}): {what}")
