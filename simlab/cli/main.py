"""Entry point: ``simlab <command> ...``.

Each subcommand module exposes ``register(subparsers)`` which adds its parser and sets ``func``.
Modules are imported only to build the parser; heavy imports happen inside each ``func``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# module name under simlab.cli -> registered on startup (missing modules are skipped for partial installs)
COMMANDS = ["eval", "grid", "whiten", "index", "export", "dims"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simlab",
        description="Chinese-first sentence similarity: BERT-whitening STS evaluation, the 8321 grid, retrieval, "
                    "export, and the dimension formula.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"simlab.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name == f"simlab.cli.{name}_cmd":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
