"""8541 cosine loss (c): ``t·max(0.9−cos, 0) + (1−t)·max(cos−0.1, 0)``, a margin (hinge) version.

kexue.fm/archives/8541 (spec clue_sim.md §2.2), the third cosine loss the post tried: positives are pushed above
cos 0.9 and negatives below 0.1, with no gradient once they are there.

>>> import torch
>>> round(float(cos_c_loss(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0]))), 6)
0.4
"""

from __future__ import annotations

from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss
from torch import Tensor

__all__ = ["CosCLoss", "cos_c_loss", "POSITIVE_MARGIN", "NEGATIVE_MARGIN"]

POSITIVE_MARGIN = 0.9
NEGATIVE_MARGIN = 0.1


def cos_c_loss(cos: Tensor, t: Tensor) -> Tensor:
    """Mean of ``t·max(0.9−cos, 0) + (1−t)·max(cos−0.1, 0)``; ``cos`` (B,), ``t`` (B,) in {0, 1}."""
    t = t.to(cos.dtype)
    return (t * (POSITIVE_MARGIN - cos).clamp(min=0) + (1 - t) * (cos - NEGATIVE_MARGIN).clamp(min=0)).mean()


class CosCLoss(CosineSimilarityLoss):
    """``CosineSimilarityLoss`` with loss (c). Dataset columns ``sentence1, sentence2, label`` (0/1 floats).

    >>> loss = CosCLoss(model)          # doctest: +SKIP
    """

    def __init__(self, model):
        super().__init__(model, loss_fct=cos_c_loss)

    def get_config_dict(self) -> dict:
        return {"loss": "t*max(0.9-cos,0) + (1-t)*max(cos-0.1,0) (kexue.fm/archives/8541, cos-c)"}
