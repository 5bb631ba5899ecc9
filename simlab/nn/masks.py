"""Attention masks that turn one bidirectional Transformer into a seq2seq model or an autoencoder.

All masks are boolean ``(B, T, T)`` tensors, ``mask[b, i, j] = True`` when query i may attend to key j,
built from ``segment_ids`` (0 = source / encoder half, 1 = target / decoder half) with the cumsum rule of
bert4keras:

* **UniLM** (Dong et al. 2019; SimBERT kexue.fm/archives/7427, RoFormer-Sim 8454): ``idx = cumsum(segment_ids)``;
  i sees j iff ``idx_j <= idx_i``. Source tokens (idx 0) see the whole source and no target; target tokens see
  the whole source and the target up to themselves. All-zero segments give a fully visible mask.
* **UniAE** (UniVAE, kexue.fm/archives/8475, ``UniAE_Mask`` in bojone/univae): i sees j iff
  ``seg_j == seg_i and idx_j <= idx_i``, plus column 0 (the source's [CLS]) visible to everyone. The decoder's
  only view of the source is the [CLS] vector.
* **independent** (8475, the lower k layers): the UniAE rule without column 0: the halves never meet.

``attention_mask`` (B, T) with 0 on padding hides padded keys. A query row left with no visible key (a padded
query under the independent mask, say) is given its own position, so softmax never sees an empty row;
such rows are padding and their outputs are never used.

>>> import torch
>>> seg = torch.tensor([[0, 0, 1, 1]])
>>> unilm_mask(seg)[0].int().tolist()
[[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]
>>> uniae_mask(seg)[0].int().tolist()
[[1, 1, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 1, 1]]
>>> independent_mask(seg)[0].int().tolist()
[[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]]
"""

from __future__ import annotations

import torch

__all__ = [
    "unilm_mask",
    "uniae_mask",
    "independent_mask",
    "univae_layer_masks",
    "additive_mask",
]


def _check(segment_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> None:
    if segment_ids.ndim != 2:
        raise ValueError(f"segment_ids must be (B, T), got shape {tuple(segment_ids.shape)}")
    if attention_mask is not None and attention_mask.shape != segment_ids.shape:
        raise ValueError(f"attention_mask shape {tuple(attention_mask.shape)} != segment_ids shape "
                         f"{tuple(segment_ids.shape)}")


def _finish(allowed: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Hide padded keys; give empty rows their diagonal (padding rows only)."""
    if attention_mask is not None:
        allowed = allowed & attention_mask.bool()[:, None, :]  # (B, T, T)
    empty = ~allowed.any(-1)  # (B, T)
    if empty.any():
        eye = torch.eye(allowed.shape[-1], dtype=torch.bool, device=allowed.device)
        allowed = allowed | (empty[:, :, None] & eye)
    return allowed


def unilm_mask(segment_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """UniLM seq2seq mask: ``idx = cumsum(seg)``, i sees j iff ``idx_j <= idx_i`` (bert4keras ``UniLM_Mask``).

    ``segment_ids`` (B, T) in {0, 1}: ``[CLS] x [SEP]`` 0, ``y [SEP]`` 1. Returns bool (B, T, T).

    >>> import torch
    >>> unilm_mask(torch.zeros(1, 3, dtype=torch.long)).all().item()
    True
    """
    _check(segment_ids, attention_mask)
    idx = torch.cumsum(segment_ids.long(), dim=1)  # (B, T)
    allowed = idx[:, None, :] <= idx[:, :, None]  # (B, T, T): [b, i, j] = idx_j <= idx_i
    return _finish(allowed, attention_mask)


def uniae_mask(
    segment_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, first: bool = True
) -> torch.Tensor:
    """UniAE mask (8475): same segment and ``idx_j <= idx_i``; with ``first`` also column 0 for everyone.

    Encoder (seg 0): bidirectional within the encoder. Decoder (seg 1): causal within the decoder, plus the
    encoder's position 0 when ``first``. The encoder never sees the decoder. Returns bool (B, T, T).
    """
    _check(segment_ids, attention_mask)
    seg = segment_ids.long()
    idx = torch.cumsum(seg, dim=1)  # (B, T)
    allowed = (seg[:, None, :] == seg[:, :, None]) & (idx[:, None, :] <= idx[:, :, None])  # (B, T, T)
    if first:
        allowed[:, :, 0] = True
    return _finish(allowed, attention_mask)


def independent_mask(segment_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """The lower-layer mask of UniVAE (8475): encoder and decoder fully separated (UniAE without column 0)."""
    return uniae_mask(segment_ids, attention_mask, first=False)


def univae_layer_masks(
    segment_ids: torch.Tensor,
    num_layers: int,
    num_latent_layers: int,
    attention_mask: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """One mask per layer: ``independent`` for the first ``num_layers - num_latent_layers``, UniAE above.

    8475 / bojone/univae: k = 8 of 12 independent layers, latents (and the UniAE mask) in layers 8..11.
    The two distinct masks are shared objects in the returned list.
    """
    if not 0 < num_latent_layers <= num_layers:
        raise ValueError(f"num_latent_layers must be in 1..{num_layers}, got {num_latent_layers}")
    k = num_layers - num_latent_layers
    lower = independent_mask(segment_ids, attention_mask) if k else None
    upper = uniae_mask(segment_ids, attention_mask, first=True)
    return [lower] * k + [upper] * num_latent_layers


def additive_mask(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """bool (…, T, T) -> additive bias: 0 where visible, the dtype's most negative value elsewhere."""
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask.bool(), torch.finfo(dtype).min)
