"""``--objective mnrl``: in-batch negatives, the objective BGE, text2vec's BGE mode and sentence-transformers train
with (issue 22).

For a batch of rows (aᵢ, pᵢ[, nᵢ₁ … nᵢₖ]) the loss is the cross-entropy of picking pᵢ for aᵢ among every positive
and negative in the batch, on cosines scaled by 20 (temperature 0.05)::

    L = −1/B Σᵢ log( exp(20·cos(aᵢ, pᵢ)) / Σ_{d ∈ {p₁..p_B, n₁₁..n_Bk}} exp(20·cos(aᵢ, d)) )

(Henderson et al. 2017, "Efficient Natural Language Response Suggestion for Smart Reply", §4.4; sentence-
transformers' ``MultipleNegativesRankingLoss``). With ``--mini-batch-size`` it is ``CachedMultipleNegativesRanking
Loss`` (GradCache: Gao et al. 2021, "Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup"):
the same loss and gradients, with activations held for one mini-batch at a time, so a large batch fits in memory.

Rows come from the positively labelled pairs (:mod:`simlab.finetune.triplets`), negatives from
:mod:`simlab.finetune.mining`. The mined negatives are written once to ``<checkpoints>/hard_negatives.jsonl``
(with the counts) and read back on ``--resume``, so a resumed run trains on exactly the same rows.

>>> rows = mnrl_columns(["a", "b"], ["a2", "b2"], [["x"], ["y"]])
>>> sorted(rows), rows["negative_1"]
(['anchor', 'negative_1', 'positive'], ['x', 'y'])
"""

from __future__ import annotations

import json
from pathlib import Path

from simlab.errors import DataError, TrainingError

__all__ = ["MINED_FILE", "build_mnrl_rows", "mnrl_columns", "mnrl_loss"]

MINED_FILE = "hard_negatives.jsonl"
FORMAT = "simlab-hard-negatives"


def mnrl_columns(anchors: list[str], positives: list[str], negatives: list[list[str]] | None) -> dict:
    """The dataset columns: anchor, positive, negative_1 … negative_k (sentence-transformers' MNRL layout)."""
    columns = {"anchor": list(anchors), "positive": list(positives)}
    for j in range(len(negatives[0]) if negatives else 0):
        columns[f"negative_{j + 1}"] = [row[j] for row in negatives]
    return columns


def mnrl_loss(model, mini_batch_size: int | None = None):
    """``MultipleNegativesRankingLoss`` (scale 20), or its cached variant with ``mini_batch_size``."""
    from sentence_transformers.sentence_transformer.losses import (
        CachedMultipleNegativesRankingLoss,
        MultipleNegativesRankingLoss,
    )

    if mini_batch_size:
        return CachedMultipleNegativesRankingLoss(model, mini_batch_size=mini_batch_size)
    return MultipleNegativesRankingLoss(model)


def _write_mined(path: Path, anchors: list[str], positives: list[str], negatives: list[list[str]],
                 stats: dict) -> None:
    from simlab.io import atomic_write_text

    lines = [json.dumps({"format": FORMAT, "stats": stats}, ensure_ascii=False)]
    lines += [json.dumps({"anchor": a, "positive": p, "negatives": n}, ensure_ascii=False)
              for a, p, n in zip(anchors, positives, negatives)]
    atomic_write_text(path, "\n".join(lines) + "\n")


def _read_mined(path: Path, anchors: list[str], positives: list[str], n: int) -> tuple[list[list[str]], dict]:
    """The negatives written by an earlier invocation of this run; any mismatch names the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        head = json.loads(lines[0])
        rows = [json.loads(line) for line in lines[1:]]
    except (ValueError, UnicodeDecodeError, IndexError) as e:
        raise DataError(f"{path}: damaged hard-negative file ({e}); delete it to mine again") from None
    if not isinstance(head, dict) or head.get("format") != FORMAT or len(rows) != len(anchors):
        raise DataError(f"{path}: not this run's hard negatives ({len(rows)} rows for {len(anchors)} pairs); "
                        "delete it to mine again")
    for i, (row, a, p) in enumerate(zip(rows, anchors, positives), 2):
        if not isinstance(row, dict) or (row.get("anchor"), row.get("positive")) != (a, p) \
                or len(row.get("negatives", [])) != n:
            raise DataError(f"{path}:{i}: does not match this run's pair ({a!r}, {p!r}, {n} negatives); delete the "
                            "file to mine again")
    return [row["negatives"] for row in rows], dict(head.get("stats", {}))


def build_mnrl_rows(cfg, data, encoder, folder: Path, log) -> tuple[object, dict, dict]:
    """``(Dataset, paraphrase groups, counts)`` for ``--objective mnrl``: positive pairs, plus
    ``cfg.hard_negatives`` mined negatives each (read from ``folder/hard_negatives.jsonl`` when present)."""
    from datasets import Dataset

    from simlab.finetune.triplets import paraphrase_groups, positive_pairs

    anchors, positives = positive_pairs([data.binary, data.nli])
    if not anchors:
        raise TrainingError("--objective mnrl: no positive pairs (binary label 1 or NLI entailment) in --data")
    groups = paraphrase_groups(anchors, positives)
    stats = {"positive_pairs": len(anchors), "paraphrase_groups": len(set(groups.values()))}
    negatives = None
    if cfg.hard_negatives:
        negatives, mined = _negatives(cfg, data, encoder, anchors, positives, groups, Path(folder) / MINED_FILE,
                                      log)
        stats["mining"] = mined
    return Dataset.from_dict(mnrl_columns(anchors, positives, negatives)), groups, stats


def _negatives(cfg, data, encoder, anchors, positives, groups, path: Path, log) -> tuple[list[list[str]], dict]:
    from simlab.encode.cache import VectorCache
    from simlab.finetune.mining import mine_hard_negatives, parse_range
    from simlab.finetune.triplets import training_sentences

    if path.is_file():
        log(f"hard negatives: reusing {path}")
        return _read_mined(path, anchors, positives, cfg.hard_negatives)
    lo, hi = parse_range(cfg.mine_range)
    corpus = training_sentences([data.binary, data.nli])
    log(f"mining {cfg.hard_negatives} hard negative(s) per pair from ranks {lo}-{hi} among {len(corpus):,} training "
        f"sentences with the base model ({cfg.pooling}, faiss flat inner product)")
    vectors = VectorCache().embed(encoder, corpus, [cfg.pooling], cfg.max_length)[cfg.pooling]  # (N, D)
    negatives, mined = mine_hard_negatives(vectors, corpus, anchors, groups, cfg.hard_negatives, lo, hi, cfg.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_mined(path, anchors, positives, negatives, mined)
    return negatives, mined
