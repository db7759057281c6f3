"""Screener: strategies turn bars into entry intents (the first stage of the pipeline).

Strategies follow the v1 API (execution/strategy/api.py, docs/strategies.md): one instance per
symbol, ``on_bar(bar)`` on each closed bar. The built-in ones are an EMA cross with ATR-based
TP/SL levels and an SMA cross with fixed-percent TP/SL levels; their indicators update in O(1)
per bar. Every signal is checked (side, finite TP/SL on the right side of the close) and every
intent the screener emits is counted by diagnostics (``record_signal_emitted``) before it goes
to risk.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from execution.config import StrategyConfig
from execution.diagnostics_metrics import record_signal_emitted
from execution.strategy.api import (
    AccountView,
    BarContext,
    PositionView,
    checked_signal,
)
from execution.strategy.api import Signal as Signal
from execution.strategy.per_symbol import SymbolStrategies
from execution.types import BarTuple as BarTuple
from execution.types import Intent, Side


class Strategy(Protocol):
    """What the executor holds: every symbol's strategy, addressed by index.

    :class:`~execution.strategy.SymbolStrategies` wraps a v1 strategy (one instance per
    symbol, see execution/strategy/api.py) in this shape; a pre-v1 plug-in implements
    ``update(idx, high, low, close)`` itself.
    """

    name: str

    def state(self) -> dict[str, Any]:
        """Return the indicator state (JSON-ready) so a restart resumes exactly."""
        ...

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned."""
        ...


class EmaCrossAtr:
    """Long when the fast EMA crosses above the slow one, short when below; TP/SL at k x ATR."""

    name = "ema_cross_atr"

    def __init__(self, cfg: StrategyConfig) -> None:
        self.a_fast = 2.0 / (cfg.fast + 1)
        self.a_slow = 2.0 / (cfg.slow + 1)
        self.a_atr = 1.0 / cfg.atr_period  # Wilder smoothing
        self.warmup = max(cfg.slow, cfg.atr_period) + 1
        self.tp_atr = cfg.tp_atr
        self.sl_atr = cfg.sl_atr
        self.fast = self.slow = self.atr = self.prev_close = 0.0
        self.count = 0
        self.above = False

    def on_bar(self, bar: BarContext) -> Signal | None:
        high, low, close = bar.high, bar.low, bar.close
        n = self.count
        self.count = n + 1
        if n == 0:
            self.fast = self.slow = self.prev_close = close
            self.atr = high - low
            return None
        pc = self.prev_close
        # max(high - low, |high - pc|, |low - pc|), unrolled: the same value (max keeps the
        # first of equals too), without building the argument tuple on every bar.
        tr = high - low
        gap = abs(high - pc)
        if gap > tr:
            tr = gap
        gap = abs(low - pc)
        if gap > tr:
            tr = gap
        self.prev_close = close
        atr = self.atr = self.atr + self.a_atr * (tr - self.atr)
        fast = self.fast = self.fast + self.a_fast * (close - self.fast)
        slow = self.slow = self.slow + self.a_slow * (close - self.slow)
        above = fast > slow
        crossed = above != self.above
        self.above = above
        if not crossed or n < self.warmup or atr <= 0.0:
            return None
        if above:
            return Signal(Side.LONG, close + self.tp_atr * atr, close - self.sl_atr * atr)
        sl = close + self.sl_atr * atr
        tp = close - self.tp_atr * atr
        if tp <= 0.0:
            return None
        return Signal(Side.SHORT, tp, sl)

    def skip(
        self,
        open_: Sequence[float],
        high: Sequence[float],
        low: Sequence[float],
        close: Sequence[float],
        volume: Sequence[float],
    ) -> int:
        """Advance over the leading bars that do not cross (on_bar returns None on them);
        return how many. The same arithmetic as on_bar, without a context or a call per bar."""
        if self.count == 0:
            return 0  # the first bar seeds the averages: on_bar's job
        a_fast, a_slow, a_atr = self.a_fast, self.a_slow, self.a_atr
        fast, slow, atr, pc, above = self.fast, self.slow, self.atr, self.prev_close, self.above
        done = 0
        for high_, low_, close_ in zip(high, low, close, strict=True):
            new_fast = fast + a_fast * (close_ - fast)
            new_slow = slow + a_slow * (close_ - slow)
            if (new_fast > new_slow) != above:
                break  # a cross: the bar goes to on_bar (it may signal)
            tr = high_ - low_
            gap = abs(high_ - pc)
            if gap > tr:
                tr = gap
            gap = abs(low_ - pc)
            if gap > tr:
                tr = gap
            atr = atr + a_atr * (tr - atr)
            fast, slow, pc = new_fast, new_slow, close_
            done += 1
        self.count += done
        self.fast, self.slow, self.atr, self.prev_close = fast, slow, atr, pc
        return done

    def state(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _EMA_STATE}

    def load_state(self, state: dict[str, Any]) -> None:
        for key in _EMA_STATE:
            if key in state:
                setattr(self, key, state[key])


_EMA_STATE = ("fast", "slow", "atr", "prev_close", "count", "above")


class SmaCrossPct:
    """Long when the fast SMA crosses above the slow one, short when below; TP/SL at a fixed
    fraction of the signal bar's close (``tp_pct``, ``sl_pct``).

    The SMAs are running sums over a ring buffer of the last ``slow`` closes, so an update is
    O(1). The first bar with a full slow window only sets the side; crosses count from the next
    bar on. This is the strategy ``bench/bench_vs_backtesting.py`` also runs in backtesting.py.
    """

    name = "sma_cross_pct"

    def __init__(self, cfg: StrategyConfig) -> None:
        self.n_fast = cfg.fast
        self.n_slow = cfg.slow
        self.tp_pct = cfg.tp_pct
        self.sl_pct = cfg.sl_pct
        self.ring = [0.0] * cfg.slow
        self.sum_fast = self.sum_slow = 0.0
        self.count = 0
        self.above = False

    def on_bar(self, bar: BarContext) -> Signal | None:
        close = bar.close
        n = self.count
        self.count = n + 1
        n_fast, n_slow = self.n_fast, self.n_slow
        ring = self.ring
        pos = n % n_slow
        old_fast = ring[(n - n_fast) % n_slow] if n >= n_fast else 0.0
        old_slow = ring[pos] if n >= n_slow else 0.0
        ring[pos] = close
        sum_fast = self.sum_fast = self.sum_fast + (close - old_fast)
        sum_slow = self.sum_slow = self.sum_slow + (close - old_slow)
        if n < n_slow - 1:
            return None
        above = sum_fast / n_fast > sum_slow / n_slow
        crossed = above != self.above
        self.above = above
        if not crossed or n < n_slow:
            return None
        if above:
            return Signal(Side.LONG, close * (1.0 + self.tp_pct), close * (1.0 - self.sl_pct))
        return Signal(Side.SHORT, close * (1.0 - self.tp_pct), close * (1.0 + self.sl_pct))

    def skip(
        self,
        open_: Sequence[float],
        high: Sequence[float],
        low: Sequence[float],
        close: Sequence[float],
        volume: Sequence[float],
    ) -> int:
        """Advance over the leading bars that do not cross (on_bar returns None on them);
        return how many. The same arithmetic as on_bar, without a context or a call per bar."""
        n = self.count
        n_fast, n_slow = self.n_fast, self.n_slow
        if n < n_slow:
            return 0  # warming up: on_bar's job
        ring, above = self.ring, self.above
        sum_fast, sum_slow = self.sum_fast, self.sum_slow
        done = 0
        for close_ in close:
            pos = n % n_slow
            new_fast = sum_fast + (close_ - ring[(n - n_fast) % n_slow])
            new_slow = sum_slow + (close_ - ring[pos])
            if (new_fast / n_fast > new_slow / n_slow) != above:
                break  # a cross: the bar goes to on_bar, which signals on it
            ring[pos] = close_
            sum_fast, sum_slow = new_fast, new_slow
            n += 1
            done += 1
        self.count, self.sum_fast, self.sum_slow = n, sum_fast, sum_slow
        return done

    def state(self) -> dict[str, Any]:
        return {
            "ring": list(self.ring),
            "sum_fast": self.sum_fast,
            "sum_slow": self.sum_slow,
            "count": self.count,
            "above": self.above,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        ring = state.get("ring")
        if isinstance(ring, list) and len(ring) == self.n_slow:
            self.ring = [float(v) for v in ring]
        for key in ("sum_fast", "sum_slow", "count", "above"):
            if key in state:
                setattr(self, key, state[key])


_BUILT_IN: dict[str, Callable[[StrategyConfig], Any]] = {
    EmaCrossAtr.name: EmaCrossAtr,
    SmaCrossPct.name: SmaCrossPct,
}


def build_strategy(cfg: StrategyConfig, n_symbols: int) -> Strategy:
    """Return the configured strategy for ``n_symbols`` symbols: a built-in name, or a
    plug-in ``package.module:Class``.

    A v1 class (it has ``on_bar``) is built once per symbol as ``Class(cfg)``; a pre-v1 class
    (``update(idx, high, low, close)``) once for all symbols as ``Class(n_symbols, cfg)``.
    """
    built_in = _BUILT_IN.get(cfg.name)
    if built_in is not None:
        return SymbolStrategies(built_in, cfg, n_symbols)
    module_name, _, class_name = cfg.name.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if callable(getattr(cls, "on_bar", None)):
        return SymbolStrategies(cls, cfg, n_symbols)
    if callable(getattr(cls, "update", None)):
        strategy: Strategy = cls(n_symbols, cfg)
        return strategy
    raise TypeError(f"{cfg.name} has no on_bar(bar) method (see docs/strategies.md)")


class SignalScreener:
    """Run the strategy on each bar and emit sized entry intents."""

    def __init__(
        self,
        strategy: Strategy,
        symbols: Sequence[str],
        notional_nav_pct: float,
        nav: Callable[[], float],
        risk_per_trade_nav_pct: float | None = None,
        *,
        position_of: Callable[[str], Any] | None = None,
        open_count: Callable[[], int] | None = None,
    ) -> None:
        self.strategy = strategy
        self.symbols = list(symbols)
        self.notional_nav_pct = notional_nav_pct
        self.risk_per_trade = risk_per_trade_nav_pct
        self._nav = nav
        self._per_symbol = strategy if isinstance(strategy, SymbolStrategies) else None
        if self._per_symbol is not None:
            self._per_symbol.bind(self.symbols, position_of, nav, open_count)

    def _size(self, price: float, sl: float) -> float:
        """Fixed fraction of NAV, or (risk sizing) the notional that loses `risk` NAV at the SL."""
        nav = self._nav()
        if self.risk_per_trade is None:
            return nav * self.notional_nav_pct
        stop_distance = abs(price - sl) / price
        return nav * self.risk_per_trade / stop_distance if stop_distance > 0 else 0.0

    def _signal(self, bar: BarTuple) -> Signal | None:
        idx, ts, o, high, low, close, v = bar
        if self._per_symbol is not None:
            return self._per_symbol.update_bar(idx, ts, o, high, low, close, v)
        sig = self.strategy.update(idx, high, low, close)  # type: ignore[attr-defined]
        return None if sig is None else self._checked_legacy(sig, idx, close)

    def on_bar(self, bar: BarTuple) -> Intent | None:
        """Update the strategy with one ``(idx, ts, open, high, low, close, volume)`` bar;
        return the intent it emits, if any."""
        sig = self._signal(bar)
        return None if sig is None else self.emit(bar[0], bar[1], bar[5], sig)

    def warm_up(self, bar: BarTuple) -> None:
        """Feed one past bar to the strategy without trading on it (live start-up)."""
        self._signal(bar)

    def on_bars(self, bars: Iterable[BarTuple]) -> list[Intent]:
        """Update the strategy with each bar of one loop; return the intents, in bar order.

        The same as :meth:`on_bar` per bar. A strategy that raises on one bar raises here,
        after the loop's other bars ran (:meth:`screen` also hands back their intents).
        """
        intents, failed = self.screen(bars)
        if failed is not None:
            raise failed
        return intents

    def screen(self, bars: Iterable[BarTuple]) -> tuple[list[Intent], Exception | None]:
        """The intents of one loop's bars, in bar order, and the first error a strategy raised.

        One symbol's strategy raising does not stop the others' bars: their intents are already
        counted as signals and must still reach risk. The executor's hot path: each symbol's
        context is filled in place, nothing is allocated per bar.
        """
        per_symbol = self._per_symbol
        if per_symbol is None:
            return self._screen_one_by_one(bars)
        contexts, handlers, name = per_symbol.contexts, per_symbol.handlers, per_symbol.name
        intents: list[Intent] = []
        failed: Exception | None = None
        for idx, ts, o, high, low, close, v in bars:
            ctx = contexts[idx]
            ctx.time = ts
            ctx.open = o
            ctx.high = high
            ctx.low = low
            ctx.close = close
            ctx.volume = v
            try:
                sig = handlers[idx](ctx)
                if sig is not None:
                    intents.append(self.emit(idx, ts, close, checked_signal(sig, name, ctx)))
            except Exception as exc:
                failed = failed or exc
        return intents, failed

    def _screen_one_by_one(self, bars: Iterable[BarTuple]) -> tuple[list[Intent], Exception | None]:
        intents: list[Intent] = []
        failed: Exception | None = None
        for bar in bars:
            try:
                intent = self.on_bar(bar)
                if intent is not None:
                    intents.append(intent)
            except Exception as exc:
                failed = failed or exc
        return intents, failed

    def _checked_legacy(self, sig: object, idx: int, close: float) -> Signal:
        ctx = BarContext(self.symbols[idx], PositionView(self.symbols[idx]), AccountView())
        ctx.close = close
        return checked_signal(sig, self.strategy.name, ctx)

    def emit(self, idx: int, ts: float, close: float, sig: Signal) -> Intent:
        """Turn a checked strategy signal on symbol ``idx`` into a sized intent and count it."""
        symbol = self.symbols[idx]
        side = sig.side if type(sig.side) is Side else Side(sig.side)
        intent = Intent(
            intent_id=f"{symbol}:{int(ts * 1000)}:{side.value}",
            symbol=symbol,
            side=side,
            notional=self._size(close, sig.sl),
            ref_price=close,
            tp=sig.tp,
            sl=sig.sl,
            ts=ts,
            strategy=self.strategy.name,
        )
        record_signal_emitted(symbol)
        return intent
