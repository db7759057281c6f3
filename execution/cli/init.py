"""`v7 init [DIR]`: write an editable copy of the default config into DIR/config/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from execution.config import DEFAULT_CONFIG_PATH, default_config_text


def register_cli(sub: Any) -> None:
    """Add the `init` subcommand."""
    p = sub.add_parser(
        "init",
        help="write an editable copy of the default config (DIR/config/strategy_config.json)",
    )
    p.add_argument(
        "dir", nargs="?", default=".", help="where to write config/ (default: this directory)"
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing config file")
    p.set_defaults(func=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    """Write the packaged default config; refuse (exit 2) to overwrite without --force."""
    base = Path(args.dir)
    target = base / DEFAULT_CONFIG_PATH
    if target.exists() and not args.force:
        print(f"v7 init: {target} already exists; nothing written (--force overwrites it)",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(default_config_text(), encoding="utf-8")
    except OSError as err:
        print(f"v7 init: cannot write {target}: {err.strerror or err}", file=sys.stderr)
        return 2
    where = "" if base.resolve() == Path.cwd().resolve() else f"cd {base} && "
    print(f"v7 init: wrote {target}\n"
          f"  edit it, then: {where}v7 run   (v7 reads ./config/strategy_config.json when it "
          "exists, else the packaged default; --config PATH picks another)")  # fmt: skip
    return 0
