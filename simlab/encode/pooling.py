"""Sentence poolings over one forward pass (kexue.fm/archives/8321; bojone/BERT-whitening ``get_encoder``).

``hidden`` is the HF ``hidden_states`` tuple: index 0 = embeddings, index i = output of transformer block i.
"Layer 0" in bert4keras (the study's code) is the FIRST TRANSFORMER BLOCK, i.e. ``hidden[1]`` here.

| name            | definition                                                                 |
|-----------------|----------------------------------------------------------------------------|
| cls             | last block, position 0                                                     |
| pooler          | the study's linear pooler: ``pooler.dense(cls)`` without HF's tanh           |
| pooler-tanh     | HF ``pooler_output`` = tanh(pooler.dense(cls))                              |
| last-avg        | masked mean of the last block                                              |
| first-last-avg  | ½·(masked mean of block 1 + masked mean of the last block)  (BERT-flow's "last2avg") |
| last2avg        | ½·(masked mean of the last two blocks), as the name literally says          |

Masked means include [CLS]/[SEP] and exclude padding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# the functions only call tensor methods: importing this module must not import torch (the grid's cached rerun
# reads POOLINGS and never loads a model)
if TYPE_CHECKING:
    import torch

POOLINGS = ("cls", "pooler", "pooler-tanh", "last-avg", "first-last-avg", "last2avg")
POOLER_POOLINGS = ("pooler", "pooler-tanh")


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the non-padding tokens. h (B, T, D), mask (B, T) of 0/1 → (B, D)."""
    m = mask.to(h.dtype).unsqueeze(-1)  # (B, T, 1)
    return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


def pool(name: str, hidden: tuple[torch.Tensor, ...], mask: torch.Tensor, pooler: torch.nn.Module | None = None,
         _means: dict | None = None) -> torch.Tensor:
    """One pooling by name. ``_means`` caches masked means per layer when several poolings share a pass."""
    means = {} if _means is None else _means

    def mean_of(i: int) -> torch.Tensor:
        i = i % len(hidden)
        if i not in means:
            means[i] = masked_mean(hidden[i], mask)
        return means[i]

    last = hidden[-1]  # (B, T, D)
    if name == "cls":
        return last[:, 0]
    if name in POOLER_POOLINGS:
        if pooler is None:
            raise ValueError("this checkpoint has no pooler weights, so the 'pooler' pooling does not exist for it")
        dense = pooler.dense(last[:, 0])
        return dense if name == "pooler" else dense.tanh()
    if name == "last-avg":
        return mean_of(-1)
    if name == "first-last-avg":
        return (mean_of(1) + mean_of(-1)) / 2
    if name == "last2avg":
        return (mean_of(-2) + mean_of(-1)) / 2
    raise ValueError(f"unknown pooling {name!r}; choose from {', '.join(POOLINGS)}")


def pool_all(names, hidden, mask, pooler=None) -> dict[str, torch.Tensor]:
    """Several poolings from the same hidden states, sharing the per-layer means."""
    means: dict = {}
    return {n: pool(n, hidden, mask, pooler, means) for n in names}
