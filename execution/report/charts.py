"""Pure Vega-Lite chart builders of the HTML report: equity and drawdown, trades on price, vetoes.

Each builder takes plain data and returns a Vega-Lite spec (a dict, inline data); none reads a
file. Specs are written directly rather than through Altair: Altair's schema wrappers and data
sanitizing cost ~1 s on a 350k-bar run's report, several times the rest of the report. Long
series are thinned to at most ``MAX_POINTS`` points per line: a browser draws 2,000 points as
well as 50,000 and the file stays small. Times are epoch milliseconds (Vega's native time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from execution.report.metrics import Trade
from execution.report.prices import Prices

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"  # an identifier, never fetched
MAX_POINTS = 2_000
WIDTH = 820
EXIT_COLORS = {"tp": "#2ca02c", "sl": "#d62728", "signal": "#7f7f7f"}
Spec = dict[str, Any]


def thin(n: int, limit: int = MAX_POINTS) -> np.ndarray:
    """Indices that keep every k-th of n points and always the last one."""
    if n <= limit:
        return np.arange(n)
    step = -(-n // limit)
    return np.unique(np.r_[np.arange(0, n, step), n - 1])


def _ms(ts: float) -> float:
    return ts * 1000.0


def _time_x(field: str = "time") -> Spec:
    return {"field": field, "type": "temporal", "title": None}


def equity_values(ts: Sequence[float], nav: Sequence[float]) -> list[dict[str, float]]:
    """NAV and its drawdown below the running peak (percent, zero or negative), thinned."""
    values = np.asarray(nav, dtype=float)
    if not len(values):
        return []
    dd = (values / np.maximum.accumulate(values) - 1.0) * 100.0
    times = np.asarray(ts, dtype=float)
    return [
        {"time": _ms(float(times[i])), "nav": float(values[i]), "drawdown_pct": float(dd[i])}
        for i in thin(len(values))
    ]


def equity_chart(values: list[dict[str, float]]) -> Spec:
    """NAV over time above its drawdown (percent below the peak)."""
    nav = {
        "mark": {"type": "line", "color": "#1f77b4"}, "width": WIDTH, "height": 220,
        "title": "Equity",
        "encoding": {"x": _time_x(), "y": {"field": "nav", "type": "quantitative", "title": "NAV",
                                            "scale": {"zero": False}},
                     "tooltip": [{"field": "time", "type": "temporal"},
                                 {"field": "nav", "type": "quantitative", "format": ",.2f"}]},
    }  # fmt: skip
    dd = {
        "mark": {"type": "area", "color": "#d62728", "opacity": 0.5}, "width": WIDTH,
        "height": 110, "title": "Drawdown",
        "encoding": {"x": _time_x(), "y": {"field": "drawdown_pct", "type": "quantitative",
                                            "title": "drawdown %"}},
    }  # fmt: skip
    return {"$schema": SCHEMA, "data": {"values": values}, "vconcat": [nav, dd]}


def trade_values(trades: Sequence[Trade]) -> tuple[list[Spec], list[Spec]]:
    """Entry/exit markers (one row each) and TP/SL level segments (entry to exit)."""
    markers: list[Spec] = []
    levels: list[Spec] = []
    for t in trades:
        net = round(t.net_pnl, 6)
        markers.append({"time": _ms(t.entry_ts), "price": t.entry_price, "event": f"entry {t.side}", "net_pnl": net})  # fmt: skip
        markers.append({"time": _ms(t.exit_ts), "price": t.exit_price, "event": f"exit {t.exit_reason}", "net_pnl": net})  # fmt: skip
        for kind, price in (("TP", t.tp), ("SL", t.sl)):
            if price is not None:
                levels.append({"start": _ms(t.entry_ts), "end": _ms(t.exit_ts), "level": price, "kind": kind})  # fmt: skip
    return markers, levels


def price_chart(symbol: str, prices: Prices | None, trades: Sequence[Trade]) -> Spec:
    """A symbol's closes with its trades: entry/exit markers by event, TP/SL segments."""
    markers, levels = trade_values(trades)
    y = {"type": "quantitative", "scale": {"zero": False}, "title": "price"}
    layers: list[Spec] = []
    if prices is not None:
        line = [{"time": _ms(float(prices.ts[i])), "close": float(prices.close[i])} for i in thin(len(prices.ts))]  # fmt: skip
        layers.append({"data": {"values": line}, "mark": {"type": "line", "color": "#999", "strokeWidth": 1},
                       "encoding": {"x": _time_x(), "y": {**y, "field": "close"}}})  # fmt: skip
    layers.append({"data": {"values": levels}, "mark": {"type": "rule", "strokeWidth": 2, "opacity": 0.7},
                   "encoding": {"x": _time_x("start"), "x2": {"field": "end"}, "y": {**y, "field": "level"},
                                "color": {"field": "kind", "type": "nominal", "title": "level",
                                          "scale": {"domain": ["TP", "SL"], "range": ["#2ca02c", "#d62728"]}}}})  # fmt: skip
    layers.append({"data": {"values": markers}, "mark": {"type": "point", "filled": True, "size": 40},
                   "encoding": {"x": _time_x(), "y": {**y, "field": "price"},
                                "shape": {"field": "event", "type": "nominal", "title": "event"},
                                "fill": {"field": "event", "type": "nominal", "legend": None},
                                "tooltip": [{"field": "event"}, {"field": "time", "type": "temporal"},
                                            {"field": "price", "type": "quantitative", "format": ".6g"},
                                            {"field": "net_pnl", "type": "quantitative", "format": "+,.2f"}]}})  # fmt: skip
    return {"$schema": SCHEMA, "title": f"{symbol}: {len(trades)} trades", "width": WIDTH,
            "height": 200, "layer": layers, "resolve": {"scale": {"color": "independent"}}}  # fmt: skip


def veto_heatmap(by_reason_symbol: Mapping[str, Mapping[str, int]]) -> Spec:
    """Veto counts by reason x symbol (runtime_diagnostics.heatmap.by_reason_symbol)."""
    values = [
        {"reason": reason, "symbol": sym, "vetoes": int(n)}
        for reason, per in by_reason_symbol.items()
        for sym, n in per.items()
    ]
    return {
        "$schema": SCHEMA, "title": "Vetoes by reason and symbol", "data": {"values": values},
        "mark": "rect", "width": WIDTH // 2, "height": 180,
        "encoding": {"x": {"field": "symbol", "type": "nominal", "title": None},
                     "y": {"field": "reason", "type": "nominal", "title": None},
                     "color": {"field": "vetoes", "type": "quantitative", "scale": {"scheme": "oranges"}},
                     "tooltip": [{"field": "reason"}, {"field": "symbol"}, {"field": "vetoes", "type": "quantitative"}]},
    }  # fmt: skip


def exit_reason_chart(exit_reasons: Mapping[str, Mapping[str, Any]]) -> Spec:
    """Trades and net PnL per exit reason, side by side."""
    values = [{"reason": k, "trades": v["trades"], "net_pnl": v["net_pnl"]} for k, v in exit_reasons.items()]  # fmt: skip
    color = {"field": "reason", "type": "nominal", "legend": None,
             "scale": {"domain": list(EXIT_COLORS), "range": list(EXIT_COLORS.values())}}  # fmt: skip

    def bars(field: str, title: str) -> Spec:
        return {"mark": "bar", "width": 300, "height": 120, "title": title,
                "encoding": {"y": {"field": "reason", "type": "nominal", "title": None}, "color": color,
                             "x": {"field": field, "type": "quantitative"}}}  # fmt: skip

    return {"$schema": SCHEMA, "data": {"values": values},
            "hconcat": [bars("trades", "Exits"), bars("net_pnl", "Net PnL by exit reason")]}  # fmt: skip
