"""Text <-> ids for the char-level generators: truncation, the UniLM / UniVAE layouts, detokenisation.

Layouts (segment ids in brackets):

* UniLM seq2seq (SimBERT / RoFormer-Sim, kexue.fm/archives/7427, 8454): ``[CLS] x [SEP] (0) y [SEP] (1)``.
* UniVAE (8475, bojone/univae): ``[CLS] x [SEP]`` padded to a fixed ``M`` (0), then ``[CLS] x [SEP]`` (1).
  The fixed encoder length keeps the decoder's start position from leaking the sentence length.
  :func:`univae_compact_row` drops the padding and keeps its effect: the decoder's RoPE positions start at
  ``M`` whatever the length. Padding keys are masked and padding outputs unused, so the two layouts give
  the same decoder logits (RoPE sees positions only) with ~40% fewer tokens for short questions.

>>> cut_sentence("请问借呗怎么还款？我想提前还。", 9)
'请问借呗怎么还款？'
>>> cut_sentence("请问借呗怎么还款？我想提前还。", 8)   # the first piece does not fit: cut hard
'请问借呗怎么还款'
"""

from __future__ import annotations

import re

__all__ = ["cut_sentence", "text_ids", "detokenize", "unilm_row", "univae_row", "univae_compact_row"]

_PIECE = re.compile(r"[^。！？!?；;，,\n]*[。！？!?；;，,\n]?")


def cut_sentence(text: str, max_chars: int) -> str:
    """The first punctuation-delimited piece of ``text`` that fits ``max_chars`` (bojone/univae: split at
    punctuation, take the first piece); a first piece longer than that is cut hard."""
    text = text.strip()
    out = ""
    for piece in _PIECE.findall(text):
        if not piece:
            continue
        if len(out) + len(piece) > max_chars:
            break
        out += piece
    return out or text[:max_chars]


def text_ids(tokenizer, text: str, max_tokens: int) -> list[int]:
    """Token ids of ``text`` without special tokens, truncated to ``max_tokens``."""
    return tokenizer(text, add_special_tokens=False)["input_ids"][:max_tokens]


def detokenize(tokenizer, ids) -> str:
    """Ids -> text for a char vocabulary: CJK characters joined without spaces, ``##`` pieces glued, a space
    kept only between two Latin/digit words; special tokens dropped."""
    special = set(tokenizer.all_special_ids)
    out = ""
    prev_word = False
    for tok in tokenizer.convert_ids_to_tokens([int(i) for i in ids if int(i) not in special]):
        if tok.startswith("##"):
            out += tok[2:]
            continue
        word = tok.isascii() and tok.isalnum()
        if word and prev_word:
            out += " "
        out += tok
        prev_word = word
    return out


def unilm_row(tokenizer, x_ids: list[int], y_ids: list[int]) -> tuple[list[int], list[int]]:
    """``[CLS] x [SEP] y [SEP]`` and its segment ids (0 for the source, 1 for the target)."""
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    src = [cls] + x_ids + [sep]
    tgt = y_ids + [sep]
    return src + tgt, [0] * len(src) + [1] * len(tgt)


def univae_row(tokenizer, x_ids: list[int], enc_len: int) -> tuple[list[int], list[int], list[int]]:
    """``[CLS] x [SEP]`` padded to ``enc_len`` then ``[CLS] x [SEP]``: ids, segments, attention mask."""
    cls, sep, pad = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id
    core = [cls] + x_ids + [sep]
    if len(core) > enc_len:
        raise ValueError(f"sentence of {len(x_ids)} tokens does not fit the encoder length {enc_len}")
    enc = core + [pad] * (enc_len - len(core))
    ids = enc + core
    seg = [0] * enc_len + [1] * len(core)
    att = [1] * len(core) + [0] * (enc_len - len(core)) + [1] * len(core)
    return ids, seg, att


def univae_compact_row(tokenizer, x_ids: list[int], enc_len: int) -> tuple[list[int], list[int], list[int]]:
    """``[CLS] x [SEP] [CLS] x [SEP]`` without the encoder padding: ids, segments, RoPE positions
    (encoder 0..k-1, decoder ``enc_len``..``enc_len``+k-1), equivalent to :func:`univae_row`."""
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    core = [cls] + x_ids + [sep]
    k = len(core)
    if k > enc_len:
        raise ValueError(f"sentence of {len(x_ids)} tokens does not fit the encoder length {enc_len}")
    return core + core, [0] * k + [1] * k, list(range(k)) + list(range(enc_len, enc_len + k))
