"""A Donchian-channel breakout, written against the strategy API v1 (docs/strategies.md).

Long when the close breaks above the highest high of the previous ``channel`` bars, short when
it breaks below the lowest low; TP and SL are multiples of the channel's width away from the
close. No new entry while the symbol already holds a position on the same side.

Run it (from the repository root):

    v7 run --fast --config examples/donchian_breakout.json --state-dir /tmp/v7-donchian
"""

from __future__ import annotations

from collections import deque
from typing import Any

from execution.strategy import BarContext, Side, Signal


class DonchianBreakout:
    name = "donchian_breakout"

    def __init__(self, cfg: Any) -> None:
        # cfg is the config's "strategy" section; a plug-in's own numbers live in cfg.params.
        self.channel = int(cfg.params.get("channel", 20))
        self.tp_width = float(cfg.params.get("tp_width", 1.0))
        self.sl_width = float(cfg.params.get("sl_width", 0.5))
        self.highs: deque[float] = deque(maxlen=self.channel)
        self.lows: deque[float] = deque(maxlen=self.channel)

    def on_bar(self, bar: BarContext) -> Signal | None:
        signal = None
        if len(self.highs) == self.channel:
            upper, lower = max(self.highs), min(self.lows)
            width = upper - lower
            held = bar.position.side
            if width > 0 and bar.close > upper and held is not Side.LONG:
                signal = Signal(
                    "long", bar.close + self.tp_width * width, bar.close - self.sl_width * width
                )
            elif width > 0 and bar.close < lower and held is not Side.SHORT:
                tp = bar.close - self.tp_width * width
                if tp > 0:  # a short's take-profit must stay a price
                    signal = Signal("short", tp, bar.close + self.sl_width * width)
        # The channel is the bars *before* this one: add this bar after deciding.
        self.highs.append(bar.high)
        self.lows.append(bar.low)
        return signal

    def state(self) -> dict[str, Any]:
        return {"highs": list(self.highs), "lows": list(self.lows)}

    def load_state(self, state: dict[str, Any]) -> None:
        self.highs.extend(float(x) for x in state.get("highs", [])[-self.channel :])
        self.lows.extend(float(x) for x in state.get("lows", [])[-self.channel :])
