"""Cosine-matrix distillation of kexue.fm/archives/8454 (RoFormer-Sim stage 2), reused by 8541 for the -FT model.

The teacher's normalised cosine matrix over the batch is the target for the student's::

    L_sim = λ · mean_{i,j} (C_student[i, j] − C_teacher[i, j])²,   λ = 100,   C = X̂ X̂ᵀ,  X̂ = rows of X / ‖row‖

over the n × n matrix of all sentences in the batch (here both columns: n = 2B rows). In 8454 ``L_sim`` is added
to the generation loss; in simlab it is added to the supervised loss of the chosen objective (8541: "distillation
keeps the model's general behaviour"), or used alone.

sentence-transformers' ``MSELoss`` matches embeddings, not cosine matrices, so this is written here.

The teacher sees the *student's* tokenisation (the loss receives token ids, not text), so it must share the
student's tokenizer, as in 8454/8541 where teacher and student are the same architecture; the recipe checks this.

>>> import torch
>>> x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
>>> float(cosine_matrix_distill(x, x))
0.0
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from sentence_transformers.base.losses.merged_forward import embed_columns
from torch import Tensor, nn

__all__ = ["DISTILL_WEIGHT", "CosineMatrixDistillLoss", "cosine_matrix", "cosine_matrix_distill"]

DISTILL_WEIGHT = 100.0  # λ of 8454 stage2.py / 8541


def cosine_matrix(x: Tensor) -> Tensor:
    """(n, D) → (n, n) cosines of every pair of rows."""
    xn = nn.functional.normalize(x, dim=-1)  # (n, D)
    return xn @ xn.T  # (n, n)


def cosine_matrix_distill(student: Tensor, teacher: Tensor, weight: float = DISTILL_WEIGHT) -> Tensor:
    """``weight · mean((C_student − C_teacher)²)``; ``student`` (n, D), ``teacher`` (n, D') with any D'."""
    if student.shape[0] != teacher.shape[0]:
        raise ValueError(f"student has {student.shape[0]} rows, teacher {teacher.shape[0]}")
    diff = cosine_matrix(student.float()) - cosine_matrix(teacher.float())  # (n, n)
    return weight * (diff**2).mean()


class CosineMatrixDistillLoss(nn.Module):
    """``base`` loss (optional) + λ · cosine-matrix MSE to a frozen ``teacher``, from ONE student forward.

    ``base`` must offer ``compute_loss_from_embeddings(embeddings, labels)`` (``CoSENTLoss``,
    ``CosineSimilarityLoss`` and its cos-a/b/c subclasses, :class:`MaskedSoftmaxLoss` do). Returns a dict
    ``{"main": ..., "distill": ...}``; sentence-transformers' trainer sums it and logs both parts.

    >>> loss = CosineMatrixDistillLoss(student, teacher, base=MaskedSoftmaxLoss(student))   # doctest: +SKIP
    """

    def __init__(self, model, teacher, base: nn.Module | None = None, weight: float = DISTILL_WEIGHT):
        super().__init__()
        self.model = model
        self.base = base
        self.weight = float(weight)
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)  # the trainer optimises loss parameters that require grad: never the teacher
        self.teacher = teacher

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()  # no dropout in the target
        return self

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> dict[str, Tensor]:
        sentence_features = list(sentence_features)
        teacher_features = [dict(f) for f in sentence_features]  # the student's forward writes into its dicts
        embeddings = embed_columns(self.model, sentence_features)  # [(B, D)] per column
        with torch.no_grad():
            self.teacher.eval()
            target = torch.cat(embed_columns(self.teacher, teacher_features, separate_first=False), dim=0)  # (n, D')
        out = {"distill": cosine_matrix_distill(torch.cat(embeddings, dim=0), target, self.weight)}
        if self.base is not None:
            out["main"] = self.base.compute_loss_from_embeddings(embeddings, labels)
        return out

    def get_config_dict(self) -> dict:
        return {"weight": self.weight, "base": type(self.base).__name__ if self.base is not None else None,
                "loss": "weight * mean((C_student - C_teacher)^2) (kexue.fm/archives/8454)"}
