"""Run a simlab RoFormer with a mask per layer, per-row RoPE positions, a pre-layer hook and a KV cache.

:class:`simlab.models.roformer.RoFormer` takes one key-padding mask for all layers. UniLM seq2seq
(SimBERT/RoFormer-Sim, kexue.fm/archives/7427, 8454) and UniVAE (8475) need a full ``(B, T, T)`` mask, different
per layer for UniVAE, the encoder's [CLS] rewritten before the latent layers, and incremental decoding. This
module walks the *same* modules (so the same weights and the HF state dict), layer by layer:

    x_0 = Embed(ids, segments)                           # (B, T, C)
    x_{l+1} = Layer_l(hook(l, x_l), mask_l)              # RoPE on q, k at each token's position

Cached decoding: ``KVCache`` holds each layer's rotated keys and values ``(B, H, S, d)`` of the tokens seen so
far; a call with new tokens appends theirs and their queries attend to ``[cache ; new]`` under the mask the
caller gives for those columns, ``(B, T_new, S + T_new)``. Because RoPE is relative, rotating each key once at
its own position is exact (kexue.fm/archives/8265 eq. (11)), so the cached logits equal a full recompute.

>>> import torch
>>> from simlab.models.roformer import RoFormer, RoFormerConfig
>>> m = RoFormer(RoFormerConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
...                             intermediate_size=32)).eval()
>>> ids = torch.randint(1, 50, (2, 5))
>>> h, cache = roformer_forward(m, ids)
>>> torch.allclose(h, m(ids), atol=1e-5), cache.length
(True, 5)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from simlab.nn.rope import apply_rotary, rope_cos_sin

__all__ = ["KVCache", "roformer_forward"]

Hook = Callable[[int, torch.Tensor], torch.Tensor]


@dataclass
class KVCache:
    """Per-layer rotated keys and values, each ``(B, H, S, d)``, and the positions ``(B, S)`` they sit at."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    positions: torch.Tensor

    @property
    def length(self) -> int:
        return int(self.positions.shape[1])

    def select(self, index: torch.Tensor) -> KVCache:
        """Rows ``index`` of the batch (beam reordering, repeating a prefix n times)."""
        return KVCache([k.index_select(0, index) for k in self.keys], [v.index_select(0, index) for v in self.values],
                       self.positions.index_select(0, index))

    def repeat_interleave(self, n: int) -> KVCache:
        """Each row n times in a row: ``[a, b] -> [a, a, b, b]`` for n = 2."""
        idx = torch.arange(self.positions.shape[0], device=self.positions.device).repeat_interleave(n)
        return self.select(idx)


def _layer_masks(masks, n_layers: int) -> Sequence[torch.Tensor | None]:
    if masks is None or isinstance(masks, torch.Tensor):
        return [masks] * n_layers
    masks = list(masks)
    if len(masks) != n_layers:
        raise ValueError(f"got {len(masks)} masks for {n_layers} layers")
    return masks


def _attend(self_attn, x, cos, sin, mask, past_k, past_v):
    """One RoFormerSelfAttention on new tokens x (B, T, C); returns y (B, T, C) and the layer's full k, v."""
    cfg = self_attn.cfg
    B, T, C = x.shape
    split = lambda t: t.view(B, T, self_attn.n_head, self_attn.head_dim).transpose(1, 2)  # noqa: E731 (B, H, T, d)
    q, k, v = split(self_attn.query(x)), split(self_attn.key(x)), split(self_attn.value(x))
    q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)  # RoPE at each token's own position (8265)
    if cfg.rotary_value:
        v = apply_rotary(v, cos, sin)
    if past_k is not None:
        k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)  # (B, H, S + T, d)
    attn_mask = None if mask is None else mask[:, None, :, :]  # (B, 1, T, S + T)
    drop = cfg.attention_probs_dropout_prob if self_attn.training else 0.0
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=drop)  # (B, H, T, d)
    return y.transpose(1, 2).reshape(B, T, C), k, v


def roformer_forward(
    model,
    input_ids: torch.Tensor,
    token_type_ids: torch.Tensor | None = None,
    *,
    positions: torch.Tensor | None = None,
    masks: torch.Tensor | Sequence[torch.Tensor | None] | None = None,
    cache: KVCache | None = None,
    hook: Hook | None = None,
) -> tuple[torch.Tensor, KVCache]:
    """Hidden states ``(B, T, C)`` of the new tokens and the grown cache.

    ``model``: a :class:`simlab.models.roformer.RoFormer` (softmax attention). ``positions`` (B, T): RoPE
    positions of the new tokens (default: ``cache.length + arange(T)``). ``masks``: None (all visible), one
    bool ``(B, T, S + T)`` for every layer, or a list with one per layer (None entries = all visible); True =
    may attend. ``hook(l, x)`` may rewrite layer l's input (UniVAE writes its latent into position 0).

    Example (incremental decoding)::

        h, cache = roformer_forward(m, prefix_ids, segs0, masks=prefix_mask)   # prefix once
        h, cache = roformer_forward(m, next_id, segs1, cache=cache)            # then one token at a time
    """
    cfg = model.config
    if cfg.attention != "softmax":
        raise ValueError("roformer_forward supports softmax attention only (the UniLM masks need a full score matrix)")
    if input_ids.ndim != 2:
        raise ValueError(f"input_ids must be (B, T), got shape {tuple(input_ids.shape)}")
    B, T = input_ids.shape
    past = 0 if cache is None else cache.length
    if positions is None:
        positions = torch.arange(past, past + T, device=input_ids.device).expand(B, T)
    if positions.shape != (B, T):
        raise ValueError(f"positions must be (B, T) = {(B, T)}, got {tuple(positions.shape)}")
    if token_type_ids is None:
        token_type_ids = torch.zeros_like(input_ids)
    layers = model.encoder.layer
    layer_masks = _layer_masks(masks, len(layers))
    for m in layer_masks:
        if m is not None and m.shape != (B, T, past + T):
            raise ValueError(f"mask shape {tuple(m.shape)} != (B, T_new, S + T_new) = {(B, T, past + T)}")

    cos, sin = rope_cos_sin(positions, cfg.head_dim, cfg.rope_base, "interleaved")  # float64 (B, T, d)
    dtype = model.embeddings.word_embeddings.weight.dtype
    cos, sin = cos.to(input_ids.device, dtype)[:, None], sin.to(input_ids.device, dtype)[:, None]  # (B, 1, T, d)

    x = model.embeddings(input_ids, token_type_ids)  # (B, T, E)
    if hasattr(model, "embeddings_project"):
        x = model.embeddings_project(x)  # (B, T, C)
    keys, values = [], []
    for l, layer in enumerate(layers):
        if hook is not None:
            x = hook(l, x)
        past_k = cache.keys[l] if cache is not None else None
        past_v = cache.values[l] if cache is not None else None
        y, k, v = _attend(layer.attention.self, x, cos, sin, layer_masks[l], past_k, past_v)
        x = layer.attention.output(y, x)  # (B, T, C)
        x = layer.output(layer.intermediate(x), x)  # (B, T, C)
        keys.append(k)
        values.append(v)
    pos = positions if cache is None else torch.cat([cache.positions, positions], dim=1)
    return x, KVCache(keys, values, pos)
