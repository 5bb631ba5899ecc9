"""Transformer parts: rotary position embedding (1D/2D) and linear attention (kexue.fm 7546/7921/8265/8338/8397)."""

from __future__ import annotations

from simlab.nn.feature_maps import FavorPlus, get_feature_map
from simlab.nn.linear_attention import LinearAttention, linear_attention, linear_attention_step
from simlab.nn.rope import RotaryEmbedding, apply_rope, apply_rope_2d, interleaved_to_half_permutation

__all__ = [
    "FavorPlus",
    "LinearAttention",
    "RotaryEmbedding",
    "apply_rope",
    "apply_rope_2d",
    "get_feature_map",
    "interleaved_to_half_permutation",
    "linear_attention",
    "linear_attention_step",
]
