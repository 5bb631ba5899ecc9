"""Tokenise a corpus fast and count token ids: ``tokenizers``' batch encoder (Rust, all cores), no special
tokens, no truncation, each distinct text once.

>>> from tokenizers import Tokenizer
>>> counts, stats = count_corpus(Tokenizer.from_file("tokenizer.json"), [("a", iter(["你好"]))])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from simlab.trim.vocab import count_ids


def raw_tokenizer(tok):
    """A copy of a ``tokenizers.Tokenizer`` that neither truncates nor pads."""
    from tokenizers import Tokenizer

    raw = Tokenizer.from_str(tok.to_str())
    raw.no_truncation()
    raw.no_padding()
    return raw


def encode_ids(tok, texts: Sequence[str], batch_size: int = 8192) -> list[list[int]]:
    """Token ids of each text without special tokens (``encode_batch_fast``: no offsets computed)."""
    out: list[list[int]] = []
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
    for i in range(0, len(texts), batch_size):
        out.extend(e.ids for e in encode(list(texts[i:i + batch_size]), add_special_tokens=False))
    return out


def _batches(texts: Iterator[str], seen: set, size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for t in texts:
        if t not in seen:
            seen.add(t)
            batch.append(t)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def count_corpus(tok, sources: Iterable[tuple[str, Iterator[str]]], vocab_size: int,
                 batch_size: int = 8192) -> tuple[np.ndarray, dict]:
    """``(counts, stats)``: how often each id occurs over the distinct texts of ``sources``, and per source the
    distinct texts, characters and tokens (``stats[source] = {"texts", "chars", "tokens"}``)."""
    tok = raw_tokenizer(tok)
    counts = np.zeros(vocab_size, dtype=np.int64)
    seen: set[str] = set()
    stats: dict[str, dict[str, int]] = {}
    for name, texts in sources:
        s = stats.setdefault(name, {"texts": 0, "chars": 0, "tokens": 0})
        for batch in _batches(texts, seen, batch_size):
            ids = encode_ids(tok, batch, batch_size)
            counts = count_ids(ids, vocab_size, counts)
            s["texts"] += len(batch)
            s["chars"] += sum(map(len, batch))
            s["tokens"] += sum(map(len, ids))
    return counts, stats
