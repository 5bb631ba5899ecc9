"""Measuring similar-sentence generation (issue 13): novelty, diversity and the model's own cosine.

For each held-out input, n candidates are sampled (top-p) and scored:

* novelty: the share of candidates that are neither the input nor any training sentence;
* self-BLEU (char BLEU-4 of each candidate against the other candidates of the same input; lower = more
  diverse), averaged over inputs; distinct-1/2 over all candidates;
* the share of candidates whose encoder cosine to the input is > 0.8 (the encoder is the same model's
  pooler, as RoFormer-Sim ranks its candidates) and the mean cosine;
* the share identical to the input and the share empty.

>>> summarize_generation([{"input": "a", "candidates": ["ab", "ac"], "cos": [0.9, 0.5]}], set())  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from simlab.generate.metrics import distinct_n, self_bleu, text_key
from simlab.generate.synonyms import generate_candidates

__all__ = ["generation_records", "summarize_generation"]


_key = text_key


def generation_records(model, tokenizer, inputs: list[str], n: int = 10, top_p: float = 0.95, seed: int = 0,
                       max_len: int = 32, max_chars: int = 32) -> list[dict]:
    """One record per input: its n candidates (duplicates kept) and their cosines to the input."""
    recs = []
    for i, text in enumerate(inputs):
        cands = generate_candidates(model, tokenizer, text, n, top_p=top_p, max_len=max_len, max_chars=max_chars,
                                    seed=seed + i)
        vec = model.encode(tokenizer, [text] + cands, max_chars=max_chars)
        recs.append({"input": text, "candidates": cands, "cos": [float(c) for c in vec[1:] @ vec[0]]})
    return recs


def summarize_generation(records: list[dict], train_keys: set[str], threshold: float = 0.8) -> dict:
    """Aggregate figures over all records (see the module docstring)."""
    cands = [c for r in records for c in r["candidates"]]
    cos = np.array([c for r in records for c in r["cos"]])
    novel = [bool(_key(c)) and _key(c) != _key(r["input"]) and _key(c) not in train_keys
             for r in records for c in r["candidates"]]
    sb = [self_bleu(r["candidates"]) for r in records if len(r["candidates"]) >= 2]
    return {
        "inputs": len(records), "candidates": len(cands),
        "novelty": float(np.mean(novel)) if novel else 0.0,
        "same_as_input": float(np.mean([_key(c) == _key(r["input"]) for r in records for c in r["candidates"]])),
        "empty": float(np.mean([not _key(c) for c in cands])) if cands else 0.0,
        "unique_per_input": float(np.mean([len(set(map(_key, r["candidates"]))) for r in records])),
        "self_bleu": float(np.mean(sb)) if sb else float("nan"),
        "distinct_1": distinct_n(cands, 1), "distinct_2": distinct_n(cands, 2),
        f"share_cos_gt_{threshold}": float(np.mean(cos > threshold)) if len(cos) else 0.0,
        "mean_cos": float(cos.mean()) if len(cos) else float("nan"),
    }
