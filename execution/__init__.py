"""v7 engine: screener -> risk -> router -> positions -> ledger/registry -> exit scanner."""

import os as _os

if _os.environ.get("V7_PURE_PYTHON") == "1":
    # Run the diagnostics hot path from its source even where it was compiled (setup.py):
    # how the tests and the benchmark check the pure-Python fallback.
    import importlib.util as _util
    import sys as _sys

    _spec = _util.spec_from_file_location(
        "execution.diagnostics_hot", _os.path.join(_os.path.dirname(__file__), "diagnostics_hot.py")
    )
    assert _spec is not None and _spec.loader is not None
    _module = _util.module_from_spec(_spec)
    _sys.modules["execution.diagnostics_hot"] = _module
    _spec.loader.exec_module(_module)


def hot_path_compiled() -> bool:
    """Whether the diagnostics hot path runs compiled (mypyc) rather than as Python source."""
    from execution import diagnostics_hot

    return not diagnostics_hot.__file__.endswith(".py")
