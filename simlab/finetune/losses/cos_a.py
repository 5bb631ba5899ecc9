"""8541 cosine loss (a): ``t·(cos−1)² + (1−t)·cos²``, i.e. pull positives to cos 1 and negatives to cos 0.

kexue.fm/archives/8541 (spec clue_sim.md §2.2), the first of the three "natural" cosine losses the post tried and
found worse than the SBERT head. Since t ∈ {0, 1} it equals ``(cos − t)²``: sentence-transformers'
``CosineSimilarityLoss`` (MSE) is this loss, so that class is used with the formula as its ``loss_fct``.

>>> import torch
>>> float(cos_a_loss(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0])))
0.25
"""

from __future__ import annotations

from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss
from torch import Tensor

__all__ = ["CosALoss", "cos_a_loss"]


def cos_a_loss(cos: Tensor, t: Tensor) -> Tensor:
    """Mean of ``t·(cos−1)² + (1−t)·cos²`` over the batch; ``cos`` (B,), ``t`` (B,) in {0, 1}."""
    t = t.to(cos.dtype)
    return (t * (cos - 1) ** 2 + (1 - t) * cos**2).mean()


class CosALoss(CosineSimilarityLoss):
    """``CosineSimilarityLoss`` with loss (a). Dataset columns ``sentence1, sentence2, label`` (0/1 floats).

    >>> loss = CosALoss(model)          # doctest: +SKIP
    """

    def __init__(self, model):
        super().__init__(model, loss_fct=cos_a_loss)

    def get_config_dict(self) -> dict:
        return {"loss": "t*(cos-1)^2 + (1-t)*cos^2 (kexue.fm/archives/8541, cos-a)"}
