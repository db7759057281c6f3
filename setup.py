"""Build: compile execution/diagnostics_hot.py with mypyc when a C compiler is available.

Everything else is in pyproject.toml. The compiled module is optional: without a compiler (or
with V7_PURE_PYTHON=1) the install succeeds and the same source runs as plain Python. mypyc
comes with mypy, which type-checks the module first.
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup

HOT = ["execution/diagnostics_hot.py"]


def compiled_modules() -> list[Extension]:
    if os.environ.get("V7_PURE_PYTHON") == "1":
        return []
    try:
        from mypyc.build import mypycify

        modules = mypycify(HOT, opt_level="3")
    except (Exception, SystemExit) as err:  # mypy missing, or a type error: stay pure Python
        print(
            f"v7: diagnostics hot path not compiled ({err!r}); using pure Python", file=sys.stderr
        )
        return []
    for module in modules:
        module.optional = True  # no C compiler: build_ext skips it, the .py is used
    return modules


setup(ext_modules=compiled_modules())
