"""The texts a vocabulary is trimmed to: named corpora over the data folder, or files.

- ``news``: ``corpus-zh/xwlb.txt`` (MANIFEST §7), one paragraph a line;
- ``sts``: every sentence of every split of every STS task simlab knows (:data:`simlab.data.TASKS`: the five
  Chinese tasks and the English STS12-16, STS-B and SICK-R);
- ``clue``: every string of every ``.json`` / ``.txt`` file under ``CLUE/`` and ``FewCLUE/`` (all splits), except
  ids and label fields;
- a file path: ``.json`` / ``.jsonl`` gives every string value (a JSON document or one JSON value a line),
  anything else one text a line.

The default, :data:`DEFAULT_CORPUS`, is all three: the pretraining corpus ``zh-default``
(:mod:`simlab.pretrain.corpus`: the news plus CLUE / FewCLUE train and unlabeled files) together with every STS
and CLUE text. Since every ``zh-default`` file but the news is a CLUE / FewCLUE file, that union is exactly
news + sts + clue, and this package reads it without depending on the pretraining code (``simlab trim
--corpus zh-default`` expands the name into pretrain's files on the command line).

>>> list(json_strings({"id": 3, "text": "你好", "label": "1", "keyword": ["a", "b"]}))
['你好', 'a', 'b']
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from simlab.errors import BadInputError, DataError, MissingFileError

NAMED = ("news", "sts", "clue")
DEFAULT_CORPUS = NAMED
NEWS = "corpus-zh/xwlb.txt"
# JSON keys that hold ids or labels, not text (CLUE / FewCLUE fields, MANIFEST §2.3)
SKIP_KEYS = frozenset({"id", "idx", "label", "label_des", "label_desc", "label0", "label1", "label2", "label3",
                       "label4", "genre", "level", "prem_id", "version"})
# files under CLUE/ and FewCLUE/ that hold no task text: a sample prediction (labels only, partly not JSON) and a
# label-count listing
NOT_TEXT = frozenset({"cluener_predict.json", "label_distribution.json"})


def json_strings(obj, skip: frozenset = SKIP_KEYS) -> Iterator[str]:
    """Every non-blank string value in a JSON value, depth first, leaving out the values of ``skip`` keys."""
    if isinstance(obj, str):
        if obj.strip():
            yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if k not in skip:
                yield from json_strings(v, skip)
    elif isinstance(obj, list):
        for v in obj:
            yield from json_strings(v, skip)


def _lines(text: str) -> list[str]:
    """Lines split at LF only (``str.splitlines`` would also split at U+2028 or U+0085 inside a JSON string)."""
    return [line.rstrip("\r") for line in text.split("\n")]


def file_texts(path: str | os.PathLike, tsv: bool = False) -> Iterator[str]:
    """Texts of one file: JSON strings for ``.json`` / ``.jsonl`` (whole document, else a JSON value a line),
    else lines (with ``tsv``, each TAB-separated field of a line)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"corpus file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start})") from None
    if path.suffix in (".json", ".jsonl"):
        try:
            yield from json_strings(json.loads(text))
            return
        except json.JSONDecodeError:
            pass
        for lineno, line in enumerate(_lines(text), 1):
            if line.strip():
                try:
                    yield from json_strings(json.loads(line))
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
        return
    for line in _lines(text):
        yield from (f for f in (line.split("\t") if tsv else [line]) if f.strip())


def clue_files(data_dir: Path) -> list[Path]:
    """The ``.json`` / ``.txt`` data files under ``CLUE/`` and ``FewCLUE/`` (no readme or licence files)."""
    return sorted(p for top in ("CLUE", "FewCLUE") for p in (data_dir / top).rglob("*")
                  if p.is_file() and p.suffix in (".json", ".txt")
                  and p.name not in NOT_TEXT and not p.name.lower().startswith(("readme", "licen")))


def _news(data_dir: Path) -> Iterator[tuple[str, Iterator[str]]]:
    if (data_dir / NEWS).is_file():
        yield f"news:{NEWS}", file_texts(data_dir / NEWS)


def _sts(data_dir: Path) -> Iterator[tuple[str, Iterator[str]]]:
    from simlab.data import TASKS, load_task

    for name in TASKS:
        try:
            splits = load_task(name, data_dir)
        except MissingFileError:
            continue
        for split, pairs in splits.items():
            yield f"sts:{name}/{split}", iter(pairs.sentences1 + pairs.sentences2)


def _clue(data_dir: Path) -> Iterator[tuple[str, Iterator[str]]]:
    for path in clue_files(data_dir):
        yield f"clue:{path.relative_to(data_dir)}", file_texts(path, tsv=path.suffix == ".txt")


def check_corpus(specs) -> tuple[str, ...]:
    """The corpus specs, validated: each a name in :data:`NAMED` or an existing file."""
    specs = tuple(specs)
    if not specs:
        raise BadInputError(f"--corpus: give at least one corpus ({', '.join(NAMED)} or a file)")
    for spec in specs:
        if spec not in NAMED and not Path(spec).expanduser().is_file():
            raise BadInputError(f"--corpus {spec}: neither a corpus name ({', '.join(NAMED)}) nor an existing file")
    return specs


def iter_sources(specs, data_dir: str | os.PathLike | None = None) -> Iterator[tuple[str, Iterator[str]]]:
    """``(source, texts)`` for each file or split of the corpora ``specs``; names need the data folder.

    >>> [name for name, _ in iter_sources(["sts"], data_dir)][:2]    # doctest: +SKIP
    ['sts:ATEC/valid', 'sts:ATEC/test']
    """
    specs = check_corpus(specs)
    root = None
    if any(s in NAMED for s in specs):
        from simlab.paths import data_dir as resolve_data_dir

        root = resolve_data_dir(data_dir)
    readers = {"news": _news, "sts": _sts, "clue": _clue}
    for spec in specs:
        if spec in NAMED:
            found = False
            for item in readers[spec](root):
                found = True
                yield item
            if not found:
                raise MissingFileError(f"--corpus {spec}: no file of it in the data folder {root}")
        else:
            yield f"file:{spec}", file_texts(Path(spec).expanduser())
