"""The argument parser class every ``simlab`` command uses: argparse, but a usage mistake is one error line.

>>> p = Parser(prog="simlab demo"); _ = p.add_argument("--n", type=int)
>>> p.parse_args(["--n", "3"]).n
3
"""

from __future__ import annotations

import argparse
import sys

EXIT_USAGE = 2  # bad input, as argparse's usage errors


class Parser(argparse.ArgumentParser):
    """argparse with simlab's one-line errors: a usage mistake (unknown option, ``--max-steps abc``, a missing
    argument) prints ``simlab: error: <message> (see: <prog> --help)`` and exits 2, like every other bad input.
    Sub-commands inherit the class (``add_subparsers`` uses the parent's class)."""

    def error(self, message):
        print(f"simlab: error: {' '.join(message.split())} (see: {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)
