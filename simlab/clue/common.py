"""The recipe every CLUE task shares (kexue.fm/archives/8739; bojone/CLUE-bert4keras ``src/snippets.py``).

What 8739 fixes for all tasks, and what this module provides:

- one optimizer: AdaFactor, lr 5e-4 constant, β1 0.9, no warmup (:class:`simlab.train.optim.AdaFactor`);
  gradient accumulation 2 for CMRC2018 and CHID, 4 for C3 (``optimizer2`` / ``optimizer4``);
- the feature: the last layer's raw [CLS] vector, no pooler (``pooling='first'``); ``--pooling`` picks another;
- all segment ids 0, pairs included (RoBERTa-style models never trained segment 1);
- a dense head initialised with truncated normal, std 0.02 (bert4keras ``base.initializer``);
- dev scored after every epoch; the best-dev weights predict the test files.

Data files live under ``--data-dir`` / ``$SIMLAB_DATA`` in the layout of ``shared/data`` (MANIFEST.md §2.3, §7).
Each split lists alternatives (a CLUE file first, a FewCLUE file where the CLUE one is absent); an alternative
is one or more files that must all exist. A split with no complete alternative raises :class:`MissingFileError`
naming the expected path.

>>> task_recipe = Recipe(max_length=128, batch_size=32, epochs=10)
>>> task_recipe.lr, task_recipe.grad_accum
(0.0005, 1)
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from simlab.data.jsonl import json_object_line
from simlab.errors import BadInputError, DataError, MissingFileError

LEARNING_RATE = 5e-4  # snippets.py learning_rate
DEFAULT_POOLING = "cls"  # raw [CLS] of the last block (bert4keras pooling='first')
KINDS = ("classify", "choice", "span", "ner")


@dataclass(frozen=True)
class Recipe:
    """Per-task hyperparameters of the 8739 scripts (spec §1.2)."""

    max_length: int
    batch_size: int
    epochs: int
    grad_accum: int = 1
    lr: float = LEARNING_RATE


@dataclass(frozen=True)
class TestFile:
    """One test file of a task and the submission file its predictions go to (spec §1.4)."""

    name: str  # "test", "test1.0", "test_public", ...
    alternatives: tuple[tuple[str, ...], ...]
    submission: str | None  # file name inside the zip; None = scored only (e.g. FewCLUE test_public)


@dataclass
class Loaded:
    """Examples read from a split plus every row left out, as (file, line, reason)."""

    examples: list
    skipped: list[tuple[str, int, str]] = field(default_factory=list)

    def skip(self, path, lineno: int, reason: str) -> None:
        self.skipped.append((str(path), int(lineno), reason))


@dataclass(frozen=True)
class ClueTask:
    """A CLUE / FewCLUE task: where its files are, how to read them, and how it is modelled.

    ``read(files, split) -> Loaded``; ``kind`` picks the model head and feature code (:data:`KINDS`);
    ``featurize`` / ``decode`` / ``score`` / ``write`` are the task's own where the kind's defaults do not fit.
    """

    name: str
    title: str
    kind: str
    recipe: Recipe
    splits: dict[str, tuple[tuple[str, ...], ...]]
    tests: tuple[TestFile, ...]
    read: Callable[[list[Path], str], Loaded]
    labels: tuple[str, ...] = ()
    metric: str = "accuracy"
    featurize: Callable | None = None
    decode: Callable | None = None
    score: Callable | None = None
    write: Callable | None = None
    num_choices: int = 0
    id_as_str: bool = True  # CLUE writes str(id); FewCLUE keeps the test file's id as it is
    notes: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name}: kind must be one of {KINDS}, got {self.kind!r}")


# ----------------------------------------------------------------------------------------- data folder & files

def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir`` or ``$SIMLAB_DATA``; MissingFileError when neither names an existing folder."""
    raw = data_dir if data_dir is not None else os.environ.get("SIMLAB_DATA")
    if not raw:
        raise MissingFileError("no data folder: pass --data-dir DIR or set SIMLAB_DATA=DIR (the layout of "
                               "shared/data: CLUE/AFQMC/train.txt, FewCLUE/tnews/train_few_all.json, ...)")
    root = Path(raw).expanduser()
    if not root.is_dir():
        source = "--data-dir" if data_dir is not None else "SIMLAB_DATA"
        raise MissingFileError(f"data folder {root} does not exist (from {source})")
    return root


def find_files(root: Path, alternatives: tuple[tuple[str, ...], ...]) -> tuple[list[Path] | None, int]:
    """The first alternative whose files all exist, and its index; ``(None, -1)`` when none does."""
    for i, alt in enumerate(alternatives):
        paths = [root / rel for rel in alt]
        if all(p.is_file() for p in paths):
            return paths, i
    return None, -1


def expected(root: Path, alternatives: tuple[tuple[str, ...], ...]) -> str:
    """The expected path(s) of a split, for messages: ``a + b`` within an alternative, ``or`` between them."""
    return " or ".join(" + ".join(str(root / rel) for rel in alt) for alt in alternatives)


def require_files(root: Path, task: ClueTask, split: str) -> list[Path]:
    """The files of ``split``; one MissingFileError line naming the expected path when absent."""
    alternatives = task.splits[split] if split in task.splits else _test(task, split).alternatives
    paths, _ = find_files(root, alternatives)
    if paths is None:
        raise MissingFileError(f"clue task {task.name}: no {split} file: expected {expected(root, alternatives)}")
    return paths


def _test(task: ClueTask, name: str) -> TestFile:
    for t in task.tests:
        if t.name == name:
            return t
    raise BadInputError(f"task {task.name} has no split {name!r}")


# --------------------------------------------------------------------------------------------------- readers

def text_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file (a leading BOM dropped, line ends kept); invalid UTF-8 is one DataError
    naming the file, the line and the byte."""
    path = Path(path)
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(f"{path}:{lineno}: not valid UTF-8 (byte 0x{raw[e.start]:02x} at column "
                                f"{e.start + 1})") from None


def read_text(path: str | os.PathLike) -> str:
    """A whole UTF-8 file (a leading BOM dropped); invalid UTF-8 is one DataError naming the file and line."""
    path = Path(path)
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 (byte 0x{data[e.start]:02x})") from None


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-empty line; DataError naming file and line on bad JSON or UTF-8."""
    path = Path(path)
    for lineno, line in text_lines(path):
        if line.strip():
            yield lineno, json_object_line(path, lineno, line)


def read_json(path: str | os.PathLike, object_pairs_hook=None):
    """A whole-file JSON document (CMRC2018, C3, CHID answers, a run's metrics.json); DataError on bad JSON."""
    path = Path(path)
    try:
        return json.loads(read_text(path), object_pairs_hook=object_pairs_hook)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def read_tsv(path: str | os.PathLike, ncols: tuple[int, ...]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of a headerless TAB file; DataError when a line has a field count not in ``ncols``."""
    path = Path(path)
    for lineno, line in text_lines(path):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) not in ncols:
            want = " or ".join(str(n) for n in ncols)
            raise DataError(f"{path}:{lineno}: expected {want} TAB-separated fields, got {len(fields)}")
        yield lineno, fields


def read_summary(run_dir: str | os.PathLike) -> dict:
    """``RUN/metrics.json`` of a finished ``simlab clue run`` as a dict; missing or damaged: one error line."""
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise MissingFileError(f"{run_dir}: no metrics.json; not a finished `simlab clue run` folder")
    summary = read_json(path)
    if not isinstance(summary, dict):
        raise DataError(f"{path}: expected one JSON object (the summary of a clue run)")
    return summary


def field_of(obj: dict, key: str, path, lineno: int):
    """``obj[key]`` or DataError naming the file, line and the missing field."""
    if key not in obj:
        raise DataError(f"{path}:{lineno}: missing field {key!r} (fields: {', '.join(sorted(obj))})")
    return obj[key]


def label_index(labels: tuple[str, ...], raw, loaded: Loaded, path, lineno: int) -> int | None:
    """Index of ``str(raw)`` in ``labels``; None and a recorded skip when it is not one of them."""
    value = str(raw)
    if value in labels:
        return labels.index(value)
    loaded.skip(path, lineno, f"label {value!r} not in {{{', '.join(labels)}}}")
    return None


# ------------------------------------------------------------------------------------------------- tokenizers

def special_ids(tokenizer) -> tuple[int, int, int]:
    """(cls, sep, pad) ids of a BERT-like ([CLS]/[SEP]) or RoBERTa-like (<s>/</s>) tokenizer."""
    cls = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    sep = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if cls is None or sep is None:
        raise BadInputError(f"tokenizer {type(tokenizer).__name__} has no [CLS]/<s> or [SEP]/</s> token")
    return cls, sep, pad


def encode_text(tokenizer, text_a: str, text_b: str | None, max_length: int) -> list[int]:
    """Token ids of ``[CLS] a [SEP]`` or ``[CLS] a [SEP] b [SEP]`` (the tokenizer's own template), truncated
    longest-first to ``max_length`` like bert4keras ``truncate_sequences``. Segment ids are all 0, so none
    are returned (the model's default)."""
    enc = tokenizer(text_a, text_b, truncation=True, max_length=max_length, return_token_type_ids=False,
                    return_attention_mask=False)
    return list(enc["input_ids"])


def pieces(tokenizer, text: str) -> list[int]:
    """Token ids of ``text`` without special tokens."""
    return list(tokenizer(text, add_special_tokens=False, return_attention_mask=False,
                          return_token_type_ids=False)["input_ids"])


def limit_examples(examples: list, limit: int | None) -> list:
    """The first ``limit`` examples (all when None): the ``--limit`` smoke-run cut, same code path."""
    if limit is not None and limit < 0:
        raise BadInputError(f"--limit must be >= 0, got {limit}")
    return examples if limit is None else examples[:limit]
