"""Corpus files for ``simlab index build``: one sentence per line (``.txt``) or JSON lines with an id (``.jsonl``).

Rules (nothing is dropped silently):

- txt: every non-empty line is a document, its id is the 1-based line number (``"17"``).
- jsonl: every non-empty line is an object with an ``id`` (str or int) and a ``text`` (or ``sentence``) field.
  A missing field, a bad JSON line or a repeated id is a ValueError naming the line.
- Empty (whitespace-only) lines and jsonl records with an empty text are left out of the index, and their
  line numbers are kept in :attr:`Corpus.empty_lines` so callers report the count.
- Duplicate texts are kept, each with its own id (``Corpus.n_duplicates`` counts them).

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "c.txt"
>>> _ = p.write_text("今天天气\\n\\n今天天气\\n明天下雨\\n", encoding="utf-8")
>>> c = read_corpus(p)
>>> c.ids, c.empty_lines, c.n_duplicates
(['1', '3', '4'], [2], 1)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from simlab.data.jsonl import json_object_line
from simlab.errors import BadInputError, DataError, MissingFileError

TEXT_FIELDS = ("text", "sentence")


@dataclass
class Corpus:
    """Documents of a corpus file, in file order."""

    ids: list[str]
    texts: list[str]
    source: str = ""
    format: str = "txt"
    empty_lines: list[int] = field(default_factory=list)  # 1-based line numbers left out (empty text)

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.texts):
            raise ValueError(f"corpus has {len(self.ids)} ids but {len(self.texts)} texts")
        seen: set[str] = set()
        for i in self.ids:
            if i in seen:
                raise ValueError(f"corpus id {i!r} occurs more than once; ids must be unique")
            seen.add(i)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def n_duplicates(self) -> int:
        """Documents whose text already occurred earlier in the corpus (kept, with their own ids)."""
        return len(self.texts) - len(set(self.texts))

    @classmethod
    def from_texts(cls, texts: list[str], ids: list[str] | None = None, source: str = "") -> Corpus:
        """A corpus from Python lists; ids default to ``"0", "1", ...``; empty texts are a ValueError."""
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise ValueError(f"document {i} is empty or not a string ({t!r})")
        ids = [str(i) for i in range(len(texts))] if ids is None else [str(i) for i in ids]
        return cls(ids, texts, source=source, format="list")

    def summary(self) -> str:
        """One line for logs: documents, duplicates and empty lines left out."""
        parts = [f"{len(self)} documents from {self.source or 'memory'}"]
        if self.n_duplicates:
            parts.append(f"{self.n_duplicates} duplicate texts kept with their ids")
        if self.empty_lines:
            first = ", ".join(map(str, self.empty_lines[:5]))
            parts.append(f"{len(self.empty_lines)} empty lines left out (lines {first}"
                         f"{' ...' if len(self.empty_lines) > 5 else ''})")
        return ", ".join(parts)


def read_corpus(path: str | os.PathLike, format: str | None = None) -> Corpus:
    """Read a ``.txt`` (one sentence per line) or ``.jsonl`` (``{"id": ..., "text": ...}``) corpus file.

    ``format`` ("txt" | "jsonl") overrides the guess from the file suffix (``.jsonl``/``.json`` → jsonl).
    Lines end at ``"\\n"`` only (one trailing ``"\\r"`` is dropped), as in :mod:`simlab.data.readers`; the
    streaming reader for corpora larger than memory (:mod:`simlab.retrieval.corpus_stream`) parses lines the
    same way, with :func:`parse_line`.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"corpus file {path} does not exist")
    fmt = corpus_format(path, format)
    ids: list[str] = []
    texts: list[str] = []
    empty: list[int] = []
    seen: dict[str, int] = {}
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            doc = parse_line(raw, path, lineno, fmt)
            if doc is None:
                empty.append(lineno)
                continue
            doc_id, text = doc
            if doc_id in seen:
                raise DataError(f"{path}:{lineno}: id {doc_id!r} already used on line {seen[doc_id]}; ids must be unique")
            seen[doc_id] = lineno
            ids.append(doc_id)
            texts.append(text)
    if not texts:
        raise DataError(f"corpus file {path} has no non-empty documents ({len(empty)} empty lines)")
    return Corpus(ids, texts, source=str(path), format=fmt, empty_lines=empty)


def corpus_format(path: str | os.PathLike, format: str | None = None) -> str:
    """``format`` if given, else the guess from the suffix (``.jsonl``/``.json`` → jsonl, anything else txt)."""
    fmt = format or ("jsonl" if Path(path).suffix.lower() in {".jsonl", ".json"} else "txt")
    if fmt not in {"txt", "jsonl"}:
        raise BadInputError(f"corpus format must be 'txt' or 'jsonl', got {fmt!r}")
    return fmt


def parse_line(raw: bytes, path: str | os.PathLike, lineno: int, fmt: str) -> tuple[str, str] | None:
    """One raw line (bytes, with or without its line end) → ``(id, text)``, or None for an empty document.

    txt ids are the line number; jsonl ids come from the record. A bad line is a DataError ``path:line: reason``.
    """
    if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark
    try:
        line = raw.decode("utf-8").rstrip("\n").removesuffix("\r")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}:{lineno}: not valid UTF-8 (byte {exc.start})") from None
    if fmt == "txt":
        doc_id, text = str(lineno), line
    elif not line.strip():
        return None
    else:
        doc_id, text = _parse_jsonl(line, Path(path), lineno)
    return None if not text.strip() else (doc_id, text)


def _parse_jsonl(line: str, path: Path, lineno: int) -> tuple[str, str]:
    obj = json_object_line(path, lineno, line)
    if "id" not in obj or obj["id"] is None or isinstance(obj["id"], (dict, list, bool)):
        raise DataError(f"{path}:{lineno}: missing or invalid 'id' field (need a string or integer)")
    field_name = next((f for f in TEXT_FIELDS if f in obj), None)
    if field_name is None:
        raise DataError(f"{path}:{lineno}: no text field (expected one of {', '.join(TEXT_FIELDS)})")
    text = obj[field_name]
    if not isinstance(text, str):
        raise DataError(f"{path}:{lineno}: field {field_name!r} must be a string, got {type(text).__name__}")
    return str(obj["id"]), text
