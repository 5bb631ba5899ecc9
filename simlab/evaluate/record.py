"""The result record of one cell (task × model × pooling × whitening setting), shaped like an mteb result.

``main_score`` is the Spearman correlation of the eval split (kexue.fm/archives/8321 reports it ×100); every
split's scores are kept, with their plain and size-weighted averages.

>>> rec = build_record(tv, "cls", WhiteningSetting("full"), 384, {"test": scores}, model, "test", "", 0.1)  # doctest: +SKIP
>>> rec["whitening"]["k"], rec["main_score"] == scores["spearman"]                     # doctest: +SKIP
(384, True)
"""

from __future__ import annotations

import numpy as np

from simlab.data import get_task
from simlab.evaluate.settings import WhiteningSetting
from simlab.evaluate.task_vectors import TaskVectors

LANGUAGES = {"zh": ["cmn-Hans"], "en": ["eng-Latn"]}


def build_record(tv: TaskVectors, pooling: str, setting: WhiteningSetting, k: int | None, split_scores: dict,
                 model: dict, main_split: str, prefix: str, seconds: float) -> dict:
    """The mteb-shaped result record of one cell from its per-split ``sts_scores`` dicts."""
    spec = get_task(tv.task)
    scores = {split: [{"hf_subset": "default", "languages": LANGUAGES[spec.language],
                       "main_score": s["spearman"], "cosine_spearman": s["spearman"], **s}]
              for split, s in split_scores.items()}
    sizes = np.array([len(tv.splits[s]) for s in scores], dtype=np.float64)
    values = np.array([scores[s][0]["spearman"] for s in scores])
    return {
        "task_name": tv.task,
        "language": spec.language,
        "model": model,
        "pooling": pooling,
        "whitening": {"setting": setting.label, "k": k, "fit_on": tv.fit_on if k else None,
                      "n_fit": int(len(tv.fit_rows)) if k else None,
                      **({"beta": setting.beta, "gamma": setting.gamma}  # kexue.fm/archives/9079, when not 1, 1
                         if k and setting.params != (1.0, 1.0) else {})},
        "max_length": tv.max_length,
        "prefix": prefix,
        "eval_split": main_split,
        "main_score": scores[main_split][0]["main_score"],
        "scores": scores,
        "split_avg": {"avg": float(values.mean()), "w-avg": float(values @ sizes / sizes.sum())},
        "skipped_lines": sum(len(ps.skipped) for ps in tv.splits.values()),
        "unscored_pairs": sum(ps.unscored for ps in tv.splits.values()),
        "evaluation_time": tv.encode_seconds + seconds,
        "mteb_version": None,
        "dataset_revision": None,
    }
