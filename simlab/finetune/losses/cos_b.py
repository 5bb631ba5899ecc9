"""8541 cosine loss (b): ``t·(cos−1)² + (1−t)·(cos+1)²``, i.e. pull positives to cos 1 and negatives to cos −1.

kexue.fm/archives/8541 (spec clue_sim.md §2.2), the second of the three cosine losses the post tried. With
t ∈ {0, 1} it equals ``(cos − (2t−1))²``.

>>> import torch
>>> float(cos_b_loss(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0])))
1.25
"""

from __future__ import annotations

from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss
from torch import Tensor

__all__ = ["CosBLoss", "cos_b_loss"]


def cos_b_loss(cos: Tensor, t: Tensor) -> Tensor:
    """Mean of ``t·(cos−1)² + (1−t)·(cos+1)²`` over the batch; ``cos`` (B,), ``t`` (B,) in {0, 1}."""
    t = t.to(cos.dtype)
    return (t * (cos - 1) ** 2 + (1 - t) * (cos + 1) ** 2).mean()


class CosBLoss(CosineSimilarityLoss):
    """``CosineSimilarityLoss`` with loss (b). Dataset columns ``sentence1, sentence2, label`` (0/1 floats).

    >>> loss = CosBLoss(model)          # doctest: +SKIP
    """

    def __init__(self, model):
        super().__init__(model, loss_fct=cos_b_loss)

    def get_config_dict(self) -> dict:
        return {"loss": "t*(cos-1)^2 + (1-t)*(cos+1)^2 (kexue.fm/archives/8541, cos-b)"}
