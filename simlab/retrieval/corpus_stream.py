"""Corpus files larger than memory: plan them as line-range shards, read one shard at a time.

A shard is a byte range of one corpus file holding ``shard_size`` lines (the last one of a file fewer). Planning
scans each file once (newline positions with numpy, sha256 on the way) and keeps only the shard boundaries, so
the planner's memory is O(number of shards), not O(corpus). Lines parse exactly as :func:`read_corpus` parses
them (:func:`simlab.retrieval.corpus.parse_line`): txt ids are line numbers, jsonl ids come from the records,
empty lines are counted and reported, a bad line is a DataError ``file:line: reason``.

With several txt files the line number alone is not unique, so their ids are ``"<path>:<line>"``; a single txt
file keeps the plain line numbers of ``read_corpus`` (``"17"``).

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "c.txt"
>>> _ = p.write_text("a\\n\\nb\\nc\\nd\\n", encoding="utf-8")
>>> files, shards = plan_shards([p], shard_size=2)
>>> [(s.line_start, s.lines) for s in shards], files[0]["lines"]
([(1, 2), (3, 2), (5, 1)], 5)
>>> docs = read_shard(shards[0]); docs.ids, docs.texts, docs.empty_lines
(['1'], ['a'], [2])
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from simlab.errors import BadInputError, DataError, MissingFileError
from simlab.retrieval.corpus import corpus_format, parse_line

CHUNK = 1 << 23  # 8 MiB per read while scanning


@dataclass(frozen=True)
class InputShard:
    """Lines ``line_start .. line_start + lines − 1`` (1-based) of one corpus file = bytes [byte_start, byte_end)."""

    index: int  # shard number across all files, 0-based
    path: str  # absolute path (workers on other nodes need the same path, e.g. a shared file system)
    format: str  # "txt" | "jsonl"
    byte_start: int
    byte_end: int
    line_start: int
    lines: int
    id_prefix: str = ""  # "" for one txt file or jsonl; "<path>:" for each of several txt files

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ShardDocs:
    """The documents of one shard, in file order."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # 1-based line number of each document
    empty_lines: list[int] = field(default_factory=list)  # 1-based line numbers left out (empty text)


def scan_file(path: str | os.PathLike, shard_size: int) -> tuple[list[tuple[int, int, int, int]], dict]:
    """Shard boundaries of one file: ``[(byte_start, byte_end, line_start, lines), ...]`` and its description
    ``{"bytes", "lines", "sha256"}``. Reads the file once in 8 MiB chunks; memory O(shards)."""
    if shard_size < 1:
        raise BadInputError(f"shard size must be ≥ 1 line, got {shard_size}")
    h = hashlib.sha256()
    bounds: list[tuple[int, int, int, int]] = []
    start, start_line, lines_in_shard, lines, pos = 0, 1, 0, 0, 0
    last_byte = b""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            newlines = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)  # positions of b"\n"
            i = 0
            while i < len(newlines):
                need = shard_size - lines_in_shard
                if len(newlines) - i < need:
                    lines_in_shard += len(newlines) - i
                    lines += len(newlines) - i
                    break
                end = pos + int(newlines[i + need - 1]) + 1
                bounds.append((start, end, start_line, shard_size))
                lines += need
                start, start_line, lines_in_shard = end, lines + 1, 0
                i += need
            pos += len(chunk)
            last_byte = chunk[-1:]
    if pos > start:  # a last shard with fewer lines, or a last line without "\n"
        tail = lines_in_shard + (1 if last_byte != b"\n" else 0)
        lines += 1 if last_byte != b"\n" else 0
        bounds.append((start, pos, start_line, tail))
    return bounds, {"bytes": pos, "lines": lines, "sha256": h.hexdigest()}


def plan_shards(paths, shard_size: int = 100_000, format: str | None = None) -> tuple[list[dict], list[InputShard]]:
    """Plan the shards of several corpus files (in order). Returns ``(files, shards)``; ``files`` describes each
    file (path, format, bytes, lines, sha256) so that a rerun can tell whether the input changed."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise BadInputError("no corpus files given")
    files, shards = [], []
    n_txt = sum(corpus_format(p, format) == "txt" for p in paths)
    for p in paths:
        if not p.is_file():
            raise MissingFileError(f"corpus file {p} does not exist")
        fmt = corpus_format(p, format)
        bounds, info = scan_file(p, shard_size)
        prefix = f"{p}:" if fmt == "txt" and n_txt > 1 else ""
        files.append({"path": str(p.resolve()), "given": str(p), "format": fmt, **info})
        for b0, b1, l0, n in bounds:
            shards.append(InputShard(len(shards), str(p.resolve()), fmt, b0, b1, l0, n, prefix))
    return files, shards


def read_shard(shard: InputShard | dict) -> ShardDocs:
    """Parse the lines of one shard. A repeated id inside the shard is a DataError naming both lines (ids
    repeated across shards are found by the caller, who sees every shard's ids)."""
    if isinstance(shard, dict):
        shard = InputShard(**shard)
    out = ShardDocs()
    seen: dict[str, int] = {}
    with open(shard.path, "rb") as f:
        f.seek(shard.byte_start)
        for lineno in range(shard.line_start, shard.line_start + shard.lines):
            raw = f.readline()
            if not raw:
                raise DataError(f"{shard.path}:{lineno}: the file ended early (it changed after planning)")
            doc = parse_line(raw, shard.path, lineno, shard.format)
            if doc is None:
                out.empty_lines.append(lineno)
                continue
            doc_id = shard.id_prefix + doc[0]
            if doc_id in seen:
                raise DataError(f"{shard.path}:{lineno}: id {doc_id!r} already used on line {seen[doc_id]}; "
                                f"ids must be unique")
            seen[doc_id] = lineno
            out.ids.append(doc_id)
            out.texts.append(doc[1])
            out.lines.append(lineno)
        if f.tell() != shard.byte_end:
            raise DataError(f"{shard.path}:{shard.line_start}: shard {shard.index} ends at byte {f.tell()}, "
                            f"planned {shard.byte_end} (the file changed after planning)")
    return out
