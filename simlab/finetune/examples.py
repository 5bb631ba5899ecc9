"""The ten example pairs of kexue.fm/archives/8541 and a quick held-out score, for model cards and reports.

``PUBLISHED_FT`` are the cosines the post prints for RoFormer-Sim-FT (base; the small model "almost identical"),
spec clue_sim.md §2.2. Cosines here come from simlab's own :class:`~simlab.encode.Encoder` on the given pooling,
the same path ``simlab eval`` uses.

>>> len(EXAMPLE_PAIRS), EXAMPLE_PAIRS[3]
(10, ('我喜欢北京', '我不喜欢北京', 0.5291042))
"""

from __future__ import annotations

import numpy as np

__all__ = ["EXAMPLE_PAIRS", "example_cosines", "heldout_scores"]

EXAMPLE_PAIRS: list[tuple[str, str, float]] = [  # (text1, text2, published RoFormer-Sim-FT cosine), 8541
    ("今天天气不错", "今天天气很好", 0.9769838),
    ("今天天气不错", "今天天气不好", 0.62359834),
    ("我喜欢北京", "我很喜欢北京", 0.9921096),
    ("我喜欢北京", "我不喜欢北京", 0.5291042),
    ("电影不错", "电影很好", 0.96764225),
    ("电影不错", "电影不好", 0.6312722),
    ("红色的苹果", "绿色的苹果", 0.6974633),
    ("给我推荐一款红色的车", "给我推荐一款黑色的车", 0.7191832),
    ("给我推荐一款红色的车", "推荐一辆红车", 0.9866457),
    ("给我推荐一款红色的车", "麻烦来一辆红车", 0.9460306),
]


def example_cosines(encoder, pooling: str) -> list[float]:
    """Cosine of each of the ten pairs under ``pooling`` (maxlen 64 as ``test/retrieval.py``)."""
    from simlab.evaluate.metrics import cosine_pairs

    a = encoder.encode([p[0] for p in EXAMPLE_PAIRS], pooling=pooling, max_length=64)  # (10, D)
    b = encoder.encode([p[1] for p in EXAMPLE_PAIRS], pooling=pooling, max_length=64)  # (10, D)
    return [float(c) for c in cosine_pairs(a, b)]


def heldout_scores(encoder, pooling: str, tasks, data_dir=None, split: str = "test", limit: int | None = None,
                   seed: int = 0, batch_size: int = 64, whiten=()) -> dict[str, dict]:
    """Spearman ×100 of plain cosine (no whitening) per task on ``split``; ``limit`` scores a seeded random
    subset of that many pairs per task (for short ablation runs; ``None`` = every pair, as ``simlab eval``).

    ``whiten``: settings (``"full"`` or an int k) also scored with BERT-whitening fitted on the scored sentences
    themselves (the study's fit-on-test regime, on the subset), under ``"whitened"``; a k above the vector
    dimension is left out (recorded as None).

    Returns ``{task: {"spearman": ×100, "pairs": n[, "whitened": {setting: ×100}]}}``.
    """
    from simlab.data import get_task, load_split
    from simlab.evaluate.metrics import cosine_pairs, spearman

    out = {}
    for task in tasks:
        spec = get_task(task)
        ps = load_split(spec.name, split, data_dir)
        idx = np.arange(len(ps))
        if limit is not None and limit < len(ps):
            idx = np.sort(np.random.default_rng(seed).choice(len(ps), size=limit, replace=False))
        s1 = [ps.sentences1[i] for i in idx]
        s2 = [ps.sentences2[i] for i in idx]
        texts = list(dict.fromkeys(s1 + s2))
        row = {s: i for i, s in enumerate(texts)}
        vecs = encoder.encode(texts, pooling=pooling, max_length=spec.max_length, batch_size=batch_size)  # (U, D)
        r1, r2 = [row[s] for s in s1], [row[s] for s in s2]
        cos = cosine_pairs(vecs[r1], vecs[r2])
        out[spec.name] = {"spearman": 100 * spearman(cos, ps.scores[idx]), "pairs": int(len(idx))}
        if whiten:
            out[spec.name]["whitened"] = _whitened(vecs, r1, r2, ps.scores[idx], whiten)
    return out


def _whitened(vecs, r1, r2, gold, settings) -> dict:
    """{setting: Spearman ×100} with whitening fitted on ``vecs`` (kexue.fm/archives/8069)."""
    from simlab.evaluate.metrics import cosine_pairs, spearman
    from simlab.whitening import Whitening

    d = vecs.shape[1]
    full = Whitening().fit(vecs)  # one pass over the vectors; each k reuses its moment statistics
    res = {}
    for setting in settings:
        k = None if setting == "full" else int(setting)
        if k is not None and k > d:
            res[str(setting)] = None
            continue
        w = full if k is None else full.with_params(n_components=k)
        y = w.transform(vecs)  # (U, k), L2-normalised
        res[str(setting)] = 100 * spearman(cosine_pairs(y[r1], y[r2]), gold)
    return res
