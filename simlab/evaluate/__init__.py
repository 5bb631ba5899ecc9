"""Unsupervised STS evaluation: Spearman of cosines, with and without whitening (kexue.fm/archives/8321)."""

from simlab.evaluate.metrics import cosine_pairs, spearman, sts_scores
from simlab.evaluate.runner import embed_task, evaluate_task, score_task
from simlab.evaluate.scoring import score_poolings
from simlab.evaluate.settings import WhiteningSetting, parse_whiten
from simlab.evaluate.task_vectors import TaskVectors, prepare_task

__all__ = ["TaskVectors", "WhiteningSetting", "cosine_pairs", "embed_task", "evaluate_task", "parse_whiten",
           "prepare_task", "score_poolings", "score_task", "spearman", "sts_scores"]
