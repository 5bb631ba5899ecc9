"""Similar-sentence generation with a :class:`~simlab.generate.seq2seq.Seq2SeqSim` (SimBERT ``gen_synonyms``).

RoFormer-Sim (kexue.fm/archives/8454) generates n candidates for x by random top-p sampling (p = 0.95) from
``[CLS] x [SEP]``, removes duplicates and x itself, encodes x and the candidates with the same model's
encoder and returns the k candidates most cosine-similar to x. The prompt is run once; the n candidates
share its KV cache (repeated n times) and each step feeds one token per candidate.

>>> gen_synonyms(model, tokenizer, "今天天气怎么样", n=20, k=5)            # doctest: +SKIP
[('今天的天气怎么样', 0.93), ...]
"""

from __future__ import annotations

import unicodedata

import torch

from simlab.generate.cached_step import make_step, start
from simlab.generate.decoding import sample
from simlab.generate.text import detokenize, text_ids

__all__ = ["generate_candidates", "gen_synonyms", "banned_ids"]


def banned_ids(tokenizer) -> list[int]:
    """Ids never generated: special tokens and ``[unusedN]``-style placeholders, all but [SEP] (the end)."""
    ids = set(tokenizer.all_special_ids)
    ids.update(i for tok, i in tokenizer.get_vocab().items() if len(tok) > 2 and tok[0] == "[" and tok[-1] == "]")
    ids.discard(tokenizer.sep_token_id)
    return sorted(ids)


def _key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


@torch.no_grad()
def generate_candidates(model, tokenizer, text: str, n: int = 10, *, top_p: float = 0.95, max_len: int = 32,
                        max_chars: int = 32, seed: int | None = None, temperature: float = 1.0) -> list[str]:
    """n sampled continuations of ``[CLS] text [SEP]`` (duplicates kept), each ending at [SEP] or ``max_len``."""
    model.eval()
    bb = model.backbone
    dev = bb.roformer.embeddings.word_embeddings.weight.device
    ids = [tokenizer.cls_token_id] + text_ids(tokenizer, text, max_chars) + [tokenizer.sep_token_id]
    ids_t = torch.tensor([ids], device=dev)
    logits0, state = start(bb, ids_t, torch.zeros_like(ids_t))  # all segment 0: the prompt is bidirectional
    state = state.repeat_interleave(n)
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    out = sample(make_step(bb), logits0.expand(n, -1), state, max_len, tokenizer.sep_token_id, top_p=top_p,
                 temperature=temperature, generator=gen, banned=banned_ids(tokenizer))
    return [detokenize(tokenizer, seq) for seq in out]


@torch.no_grad()
def gen_synonyms(model, tokenizer, text: str, n: int = 100, k: int = 20, *, top_p: float = 0.95,
                 max_len: int = 32, max_chars: int = 32, seed: int | None = None) -> list[tuple[str, float]]:
    """Up to k ``(candidate, cosine to text)`` pairs, best first: n samples, de-duplicated, ``text`` itself
    and empty strings removed, ranked by the model's own encoder (SimBERT / RoFormer-Sim ``gen_synonyms``)."""
    cands = generate_candidates(model, tokenizer, text, n, top_p=top_p, max_len=max_len, max_chars=max_chars,
                                seed=seed)
    seen, uniq = {_key(text)}, []
    for c in cands:
        kc = _key(c)
        if kc and kc not in seen:
            seen.add(kc)
            uniq.append(c)
    if not uniq:
        return []
    vecs = model.encode(tokenizer, [text] + uniq, max_chars=max_chars)  # (1 + m, C), unit rows
    cos = vecs[1:] @ vecs[0]
    order = cos.argsort()[::-1][:k]
    return [(uniq[i], float(cos[i])) for i in order]
