"""Line parsers for the four file formats of the STS tasks (MANIFEST.md §2).

Pure functions: a path in, parsed :class:`Rows` out. No task knowledge here (that is :mod:`simlab.data.tasks`).

Shared conventions, all of them as in the reference loaders (bojone/BERT-whitening ``chn/utils.py`` and
``eng/utils.py``, SentEval ``sts.py``):

- UTF-8; lines end at ``"\\n"`` only (``str.splitlines`` would also split on U+2028, ``\\x85``, ...); one trailing
  ``"\\r"`` is dropped (CRLF, e.g. ``SICK_test_annotated.txt``); a BOM, if any, is dropped (shared/data has none).
- Fields are TAB-separated and kept **raw**: no unquoting, no whitespace stripping. PAWSX ``.data`` files write some
  sentences CSV-style (``"...""La Casa""..."``; 5 valid + 14 test rows, MANIFEST §4); the study reads them raw, so we do too.
- Scores parse with ``float()`` (finite values only).
- A bad line (wrong field count, unparsable/out-of-range score, empty sentence) raises :class:`BadLineError`;
  with ``skip_bad_lines=True`` it is skipped and recorded in ``Rows.skipped`` instead, never silently.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "x.data"
>>> _ = p.write_text("a\\tb\\t1\\nc\\td\\t0\\n", encoding="utf-8")
>>> rows = read_senteval_cn(p)
>>> rows.sentences1, rows.scores
(['a', 'c'], [1.0, 0.0])
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simlab.data.errors import BadLineError

ScoreCheck = Callable[[float], "str | None"]  # returns a reason if the value is not allowed, else None

__all__ = [
    "Rows",
    "read_lines",
    "read_senteval_cn",
    "read_sts_pairs",
    "read_stsbenchmark",
    "read_sick",
    "read_sentence_file",
]


@dataclass
class Rows:
    """Pairs parsed from one file (or one STS input/gold file pair)."""

    sentences1: list[str] = field(default_factory=list)
    sentences2: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    skipped: list[tuple[Path, int, str]] = field(default_factory=list)  # (file, 1-based line, reason)
    unscored: int = 0  # pairs with a blank gold line (STS15/16), dropped as SentEval does

    def add(self, s1: str, s2: str, score: float) -> None:
        self.sentences1.append(s1)
        self.sentences2.append(s2)
        self.scores.append(score)

    def reject(self, path: Path, lineno: int, reason: str, skip: bool) -> None:
        """Raise :class:`BadLineError`, or record the line as skipped when ``skip``."""
        if not skip:
            raise BadLineError(path, lineno, reason)
        self.skipped.append((Path(path), lineno, reason))


class _Reject(Exception):
    """Internal: a line is bad for ``reason``."""


def read_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a UTF-8 text file, without line ends ("\\n" or "\\r\\n"). Undecodable bytes -> BadLineError."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        lineno = raw.count(b"\n", 0, e.start) + 1
        raise BadLineError(path, lineno, f"not valid UTF-8 ({e.reason} at byte {e.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines[-1] == "":  # the final newline ends the last line; it does not start a new one
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _sentence(text: str, which: str) -> str:
    if not text.strip():
        raise _Reject(f"empty {which}")
    return text


def _score(text: str, check: ScoreCheck | None) -> float:
    try:
        value = float(text)  # as the reference loaders: float(l[2])
    except ValueError:
        raise _Reject(f"score {text!r} is not a number") from None
    if not math.isfinite(value):
        raise _Reject(f"score {text!r} is not finite")
    problem = check(value) if check is not None else None
    if problem:
        raise _Reject(problem)
    return value


def _fields(line: str, expected: int, exact: bool = True) -> list[str]:
    parts = line.split("\t")
    if (len(parts) != expected) if exact else (len(parts) < expected):
        want = f"{expected}" if exact else f"at least {expected}"
        got = "an empty line" if line == "" else f"{len(parts)}"
        raise _Reject(f"expected {want} TAB-separated fields, got {got}")
    return parts


def read_senteval_cn(
    path: str | os.PathLike, *, skip_bad_lines: bool = False, check_score: ScoreCheck | None = None
) -> Rows:
    """``sentence1<TAB>sentence2<TAB>label`` per line, no header (``<TASK>/<TASK>.<split>.data``, MANIFEST §2.1).

    The reference ``load_data`` silently skips lines that do not split into 3 fields; here they are errors
    (or recorded skips). The real files have none (MANIFEST §4).
    """
    path = Path(path)
    rows = Rows()
    for lineno, line in enumerate(read_lines(path), 1):
        try:
            s1, s2, label = _fields(line, 3)
            rows.add(_sentence(s1, "sentence1"), _sentence(s2, "sentence2"), _score(label, check_score))
        except _Reject as bad:
            rows.reject(path, lineno, str(bad), skip_bad_lines)
    return rows


def read_sts_pairs(
    input_path: str | os.PathLike,
    gold_path: str | os.PathLike,
    *,
    skip_bad_lines: bool = False,
    check_score: ScoreCheck | None = None,
) -> Rows:
    """One SentEval STS sub-dataset: ``STS.input.<name>.txt`` (``s1<TAB>s2``) + ``STS.gs.<name>.txt`` (score).

    A blank gold line marks an unscored pair: it is dropped, as SentEval and ``load_sts_12_16_data`` do, and
    counted in ``Rows.unscored``. The two files must have the same number of lines (always an error: the
    alignment of every later pair depends on it, so it cannot be skipped).
    """
    input_path, gold_path = Path(input_path), Path(gold_path)
    inputs, golds = read_lines(input_path), read_lines(gold_path)
    if len(inputs) != len(golds):
        short = input_path if len(inputs) < len(golds) else gold_path
        raise BadLineError(
            short,
            min(len(inputs), len(golds)) + 1,
            f"{input_path.name} has {len(inputs)} lines but {gold_path.name} has {len(golds)}: the gold file "
            "needs one line per input pair (blank = unscored)",
        )
    rows = Rows()
    for lineno, (line, gold) in enumerate(zip(inputs, golds), 1):
        try:
            s1, s2 = _fields(line, 2)
            s1, s2 = _sentence(s1, "sentence1"), _sentence(s2, "sentence2")
        except _Reject as bad:
            rows.reject(input_path, lineno, str(bad), skip_bad_lines)
            continue
        if not gold.strip():
            rows.unscored += 1
            continue
        try:
            rows.add(s1, s2, _score(gold.strip(), check_score))
        except _Reject as bad:
            rows.reject(gold_path, lineno, str(bad), skip_bad_lines)
    return rows


def read_stsbenchmark(
    path: str | os.PathLike, *, skip_bad_lines: bool = False, check_score: ScoreCheck | None = None
) -> Rows:
    """SentEval's ``sts-{train,dev,test}.csv``: TAB columns ``genre, file, year, sid, score, s1, s2``, no header.

    Read with ``csv.QUOTE_NONE`` (quotes are text). Rows with more than 7 fields (the official ixa2 release has
    9-field rows, MANIFEST §4) use columns 4, 5, 6, the fix of whitening spec §7.9 / BERT-whitening issue #3.
    """
    path = Path(path)
    rows = Rows()
    for lineno, line in enumerate(read_lines(path), 1):
        try:
            try:
                fields = next(csv.reader([line], delimiter="\t", quoting=csv.QUOTE_NONE), [])
            except csv.Error as e:
                raise _Reject(f"unreadable CSV row ({e})") from None
            if len(fields) < 7:
                got = "an empty line" if line == "" else f"{len(fields)}"
                raise _Reject(f"expected at least 7 TAB-separated fields, got {got}")
            rows.add(
                _sentence(fields[5], "sentence1"),
                _sentence(fields[6], "sentence2"),
                _score(fields[4], check_score),
            )
        except _Reject as bad:
            rows.reject(path, lineno, str(bad), skip_bad_lines)
    return rows


SICK_COLUMNS = ("sentence_A", "sentence_B", "relatedness_score")


def read_sick(
    path: str | os.PathLike, *, skip_bad_lines: bool = False, check_score: ScoreCheck | None = None
) -> Rows:
    """``SICK_*.txt``: a header ``pair_ID sentence_A sentence_B relatedness_score entailment_judgment`` (TABs).

    Columns are found by header name; every row must have as many fields as the header. The score is
    ``relatedness_score`` (1-5), i.e. SICK-R.
    """
    path = Path(path)
    lines = read_lines(path)
    header = lines[0].split("\t") if lines else []
    missing = [c for c in SICK_COLUMNS if c not in header]
    if missing:
        raise BadLineError(path, 1, f"header {header!r} lacks column(s) {', '.join(missing)}")
    i1, i2, isc = (header.index(c) for c in SICK_COLUMNS)
    rows = Rows()
    for lineno, line in enumerate(lines[1:], 2):
        try:
            fields = _fields(line, len(header))
            rows.add(
                _sentence(fields[i1], "sentence_A"),
                _sentence(fields[i2], "sentence_B"),
                _score(fields[isc], check_score),
            )
        except _Reject as bad:
            rows.reject(path, lineno, str(bad), skip_bad_lines)
    return rows


def read_sentence_file(path: str | os.PathLike) -> tuple[list[str], list[int]]:
    """One sentence per line. Returns (sentences, 1-based numbers of the blank lines that were left out)."""
    sentences, blank = [], []
    for lineno, line in enumerate(read_lines(path), 1):
        if line.strip():
            sentences.append(line)
        else:
            blank.append(lineno)
    return sentences, blank
