"""The losses of the RoFormer-Sim-FT recipe that sentence-transformers lacks (kexue.fm/archives/8541, 8454).

- :class:`MaskedSoftmaxLoss`: the SBERT head ``[u, v, |u−v|]`` with one 5-logit matrix shared by the binary and
  the NLI task (per-example group mask); ``SoftmaxLoss`` with another ``loss_fct``.
- :class:`CosALoss`, :class:`CosBLoss`, :class:`CosCLoss`: the post's three cosine losses (its ablation).
- :class:`CosineMatrixDistillLoss`: ``100 · mean((C_student − C_teacher)²)`` plus any of the above.

CoSENT is sentence-transformers' own ``CoSENTLoss``. Needs ``pip install 'simlab[finetune]'``.
"""

from simlab.finetune.losses.cos_a import CosALoss, cos_a_loss
from simlab.finetune.losses.cos_b import CosBLoss, cos_b_loss
from simlab.finetune.losses.cos_c import CosCLoss, cos_c_loss
from simlab.finetune.losses.distill import CosineMatrixDistillLoss, cosine_matrix, cosine_matrix_distill
from simlab.finetune.losses.masked_softmax import (
    MaskedSoftmaxLoss,
    group_mask,
    masked_group_cross_entropy,
    sbert_features,
)

__all__ = [
    "CosALoss", "CosBLoss", "CosCLoss", "CosineMatrixDistillLoss", "MaskedSoftmaxLoss", "cos_a_loss", "cos_b_loss",
    "cos_c_loss", "cosine_matrix", "cosine_matrix_distill", "group_mask", "masked_group_cross_entropy",
    "sbert_features",
]
