"""Run the v7 command line: ``python -m execution.cli``."""

from execution.cli import main

raise SystemExit(main())
