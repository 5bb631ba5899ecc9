"""Unsupervised STS evaluation: Spearman of cosines, with and without whitening (kexue.fm/archives/8321)."""

from simlab.evaluate.metrics import cosine_pairs, spearman, sts_scores
from simlab.evaluate.runner import embed_task, evaluate_task, prepare_task, score_task
from simlab.evaluate.settings import WhiteningSetting, parse_whiten

__all__ = ["WhiteningSetting", "cosine_pairs", "embed_task", "evaluate_task", "parse_whiten", "prepare_task",
           "score_task", "spearman", "sts_scores"]
