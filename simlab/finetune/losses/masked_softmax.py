"""The 8541 SBERT head: softmax over ``[u, v, |u−v|]`` with ONE 5-logit weight matrix shared by two tasks.

kexue.fm/archives/8541 and ``train/supervised.py`` of ZhuiyiTechnology/roformer-sim (spec clue_sim.md §2.2):

- features ``[u, v, |u−v|]`` (InferSent / Sentence-BERT, arXiv 1908.10084 §3), then ``Dense(5, use_bias=False)``;
- logits 0-1 are the binary task (labels 0/1), logits 2-4 NLI (labels 2/3/4 = contradiction, entailment,
  neutral);
- ``special_crossentropy``: for a binary example (y < 1.5) the NLI logits are masked, otherwise the binary
  logits are, then sparse cross-entropy. So each example gets a softmax over its own group only::

      L = −log( exp(z_y) / Σ_{j ∈ group(y)} exp(z_j) ),   group(y) = {0,1} if y < 2 else {2,3,4}

- at inference the head is dropped and u, v are compared by plain cosine.

``supervised.py`` repeats each pair's feature row twice (even/odd rows); the mean is unchanged, so it is not
repeated here.

This is sentence-transformers' ``SoftmaxLoss`` (same feature order, same trainer plumbing) with three changes:
5 labels, no bias, and the group-masked cross-entropy as its ``loss_fct``.

>>> import torch
>>> logits = torch.tensor([[2.0, 0.0, 9.0, 9.0, 9.0]])   # the NLI logits do not count for a binary label
>>> round(float(masked_group_cross_entropy(logits, torch.tensor([0]))), 4)
0.1269
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from sentence_transformers.base.losses.merged_forward import embed_columns
from sentence_transformers.sentence_transformer.losses import SoftmaxLoss
from torch import Tensor, nn

__all__ = ["GROUPS", "NUM_LABELS", "MaskedSoftmaxLoss", "group_mask", "masked_group_cross_entropy",
           "sbert_features"]

GROUPS = ((0, 2), (2, 5))  # [start, stop) of the binary and the NLI logits
NUM_LABELS = 5


def sbert_features(u: Tensor, v: Tensor) -> Tensor:
    """``[u, v, |u−v|]`` along the last axis: (B, D), (B, D) → (B, 3D), the order of SBERT's SoftmaxLoss."""
    return torch.cat([u, v, (u - v).abs()], dim=-1)  # (B, 3D)


def group_mask(labels: Tensor, num_labels: int = NUM_LABELS) -> Tensor:
    """(B,) labels → (B, num_labels) bool: True on the logits of each label's own group."""
    labels = labels.view(-1)
    cols = torch.arange(num_labels, device=labels.device)  # (C,)
    mask = torch.zeros(labels.shape[0], num_labels, dtype=torch.bool, device=labels.device)  # (B, C)
    for start, stop in GROUPS:
        in_group = (labels >= start) & (labels < stop)  # (B,)
        mask |= in_group[:, None] & (cols >= start)[None, :] & (cols < stop)[None, :]
    if not bool(mask.any(dim=1).all()):
        bad = labels[~mask.any(dim=1)][0].item()
        raise ValueError(f"label {bad} is in no group: binary labels are 0/1, NLI labels 2/3/4")
    return mask


def masked_group_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy with the other group's logits masked (``special_crossentropy`` of supervised.py).

    ``logits`` (B, 5), ``labels`` (B,) in 0..4. The masked logits get the dtype's lowest value (supervised.py
    uses −1e12, which would overflow in half precision); their softmax weight is exactly 0 either way.
    """
    labels = labels.view(-1).long()
    masked = logits.masked_fill(~group_mask(labels, logits.shape[-1]), torch.finfo(logits.dtype).min)  # (B, 5)
    return nn.functional.cross_entropy(masked.float(), labels)


class MaskedSoftmaxLoss(SoftmaxLoss):
    """sentence-transformers ``SoftmaxLoss`` with the 8541 head: 5 logits, no bias, group-masked CE.

    Train on a dataset with columns ``sentence1, sentence2, label`` (0/1 binary, 2/3/4 NLI) mixed freely.

    >>> from sentence_transformers import SentenceTransformer                   # doctest: +SKIP
    >>> model = SentenceTransformer("some/folder")                              # doctest: +SKIP
    >>> loss = MaskedSoftmaxLoss(model)                                         # doctest: +SKIP
    >>> trainer = SentenceTransformerTrainer(model=model, train_dataset=ds, loss=loss)   # doctest: +SKIP
    """

    def __init__(self, model, embedding_dimension: int | None = None):
        dim = int(embedding_dimension or model.get_embedding_dimension())
        super().__init__(model, dim, num_labels=NUM_LABELS, loss_fct=masked_group_cross_entropy)
        # supervised.py: Dense(5, use_bias=False) on [u, v, |u−v|]
        self.classifier = nn.Linear(3 * dim, NUM_LABELS, bias=False, device=model.device)

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None):
        embeddings = embed_columns(self.model, sentence_features)
        if labels is None:
            return embeddings, self.logits(*embeddings)
        return self.compute_loss_from_embeddings(embeddings, labels)

    def logits(self, u: Tensor, v: Tensor) -> Tensor:
        """(B, D), (B, D) → (B, 5) head logits."""
        return self.classifier(sbert_features(u, v).to(self.classifier.weight.dtype))

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss from already computed (u, v) embeddings (lets the distillation wrapper share one forward)."""
        u, v = embeddings
        return self.loss_fct(self.logits(u, v), labels)

    def get_config_dict(self) -> dict:
        return {"num_labels": NUM_LABELS, "features": "[u, v, |u-v|]", "bias": False,
                "loss": "group-masked cross-entropy (kexue.fm/archives/8541)"}
