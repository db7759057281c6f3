"""Runtime diagnostics: one :class:`Diagnostics` object (counters, window, heatmap, liveness).

The engine records through the spec's module, ``execution.diagnostics_metrics``, which holds the
configured instance; ``execution.diagnostics.testing`` gives tests a read-only view of it.
"""

from execution.diagnostics.core import Diagnostics as Diagnostics
from execution.diagnostics.model import LOOP_STAGES as LOOP_STAGES
from execution.diagnostics.model import STAGES as STAGES
from execution.diagnostics.model import DiagnosticsSettings as DiagnosticsSettings
