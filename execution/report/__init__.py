"""`v7 report`: performance metrics, breakdown tables and an HTML report from the journal.

- :func:`load_inputs` reads a state dir (store readers, read-only) into :class:`ReportInputs`.
- :func:`build_report` turns inputs into one JSON-ready dict (pure).
- :func:`render_text` / :func:`headline_text` for terminals; ``execution.report.html`` writes the
  self-contained HTML file.
"""

from execution.report.build import HEADLINE_KEYS, build_report, headline
from execution.report.load import ReportInputs, load_inputs
from execution.report.metrics import Trade
from execution.report.text import headline_text, render_text

__all__ = [
    "HEADLINE_KEYS",
    "ReportInputs",
    "Trade",
    "build_report",
    "headline",
    "headline_text",
    "load_inputs",
    "render_text",
]
