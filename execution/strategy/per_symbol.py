"""One v1 strategy instance per symbol behind the engine's index-addressed strategy slot.

The executor addresses symbols by index; a v1 strategy sees one symbol through a
:class:`BarContext`. This holds the instances and their contexts (one each, reused on every
bar) and keeps the memory format of index-keyed lists, so a restart resumes by symbol.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from execution.strategy.api import AccountView, BarContext, PositionView, Signal, checked_signal


class SymbolStrategies:
    """``factory(cfg)`` once per symbol; ``bind`` names the symbols and the views' sources."""

    def __init__(self, factory: Callable[[Any], Any], cfg: Any, n_symbols: int) -> None:
        self.instances = [factory(cfg) for _ in range(n_symbols)]
        self.name = str(getattr(self.instances[0], "name", None) or _class_name(factory))
        account = AccountView()
        self.contexts = [
            BarContext(f"#{i}", PositionView(f"#{i}"), account) for i in range(n_symbols)
        ]
        self.handlers = [s.on_bar for s in self.instances]
        # The optional ``skip`` of each instance (docs/strategies.md): without it, never skipped.
        self.skippers: list[Callable[..., int] | None] = [
            getattr(s, "skip", None) for s in self.instances
        ]

    def bind(
        self,
        symbols: Sequence[str],
        position_of: Callable[[str], Any] | None = None,
        nav: Callable[[], float] | None = None,
        open_count: Callable[[], int] | None = None,
    ) -> None:
        """Give every context its symbol, its position view and the account view."""
        account = AccountView(nav, open_count)
        for ctx, symbol in zip(self.contexts, symbols, strict=True):
            ctx.symbol = symbol
            ctx.position = PositionView(symbol, position_of)
            ctx.account = account

    def update_bar(
        self, idx: int, ts: float, o: float, h: float, lo: float, c: float, v: float
    ) -> Signal | None:
        """Feed one bar to symbol ``idx``'s instance; return its checked signal, if any."""
        ctx = self.contexts[idx]
        ctx.time, ctx.open, ctx.high, ctx.low, ctx.close, ctx.volume = ts, o, h, lo, c, v
        sig = self.handlers[idx](ctx)
        return None if sig is None else checked_signal(sig, self.name, ctx)

    def skip(
        self,
        idx: int,
        open_: Sequence[float],
        high: Sequence[float],
        low: Sequence[float],
        close: Sequence[float],
        volume: Sequence[float],
    ) -> int:
        """Let symbol ``idx``'s instance pass over the leading bars of these columns on which it
        would not signal; return how many it passed (0 when it cannot skip)."""
        skip = self.skippers[idx]
        if skip is None:
            return 0
        done = skip(open_, high, low, close, volume)
        if not isinstance(done, int) or not 0 <= done <= len(close):
            raise ValueError(f"{self.name}.skip returned {done!r} for {len(close)} bars")
        return done

    def state(self) -> dict[str, Any]:
        """Index-keyed lists (``{"fast": [sym0, sym1, ...]}``), the engine's memory format."""
        states = [s.state() for s in self.instances]
        keys = dict.fromkeys(k for st in states for k in st)
        return {k: [st.get(k) for st in states] for k in keys}

    def load_state(self, state: dict[str, Any]) -> None:
        n = len(self.instances)
        for i, inst in enumerate(self.instances):
            mine = {k: v[i] for k, v in state.items() if isinstance(v, list) and len(v) == n}
            inst.load_state(mine)


def _class_name(factory: Callable[[Any], Any]) -> str:
    return getattr(factory, "__name__", type(factory).__name__)
