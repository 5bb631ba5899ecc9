"""Transformer parts: rotary position embedding (1D/2D) and linear attention (kexue.fm 7546/7921/8265/8338/8397).

Import from the submodules (no re-exports here, so ``simlab.nn.linear_attention`` stays the module):

    from simlab.nn.rope import apply_rope, apply_rope_2d, RotaryEmbedding
    from simlab.nn.feature_maps import FavorPlus
    from simlab.nn.linear_attention import linear_attention, LinearAttention
"""
