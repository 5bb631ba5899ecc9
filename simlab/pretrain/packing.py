"""Tokenised pieces packed into sequences ``[CLS] a [SEP] b [SEP] ...`` of at most ``max_len`` tokens, on disk.

Layout of one packed set ``<prefix>``: ``<prefix>.tokens.npy`` (uint16 or int32, all sequences back to back),
``<prefix>.offsets.npy`` (int64, sequence ``i`` is ``tokens[offsets[i]:offsets[i+1]]``), and, for whole-word
masking, ``<prefix>.wordstarts.npy`` (uint8, 1 where a token starts a jieba word). Written in chunks, so
memory stays flat; the files appear atomically at the end.

Packing several short texts into one sequence is RoBERTa's FULL-SENTENCES choice (arXiv 1907.11692 §4.2):
no padding wasted on the corpus's many short questions and titles.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np


def word_starts(text: str, offsets: list[tuple[int, int]]) -> list[int]:
    """1 for each token whose first character starts a jieba word of ``text``, else 0 (whole-word masking).

    >>> word_starts("今天天气", [(0, 1), (1, 2), (2, 3), (3, 4)])   # doctest: +SKIP
    [1, 0, 1, 0]
    """
    import jieba

    starts, pos = set(), 0
    for word in jieba.lcut(text):
        starts.add(pos)
        pos += len(word)
    return [1 if a in starts else 0 for a, _ in offsets]


def pack(items: Iterable[tuple[list[int], list[int] | None]], cls_id: int, sep_id: int,
         max_len: int) -> Iterator[tuple[list[int], list[int]]]:
    """Greedy packing of ``(token ids, word starts or None)``: ``[CLS] t1 [SEP] t2 [SEP] ...`` while it fits
    ``max_len``; a text longer than ``max_len - 2`` is truncated. Yields ``(ids, word_starts)``.

    >>> [ids for ids, _ in pack([([5, 6], None), ([7], None), ([8, 9, 10], None)], 1, 2, max_len=6)]
    [[1, 5, 6, 2, 7, 2], [1, 8, 9, 10, 2]]
    """
    ids, ws = [cls_id], [1]
    for toks, w in items:
        w = w if w is not None else [1] * len(toks)
        toks, w = toks[: max_len - 2], w[: max_len - 2]
        if len(ids) + len(toks) + 1 > max_len and len(ids) > 1:
            yield ids, ws
            ids, ws = [cls_id], [1]
        ids += toks + [sep_id]
        ws += w + [1]
    if len(ids) > 1:
        yield ids, ws


def write_packed(prefix: str | os.PathLike, tokenizer, texts: Iterable[str], max_len: int, wwm: bool = False,
                 batch: int = 2000) -> dict:
    """Tokenise ``texts`` in batches, pack them and write the ``<prefix>.*.npy`` files; returns counts."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    dtype = np.uint16 if len(tokenizer) < 65536 else np.int32
    tmp = {k: prefix.with_name(f".{prefix.name}.{k}.tmp") for k in ("tokens", "wordstarts")}
    counts = {"texts": 0, "truncated_texts": 0}

    def encoded():
        buf: list[str] = []
        for t in texts:
            buf.append(t)
            if len(buf) == batch:
                yield from encode(buf)
                buf = []
        if buf:
            yield from encode(buf)

    def encode(buf):
        enc = tokenizer(buf, add_special_tokens=False, return_offsets_mapping=wwm)
        for i, ids in enumerate(enc["input_ids"]):
            counts["texts"] += 1
            counts["truncated_texts"] += len(ids) > max_len - 2
            yield ids, (word_starts(buf[i], enc["offset_mapping"][i]) if wwm else None)

    offsets, n_tokens = [0], 0
    with open(tmp["tokens"], "wb") as ftok, open(tmp["wordstarts"], "wb") as fws:
        for ids, ws in pack(encoded(), tokenizer.cls_token_id, tokenizer.sep_token_id, max_len):
            ftok.write(np.asarray(ids, dtype=dtype).tobytes())
            fws.write(np.asarray(ws, dtype=np.uint8).tobytes())
            n_tokens += len(ids)
            offsets.append(n_tokens)
    _save_npy(prefix.with_name(f"{prefix.name}.tokens.npy"), np.fromfile(tmp["tokens"], dtype=dtype))
    if wwm:
        _save_npy(prefix.with_name(f"{prefix.name}.wordstarts.npy"), np.fromfile(tmp["wordstarts"], dtype=np.uint8))
    for path in tmp.values():
        path.unlink()
    _save_npy(prefix.with_name(f"{prefix.name}.offsets.npy"), np.asarray(offsets, dtype=np.int64))
    return {**counts, "sequences": len(offsets) - 1, "tokens": n_tokens}


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


class PackedDataset:
    """Map-style dataset over a packed set: item ``i`` is ``{"input_ids": LongTensor, "idx": i}`` (and
    ``word_starts``); ``idx`` lets the collator seed each sequence's mask.

    Memory-mapped: opening a 100M-token set costs nothing.
    """

    def __init__(self, prefix: str | os.PathLike, limit: int | None = None):
        prefix = Path(prefix)
        self.tokens = np.load(prefix.with_name(f"{prefix.name}.tokens.npy"), mmap_mode="r")
        self.offsets = np.load(prefix.with_name(f"{prefix.name}.offsets.npy"))
        ws = prefix.with_name(f"{prefix.name}.wordstarts.npy")
        self.word_starts = np.load(ws, mmap_mode="r") if ws.is_file() else None
        self.n = len(self.offsets) - 1 if limit is None else min(limit, len(self.offsets) - 1)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        import torch

        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        item = {"input_ids": torch.from_numpy(self.tokens[a:b].astype(np.int64)), "idx": i}
        if self.word_starts is not None:
            item["word_starts"] = torch.from_numpy(self.word_starts[a:b].astype(np.int64))
        return item

    def n_tokens(self) -> int:
        return int(self.offsets[self.n])
