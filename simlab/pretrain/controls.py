"""Controls for the STS study of a pretrained model (Chinese STS rewards character overlap):

- the bag-of-characters baseline: each sentence is the vector of its token counts under the model's own
  tokenizer (or TF-IDF of them), compared by cosine, with and without whitening;
- the same architecture at step 0 (``<model>/step0``, written by ``simlab pretrain``).

>>> vecs = bag_of_chars(["今天天气", "天气"], tokenizer)          # doctest: +SKIP
>>> vecs.shape                                                     # doctest: +SKIP
(2, 3)
"""

from __future__ import annotations

import hashlib

import numpy as np


def bag_of_chars(texts: list[str], tokenizer, weighting: str = "count") -> np.ndarray:
    """(N, V') float32 token-count vectors over the V' tokens that occur in ``texts`` (other columns are all
    zero and change no cosine). ``weighting="tfidf"`` multiplies by idf = log((1 + N) / (1 + df)) + 1, as
    sklearn's ``TfidfTransformer(smooth_idf=True)``."""
    from scipy.sparse import csr_matrix

    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    indptr = np.cumsum([0] + [len(x) for x in ids])
    cols = np.fromiter((t for x in ids for t in x), dtype=np.int64, count=int(indptr[-1]))
    m = csr_matrix((np.ones(len(cols), dtype=np.float64), cols, indptr), shape=(len(texts), len(tokenizer)))
    m.sum_duplicates()
    used = np.unique(m.indices)
    m = m[:, used]
    if weighting == "tfidf":
        df = np.bincount(m.indices, minlength=m.shape[1])
        m = m.multiply(np.log((1 + len(texts)) / (1 + df)) + 1).tocsr()
    elif weighting != "count":
        raise ValueError(f"weighting must be count or tfidf, got {weighting!r}")
    return m.toarray().astype(np.float32)


def boc_model_info(tokenizer_dir: str, weighting: str, dim: int) -> dict:
    """The ``model`` block of a bag-of-characters record (same fields as ``Encoder.info()``)."""
    name = "bag-of-chars" + ("" if weighting == "count" else f"-{weighting}")
    h = hashlib.sha256(str(tokenizer_dir).encode()).hexdigest()[:12]
    return {"name": name, "path": str(tokenizer_dir), "has_pooler": False, "dim": dim,
            "identity": f"{name}@{h}", "engine": "numpy", "precision": "fp32"}
