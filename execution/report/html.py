"""The HTML report: one self-contained file (no CDN, no network), charts drawn by vega-embed.

The Vega, Vega-Lite and vega-embed JavaScript comes from vl-convert-python's bundle and is
inlined into the page, so the file opens offline. Building the bundle takes ~3 s, so it is
cached per vl-convert version in the user's cache dir (``$XDG_CACHE_HOME/v7``).
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from execution.report import charts
from execution.report.load import ReportInputs
from execution.report.text import (
    EXIT_COLUMNS,
    NA,
    SYMBOL_COLUMNS,
    VETO_COLUMNS,
    cell,
    duration,
    num,
    outside_note,
    pct,
)

_CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}.kpi td{text-align:left}
.chart{margin:10px 0}"""


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "v7"


def vega_bundle() -> str:
    """vega + vega-lite + vega-embed as one script (cached on disk per vl-convert version)."""
    import vl_convert

    path = _cache_dir() / f"vega-bundle-{metadata.version('vl-convert-python')}.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    bundle: str = vl_convert.javascript_bundle()  # type: ignore[call-arg]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, bundle)
    except OSError:  # a read-only home: the report still works, only slower next time
        pass
    return bundle


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    mask = os.umask(0)
    os.umask(mask)
    try:
        os.fchmod(fd, 0o666 & ~mask)  # mkstemp makes it private; a report is an ordinary file
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _kpis(r: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        ("Period", f"{r['start'] or NA} → {r['end'] or NA} ({duration(r['duration_s'])})"),
        ("Bars / exposure", f"{num(r['bars'], ',')} / {num(r['exposure_pct'], '.1f', ' %')}"),
        ("Net PnL (after fees)", f"{num(r['net_pnl'], '+,.2f')} ({num(r['return_pct'], '+.2f', ' %')})"),
        ("Fees / funding", f"{num(r['fees'])} / {num(r['funding'])}"),
        ("Trades (won / even / lost)", f"{r['trades']:,} ({r['wins']} / {r['draws']} / {r['losses']})"
                                       f"{outside_note(r)}"),
        ("Win rate", pct(r["win_rate"])),
        ("Avg / median trade", f"{num(r['avg_trade'], '+,.2f')} / {num(r['median_trade'], '+,.2f')}"),
        ("Best / worst trade", f"{num(r['best_trade'], '+,.2f')} / {num(r['worst_trade'], '+,.2f')}"),
        ("Profit factor / expectancy / SQN",
         f"{num(r['profit_factor'])} / {num(r['expectancy'], '+,.2f')} / {num(r['sqn'])}"),
        ("Avg trade duration", duration(r["avg_duration_s"])),
        ("Max drawdown (longest)",
         f"{num(r['max_drawdown_pct'], '.2f', ' %')} ({duration(r['max_drawdown_duration_s'])})"),
        ("CAGR", pct(r["cagr"])),
        ("Sharpe / Sortino / Calmar", f"{num(r['sharpe'])} / {num(r['sortino'])} / {num(r['calmar'])}"),
    ]  # fmt: skip


def _table(
    rows: Mapping[str, Mapping[str, Any]], cols: Sequence[tuple[str, str]], first: str
) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in (first, *(h for _, h in cols)))
    body = "".join(
        "<tr>" + f"<td>{html.escape(k)}</td>"
        + "".join(f"<td>{html.escape(cell(row.get(c), c))}</td>" for c, _ in cols) + "</tr>"
        for k, row in rows.items()
    )  # fmt: skip
    return f"<table><tr>{head}</tr>{body}</table>" if rows else "<p>none</p>"


def report_charts(report: Mapping[str, Any], inputs: ReportInputs) -> dict[str, charts.Spec]:
    """Every chart of the page by id (equity, one per traded or priced symbol, vetoes, exits)."""
    out: dict[str, Any] = {}
    if inputs.equity_nav:
        out["equity"] = charts.equity_chart(
            charts.equity_values(inputs.equity_ts, inputs.equity_nav)
        )
    symbols = sorted({t.symbol for t in inputs.trades} | set(inputs.prices))
    for i, sym in enumerate(symbols):
        trades = [t for t in inputs.trades if t.symbol == sym]
        out[f"price{i}"] = charts.price_chart(sym, inputs.prices.get(sym), trades)
    heat = inputs.diagnostics.get("heatmap")
    by_symbol = heat.get("by_reason_symbol") if isinstance(heat, dict) else None
    if isinstance(by_symbol, dict) and by_symbol:
        out["vetoes"] = charts.veto_heatmap(by_symbol)
    if report["exit_reasons"]:
        out["exits"] = charts.exit_reason_chart(report["exit_reasons"])
    return out


def render_html(report: Mapping[str, Any], inputs: ReportInputs, bundle: str | None = None) -> str:
    """The whole page as one string; ``bundle`` defaults to the inlined vega JavaScript."""
    specs = report_charts(report, inputs)
    kpis = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in _kpis(report)
    )
    divs = "".join(f'<div class="chart" id="{k}"></div>' for k in specs)
    embed = json.dumps(specs, allow_nan=False).replace("</", "<\\/")
    script = (f"const specs={embed};for(const [id,spec] of Object.entries(specs)){{"
              "vegaEmbed('#'+id,spec,{actions:false,renderer:'svg'}).then(()=>{"
              "document.getElementById(id).dataset.rendered='1';});}")  # fmt: skip
    js = (bundle if bundle is not None else vega_bundle()).replace("</script", "<\\/script")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>v7 report</title>"
        f"<style>{_CSS}</style><script>{js}</script></head><body>"
        f"<h1>v7 report</h1><p>{html.escape(str(report.get('source') or ''))}</p>"
        f"<table class='kpi'>{kpis}</table><h2>Charts</h2>{divs}"
        f"<h2>Per symbol</h2>{_table(report['per_symbol'], SYMBOL_COLUMNS, 'symbol')}"
        f"<h2>Exit reasons</h2>{_table(report['exit_reasons'], EXIT_COLUMNS, 'exit reason')}"
        f"<h2>Veto reasons</h2>{_table(report['veto_reasons'], VETO_COLUMNS, 'veto reason')}"
        f"<script>{script}</script></body></html>"
    )


def write_html(path: str | Path, report: Mapping[str, Any], inputs: ReportInputs) -> Path:
    """Write the page to ``path`` (atomically) and return its absolute path."""
    target = Path(path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, render_html(report, inputs))
    return target
