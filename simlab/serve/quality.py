"""The STS quality of the served vectors per ``dimensions`` k, measured at start-up, for ``GET /info``.

When ``--fit-whitening TASK`` fits the whitening on every split of an STS task, the vectors of that task's scored
split are already among the fitted ones, so the Spearman of every k costs one projection and running sums, no
extra encoding: cos_k(a, b) over the first k whitened components (kexue.fm/archives/8069; arXiv 2103.15316 §3.3),
through the same scorer as ``simlab eval`` (:func:`simlab.evaluate.scoring.cosines_by_k`, ``SplitScorer``). The
number is in-sample for the whitening (fitted on all splits, test included, as the study's ``--fit-on all``), which
``/info`` says. A whitening from a file carries no measurement: ``/info`` then names the command that gives one.

>>> q = quality_by_k("STS-B", None, texts, X, white, [32, 64, 384])        # doctest: +SKIP
>>> q["by_k"]["64"], q["raw"]                                               # doctest: +SKIP
(77.1, 72.4)
"""

from __future__ import annotations

import numpy as np

__all__ = ["quality_by_k", "NOT_MEASURED"]

NOT_MEASURED = ("not measured for a whitening file; fit at start-up on an STS task (--fit-whitening TASK) to have it "
                "here, or run `simlab eval --model M --pooling P --whiten full --k K --tasks TASK` for each k")


def quality_by_k(task: str, data_dir, texts: list[str], X: np.ndarray, white, ks: list[int]) -> dict:
    """Spearman ×100 of the task's scored split at each k (whitened, L2-normalised cosine) and unwhitened
    (``raw``); ``texts``/``X`` are the sentences and pooled vectors the whitening was fitted on, and must hold every
    sentence of that split."""
    from simlab.data import get_task, load_split
    from simlab.evaluate.metrics import SplitScorer, cosine_pairs
    from simlab.evaluate.scoring import cosines_by_k

    spec = get_task(task)
    ps = load_split(spec.name, spec.eval_split, data_dir)
    row = {t: i for i, t in enumerate(texts)}
    r1 = np.array([row[s] for s in ps.sentences1], dtype=np.int64)  # (N,)
    r2 = np.array([row[s] for s in ps.sentences2], dtype=np.int64)  # (N,)
    X64 = np.asarray(X, dtype=np.float64)  # (U, d)
    Z = (X64 - white.mean_) @ white.kernel_  # (U, k_max), as Whitening.transform before truncation
    score = SplitScorer(ps.scores, ps.subsets)
    ks = sorted(set(int(k) for k in ks))
    by_k = {str(k): round(100 * score(c)["spearman"], 2) for k, c in zip(ks, cosines_by_k(Z, r1, r2, ks))}
    return {"task": spec.name, "split": spec.eval_split, "pairs": len(ps.scores),
            "metric": "Spearman x100 of the cosine (wmean over sub-datasets where the task has them)",
            "raw": round(100 * score(cosine_pairs(X64[r1], X64[r2]))["spearman"], 2), "by_k": by_k,
            "note": "the whitening was fitted on all splits of the task, this one included (in-sample)"}
