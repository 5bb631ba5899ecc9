"""Streaming corpus readers, the STS-sentence filter, dedup and cutting (issue: MLM pretraining).

``zh-default`` = ``corpus-zh/xwlb.txt`` plus the *train* and *unlabeled* files of CLUE and FewCLUE in
``shared/data`` (MANIFEST §2.3, §7), never a dev or test split, and never a sentence of any split of the five
Chinese STS tasks (ATEC, BQ, LCQMC, PAWSX, STS-B): CLUE AFQMC train alone holds 13,816 of ATEC test's sentences.

Every text goes: normalise -> STS filter -> dedup -> cut at sentence punctuation to ``max_chars`` -> STS filter
again on each piece. Every drop is counted in :class:`CorpusStats`.

>>> list(cut_text("第一句。第二句很长很长！第三句", max_chars=8))
['第一句。', '第二句很长很长！', '第三句']
>>> normalize_key(" ＡＢＣ  今天？ ")
'abc今天'
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from simlab.data.jsonl import json_object_line
from simlab.errors import DataError, MissingFileError

STS_TASKS = ("ATEC", "BQ", "LCQMC", "PAWSX", "STS-B")

# (relative path, format, fields): the train / unlabeled files of CLUE and FewCLUE (MANIFEST §2.3, §7).
ZH_DEFAULT_SOURCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("corpus-zh/xwlb.txt", "txt", ()),
    ("CLUE/AFQMC/train.txt", "tsv", (0, 1)),
    ("CLUE/tnews/train.json", "jsonl", ("sentence",)),
    ("CLUE/OCNLI/train.50k.json", "jsonl", ("sentence1", "sentence2")),
    ("CLUE/cluewsc2020/train.json", "jsonl", ("text",)),
    ("CLUE/cluener2020/train.json", "jsonl", ("text",)),
    ("CLUE/cmrc2018/train.json", "squad", ()),
    ("CLUE/c3/d-train.json", "c3", ()),
    ("CLUE/c3/m-train.json", "c3", ()),
    ("FewCLUE/bustm/train_few_all.json", "jsonl", ("sentence1", "sentence2")),
    ("FewCLUE/bustm/unlabeled.json", "jsonl", ("sentence1", "sentence2")),
    ("FewCLUE/csl/train_few_all.json", "jsonl", ("abst",)),
    ("FewCLUE/cluewsc/train_few_all.json", "jsonl", ("text",)),
    ("FewCLUE/eprstmt/train_few_all.json", "jsonl", ("sentence",)),
    ("FewCLUE/eprstmt/unlabeled.json", "jsonl", ("sentence",)),
    ("FewCLUE/iflytek/train_few_all.json", "jsonl", ("sentence",)),
    ("FewCLUE/ocnli/train_few_all.json", "jsonl", ("sentence1", "sentence2")),
    ("FewCLUE/tnews/train_few_all.json", "jsonl", ("sentence",)),
    ("FewCLUE/tnews/unlabeled.json", "jsonl", ("sentence",)),
)

_SENT_END = re.compile(r"(?<=[。！？!?；;…])")
_SPACES = re.compile(r"\s+")
_EDGE_PUNCT = "。．.！!？?，,、；;：:…~～\"'“”‘’「」『』()（）[]【】《》<>-—_*#"


def normalize_text(text: str) -> str:
    """NFKC, whitespace runs collapsed to one space, stripped: the text the model trains on."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def normalize_key(text: str) -> str:
    """The comparison key of the STS filter and dedup: NFKC, lower-cased, all whitespace and the punctuation
    at either end removed (so a corpus piece "花呗怎么还款。" matches the STS sentence "花呗怎么还款")."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).lower().strip(_EDGE_PUNCT)


def digest(key: str) -> int:
    """A stable 64-bit hash of a key (dedup set entries and the held-out choice)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


def cut_text(text: str, max_chars: int) -> Iterator[str]:
    """Pieces of at most ``max_chars`` characters, cut after sentence punctuation (。！？；…), greedily packing
    whole sentences; a single sentence longer than ``max_chars`` is cut hard."""
    piece = ""
    for sent in (s for s in _SENT_END.split(text) if s.strip()):
        while len(sent) > max_chars:
            if piece:
                yield piece.strip()
                piece = ""
            yield sent[:max_chars].strip()
            sent = sent[max_chars:]
        if len(piece) + len(sent) > max_chars:
            yield piece.strip()
            piece = ""
        piece += sent
    if piece.strip():
        yield piece.strip()


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                yield lineno, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise DataError(f"{path}:{lineno}: invalid UTF-8 at byte {e.start}") from None


def read_texts(path: str | os.PathLike, fmt: str = "auto", fields: Iterable = ("text",)) -> Iterator[str]:
    """Stream the texts of one file: ``txt`` (a text a line), ``jsonl`` (``fields`` of each object), ``tsv``
    (column indexes), ``squad`` (contexts and questions), ``c3`` (dialogue lines, questions)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"corpus file {path} does not exist")
    if fmt == "auto":
        fmt = "jsonl" if path.suffix in (".jsonl", ".json") else "txt"
    fields = tuple(fields)
    if fmt == "txt":
        for _, line in _lines(path):
            if line.strip():
                yield line
    elif fmt == "tsv":
        for lineno, line in _lines(path):
            cols = line.split("\t")
            if len(cols) <= max(fields):
                raise DataError(f"{path}:{lineno}: expected at least {max(fields) + 1} TAB-separated fields")
            yield from (cols[i] for i in fields if cols[i].strip())
    elif fmt == "jsonl":
        for lineno, line in _lines(path):
            if not line.strip():
                continue
            obj = json_object_line(path, lineno, line)
            missing = [f for f in fields if f not in obj]
            if len(missing) == len(fields):
                raise DataError(f"{path}:{lineno}: none of the fields {', '.join(fields)} present "
                                "(choose one with --text-field)")
            yield from (str(obj[f]) for f in fields if isinstance(obj.get(f), str) and obj[f].strip())
    elif fmt in ("squad", "c3"):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DataError(f"{path}: not a valid UTF-8 JSON document ({e})") from None
        if fmt == "squad":
            for art in doc["data"]:
                for par in art["paragraphs"]:
                    yield par["context"]
                    yield from (qa["question"] for qa in par["qas"])
        else:
            for paragraphs, questions, _id in doc:
                yield from paragraphs
                yield from (q["question"] for q in questions)
    else:
        raise DataError(f"{path}: unknown corpus format {fmt!r}")


def sts_sentence_keys(data_dir: str | os.PathLike | None = None) -> set[str]:
    """Normalised keys of every sentence of every split of the five Chinese STS tasks."""
    from simlab.data import load_task

    keys: set[str] = set()
    for task in STS_TASKS:
        for split in load_task(task, data_dir).values():
            keys.update(normalize_key(s) for s in split.sentences1 + split.sentences2)
    return keys


def default_sources(data_dir: Path) -> list[tuple[Path, str, tuple]]:
    """The ``zh-default`` files that exist under ``data_dir`` (missing ones are reported by the caller)."""
    return [(data_dir / rel, fmt, fields) for rel, fmt, fields in ZH_DEFAULT_SOURCES]


@dataclass
class CorpusStats:
    """Counts of one corpus pass, per source: texts read, STS-removed, duplicates, pieces, characters."""

    read: Counter = field(default_factory=Counter)
    sts_removed: Counter = field(default_factory=Counter)
    duplicates: Counter = field(default_factory=Counter)
    pieces: Counter = field(default_factory=Counter)
    chars: Counter = field(default_factory=Counter)
    heldout_pieces: int = 0
    missing_sources: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        per = {src: {"texts": self.read[src], "sts_removed": self.sts_removed[src],
                     "duplicates": self.duplicates[src], "pieces": self.pieces[src], "chars": self.chars[src]}
               for src in self.read}
        tot = {k: sum(v[k] for v in per.values()) for k in ("texts", "sts_removed", "duplicates", "pieces", "chars")}
        return {"sources": per, "total": tot, "heldout_pieces": self.heldout_pieces,
                "missing_sources": self.missing_sources}


def clean_pieces(sources: Iterable[tuple[str, Iterable[str]]], sts_keys: set[str], max_chars: int,
                 stats: CorpusStats) -> Iterator[tuple[str, str]]:
    """``(source, piece)`` for every kept piece: normalised, not an STS sentence, not seen before, cut.

    Dedup keeps one 8-byte digest per distinct text (the only state that grows with the corpus).
    """
    seen: set[int] = set()
    for source, texts in sources:
        for raw in texts:
            stats.read[source] += 1
            text = normalize_text(raw)
            key = normalize_key(text)
            if not key:
                continue
            if key in sts_keys:
                stats.sts_removed[source] += 1
                continue
            h = digest(key)
            if h in seen:
                stats.duplicates[source] += 1
                continue
            seen.add(h)
            for piece in cut_text(text, max_chars):
                if normalize_key(piece) in sts_keys:
                    stats.sts_removed[source] += 1
                    continue
                stats.pieces[source] += 1
                stats.chars[source] += len(piece)
                yield source, piece


def is_heldout(piece: str, permille: int) -> bool:
    """Deterministic held-out choice by the piece's hash (independent of corpus order)."""
    return digest("heldout:" + normalize_key(piece)) % 1000 < permille
