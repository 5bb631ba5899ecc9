"""GlobalPointer span scoring and the multilabel categorical cross-entropy (kexue.fm/archives/8373, 7359).

GlobalPointer (kexue.fm/archives/8373; bert4keras ``layers.GlobalPointer``) scores every (start, end) token pair
of a sequence for each of ``heads`` span types::

    [q_α; k_α] = W_α h                                   # one Dense(2·heads·head_size), split per head
    s_α(i, j)  = (R_i q_{α,i})ᵀ (R_j k_{α,j}) / sqrt(head_size)        # 8373 eq. (3) with RoPE R (8265)

RoPE makes the score depend on the relative offset j − i. Pairs with start > end (the strict lower triangle) and
pairs touching a masked token get −1e12 (bert4keras subtracts ``K.infinity()``), so they never win a softmax and
contribute exp(−1e12) = 0 to the losses below.

Losses:

- CMRC2018 (one head): softmax cross-entropy over the flattened L×L scores, target ``start·L + end``
  (bojone/CLUE-bert4keras ``cmrc2018.py`` ``globalpointer_crossentropy``).
- NER (one head per type): the multilabel categorical cross-entropy of kexue.fm/archives/7359 eq. (11),
  applied to each (batch, head) row of L×L scores::

      loss = log(1 + Σ_{neg} e^{s}) + log(1 + Σ_{pos} e^{−s})

  which makes positive cells score > 0 and negative cells < 0, so decoding is the threshold s > 0.

>>> import torch
>>> gp = GlobalPointer(hidden_size=8, heads=2, head_size=4)
>>> gp(torch.randn(3, 5, 8), torch.ones(3, 5)).shape     # (B, heads, L, L)
torch.Size([3, 2, 5, 5])
"""

from __future__ import annotations

import torch
from torch import nn

from simlab.nn.rope import apply_rope

__all__ = ["GlobalPointer", "multilabel_categorical_crossentropy", "globalpointer_span_crossentropy",
           "NEG_INF"]

NEG_INF = 1e12  # bert4keras K.infinity(): the "minus infinity" added to excluded cells


class GlobalPointer(nn.Module):
    """GlobalPointer head: (B, L, D) hidden states and a (B, L) 0/1 mask -> (B, heads, L, L) float32 scores.

    ``rope=True`` applies rotary embeddings (interleaved pairs, base 10000: bert4keras' Sinusoidal 'zero' mode);
    ``tril_mask=True`` excludes start > end. The projection is initialised like bert4keras (truncated normal,
    std 0.02, bias 0) and has a bias only when ``use_bias`` (the CLUE scripts pass ``use_bias=False``).
    """

    def __init__(self, hidden_size: int, heads: int, head_size: int, use_bias: bool = False, rope: bool = True,
                 tril_mask: bool = True):
        super().__init__()
        if head_size % 2:
            raise ValueError(f"head_size must be even for RoPE, got {head_size}")
        self.heads, self.head_size, self.rope, self.tril_mask = heads, head_size, rope, tril_mask
        self.dense = nn.Linear(hidden_size, heads * head_size * 2, bias=use_bias)
        nn.init.trunc_normal_(self.dense.weight, std=0.02, a=-0.04, b=0.04)
        if use_bias:
            nn.init.zeros_(self.dense.bias)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        B, L, _ = hidden.shape
        x = self.dense(hidden).float().view(B, L, self.heads, 2 * self.head_size)  # (B, L, H, 2d)
        q, k = x[..., : self.head_size], x[..., self.head_size:]  # (B, L, H, d) each
        q, k = q.transpose(1, 2), k.transpose(1, 2)  # (B, H, L, d)
        if self.rope:
            q, k = apply_rope(q), apply_rope(k)
        logits = torch.einsum("bhmd,bhnd->bhmn", q, k) / self.head_size**0.5  # (B, H, L, L)
        return mask_logits(logits, mask, self.tril_mask)


def mask_logits(logits: torch.Tensor, mask: torch.Tensor | None, tril_mask: bool = True) -> torch.Tensor:
    """Subtract NEG_INF from cells whose row or column token is masked, and (``tril_mask``) from start > end."""
    L = logits.shape[-1]
    if mask is not None:
        m = mask.to(logits.dtype)  # (B, L)
        pair = m[:, None, :, None] * m[:, None, None, :]  # (B, 1, L, L)
        logits = logits - (1.0 - pair) * NEG_INF
    if tril_mask:
        lower = torch.tril(torch.ones(L, L, device=logits.device, dtype=logits.dtype), diagonal=-1)  # start > end
        logits = logits - lower * NEG_INF
    return logits


def multilabel_categorical_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Per-row loss log(1 + Σ_neg e^s) + log(1 + Σ_pos e^{−s}) over the last axis (kexue.fm/archives/7359).

    ``y_true`` is 0/1 with the shape of ``y_pred``; returns the loss per row (shape ``y_pred.shape[:-1]``).

    >>> import torch
    >>> float(multilabel_categorical_crossentropy(torch.tensor([[1., 0.]]), torch.tensor([[0., 0.]]))[0])
    1.3862943649291992
    """
    y_true = y_true.to(y_pred.dtype)
    y_pred = (1.0 - 2.0 * y_true) * y_pred  # positives flip sign: −s
    y_neg = y_pred - y_true * NEG_INF  # positives out of the negative sum
    y_pos = y_pred - (1.0 - y_true) * NEG_INF  # negatives out of the positive sum
    zeros = torch.zeros_like(y_pred[..., :1])  # the "1 +" inside each log
    neg = torch.logsumexp(torch.cat([y_neg, zeros], dim=-1), dim=-1)
    pos = torch.logsumexp(torch.cat([y_pos, zeros], dim=-1), dim=-1)
    return neg + pos


def globalpointer_span_crossentropy(logits: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Mean softmax cross-entropy of (B, L, L) scores against target cells ``start·L + end`` (CMRC2018).

    >>> import torch
    >>> s = torch.zeros(1, 2, 2)                  # 4 equal cells
    >>> round(float(globalpointer_span_crossentropy(s, torch.tensor([0]), torch.tensor([1]))), 4)
    1.3863
    """
    B, L, _ = logits.shape
    target = start.long() * L + end.long()  # (B,)
    return nn.functional.cross_entropy(logits.reshape(B, L * L).float(), target)


def globalpointer_ner_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean over (batch, head) rows of the multilabel categorical cross-entropy of (B, H, L, L) scores."""
    B, H = logits.shape[:2]
    return multilabel_categorical_crossentropy(labels.reshape(B * H, -1), logits.reshape(B * H, -1).float()).mean()


__all__ += ["globalpointer_ner_loss", "mask_logits"]
