"""Rotary position embedding (RoPE) in one and two dimensions.

kexue.fm/archives/8265 (1D RoPE) and kexue.fm/archives/8397 (2D RoPE). For head dimension ``d`` and
position ``m`` the rotation R_m is block-diagonal with d/2 planar rotations of angle m·θ_i,

    θ_i = base^(-2i/d),  i = 0 .. d/2-1                         # 8265 eq. (15)

so that (R_m q)ᵀ(R_n k) = qᵀ R_{n-m} k (8265 eq. (11)): scores depend on positions only through n - m.

Two layouts pair the coordinates differently (both are the same rotation in a permuted basis):

* ``"interleaved"`` — pairs (0,1), (2,3), ...; Su's post, bert4keras, HF RoFormer, Meta's LLaMA code.
* ``"half"`` (rotate-half) — pairs (i, i + d/2); GPT-NeoX, HF LLaMA.

They agree after a permutation of the feature axis: ``apply_rope(x, layout="interleaved")[..., p] ==
apply_rope(x[..., p], layout="half")`` with ``p = interleaved_to_half_permutation(d)`` = [0, 2, 4, ..., 1, 3, 5, ...].
Loading weights trained with one layout into code using the other silently corrupts a model unless the q/k
projection rows are permuted the same way.

2D RoPE (8397): the first half of the features is rotated with position x, the second half with position y.
Frequency choice (documented, the post leaves it open): each half of size d/2 uses its own 1D schedule
θ_i = base^(-2i/(d/2)), i = 0 .. d/4-1, the same schedule on both axes (post 10040: "for symmetry and
simplicity"); this is rotary-embedding-torch's ``get_axial_freqs`` with ``freqs_for='lang'``.

Tables are computed in float64 on the CPU and cast to the input dtype, so long positions do not lose angle
precision in fp32/bf16.

>>> import torch
>>> q = torch.randn(1, 2, 5, 8)                     # (B, H, T, D)
>>> apply_rope(q, layout="half").shape
torch.Size([1, 2, 5, 8])
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Layout = Literal["interleaved", "half"]
LAYOUTS = ("interleaved", "half")


def _check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def rope_frequencies(dim: int, base: float = 10000.0) -> torch.Tensor:
    """θ_i = base^(-2i/dim) for i = 0 .. dim/2-1, float64 (kexue.fm/archives/8265 eq. (15)).

    >>> rope_frequencies(4, base=100.0).tolist()
    [1.0, 0.1]
    """
    if dim <= 0 or dim % 2:
        raise ValueError(f"rotary dim must be a positive even number, got {dim}")
    if base <= 0:
        raise ValueError(f"rope base must be positive, got {base}")
    return base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)


def rope_cos_sin(
    positions: torch.Tensor, dim: int, base: float = 10000.0, layout: Layout = "interleaved"
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables of shape ``(*positions.shape, dim)`` in float64, expanded for ``layout``.

    interleaved: [θ0, θ0, θ1, θ1, ...]; half: [θ0, θ1, ..., θ0, θ1, ...].
    """
    _check_layout(layout)
    theta = rope_frequencies(dim, base)  # (dim/2,)
    angles = positions.detach().to("cpu", torch.float64)[..., None] * theta  # (..., dim/2)
    if layout == "interleaved":
        angles = angles.repeat_interleave(2, dim=-1)  # (..., dim)
    else:
        angles = torch.cat([angles, angles], dim=-1)  # (..., dim)
    return angles.cos(), angles.sin()


def rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """[x0, x1, x2, x3, ...] -> [-x1, x0, -x3, x2, ...] (interleaved layout, 8265 eq. (13))."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack([-x2, x1], dim=-1).flatten(-2)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """[x_a, x_b] -> [-x_b, x_a] with halves x_a, x_b (rotate-half / NeoX layout)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, layout: Layout = "interleaved") -> torch.Tensor:
    """x ⊙ cos + rotate(x) ⊙ sin with precomputed tables broadcastable to ``x`` (8265 eq. (13))."""
    _check_layout(layout)
    rot = rotate_pairs(x) if layout == "interleaved" else rotate_half(x)
    cos, sin = cos.to(x.device, x.dtype), sin.to(x.device, x.dtype)
    return x * cos + rot * sin


def _positions(x: torch.Tensor, positions: torch.Tensor | None, offset: int | float) -> torch.Tensor:
    T = x.shape[-2]
    if positions is None:
        return torch.arange(T, dtype=torch.float64) + offset
    positions = torch.as_tensor(positions)
    if positions.shape[-1] != T:
        raise ValueError(f"positions last dim {positions.shape[-1]} != sequence length {T} of x {tuple(x.shape)}")
    return positions.to(torch.float64) + offset


def apply_rope(
    x: torch.Tensor,
    positions: torch.Tensor | None = None,
    *,
    offset: int | float = 0,
    base: float = 10000.0,
    layout: Layout = "interleaved",
) -> torch.Tensor:
    """Rotate ``x`` of shape (..., T, D) by its positions (1D RoPE, kexue.fm/archives/8265).

    ``positions``: (T,) or broadcastable (B, 1, T) for (B, H, T, D) inputs; default ``arange(T)``.
    ``offset`` is added to every position (KV-cache decoding: offset = number of cached tokens).

    >>> import torch
    >>> x = torch.randn(2, 4, 6, 16)
    >>> torch.allclose(apply_rope(x[..., 3:, :], offset=3), apply_rope(x)[..., 3:, :], atol=1e-6)
    True
    """
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., T, D), got {tuple(x.shape)}")
    cos, sin = rope_cos_sin(_positions(x, positions, offset), x.shape[-1], base, layout)  # (..., T, D)
    return apply_rotary(x, cos, sin, layout)


def rope_2d_tables(
    pos_x: torch.Tensor, pos_y: torch.Tensor, dim: int, base: float = 10000.0, layout: Layout = "interleaved"
) -> tuple[torch.Tensor, ...]:
    """(cos_x, sin_x, cos_y, sin_y), each (T, dim/2) float64: tables for the two halves of 2D RoPE."""
    if dim % 4:
        raise ValueError(f"2D RoPE needs a feature dim divisible by 4, got {dim}")
    return (*rope_cos_sin(torch.as_tensor(pos_x), dim // 2, base, layout),
            *rope_cos_sin(torch.as_tensor(pos_y), dim // 2, base, layout))


def apply_rotary_2d(x: torch.Tensor, tables: tuple[torch.Tensor, ...], layout: Layout = "interleaved") -> torch.Tensor:
    """2D RoPE with precomputed ``rope_2d_tables``: rotate x[..., :D/2] by x-position, x[..., D/2:] by y."""
    cos_x, sin_x, cos_y, sin_y = tables
    half = x.shape[-1] // 2
    if 2 * cos_x.shape[-1] != x.shape[-1]:
        raise ValueError(f"tables are for dim {2 * cos_x.shape[-1]}, x has feature dim {x.shape[-1]}")
    if layout == "interleaved":  # pairs (2i, 2i+1) never straddle the halves: one rotation, joined tables
        return apply_rotary(x, torch.cat([cos_x, cos_y], -1), torch.cat([sin_x, sin_y], -1), layout)
    return torch.cat([apply_rotary(x[..., :half], cos_x, sin_x, layout), apply_rotary(x[..., half:], cos_y, sin_y, layout)], -1)


def apply_rope_2d(
    x: torch.Tensor,
    pos_x: torch.Tensor,
    pos_y: torch.Tensor,
    *,
    base: float = 10000.0,
    layout: Layout = "interleaved",
) -> torch.Tensor:
    """2D RoPE (kexue.fm/archives/8397): x-rotation on the first D/2 features, y-rotation on the last D/2.

    R_{x,y} = blockdiag(R_x, R_y), hence R_{x1,y1}ᵀ R_{x2,y2} = R_{x2-x1, y2-y1} (8397, "relativity") and
    (x, y) is recoverable (8397, "reversibility"). Each half uses θ_i = base^(-2i/(D/2)); ``layout`` applies
    within each half. ``pos_x``/``pos_y``: (T,) grid coordinates (e.g. patch row and column). D % 4 == 0.

    >>> import torch
    >>> rows, cols = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    >>> apply_rope_2d(torch.randn(1, 2, 16, 8), rows.flatten(), cols.flatten()).shape
    torch.Size([1, 2, 16, 8])
    """
    return apply_rotary_2d(x, rope_2d_tables(pos_x, pos_y, x.shape[-1], base, layout), layout)


def interleaved_to_half_permutation(dim: int) -> torch.Tensor:
    """Index p with ``interleaved(x)[..., p] == half(x[..., p])``: p = [0, 2, ..., dim-2, 1, 3, ..., dim-1].

    Permute q/k projection output rows with p to move interleaved-trained weights to rotate-half code
    (the HF LLaMA conversion does this per head).
    """
    if dim <= 0 or dim % 2:
        raise ValueError(f"dim must be a positive even number, got {dim}")
    return torch.cat([torch.arange(0, dim, 2), torch.arange(1, dim, 2)])


class RotaryEmbedding(nn.Module):
    """1D RoPE for (B, H, T, D) queries/keys with a cached cos/sin table.

    The table covers positions [0, max_len) and grows on demand; ``offset`` slices it (so cached decoding
    never reuses a table built for another offset, cf. rotary-embedding-torch #11). The cached length is a
    plain Python int.

    >>> import torch
    >>> rope = RotaryEmbedding(16, layout="half")
    >>> q, k = torch.randn(1, 2, 5, 16), torch.randn(1, 2, 5, 16)
    >>> q2, k2 = rope(q, k)
    >>> torch.allclose(q2, apply_rope(q, layout="half"), atol=1e-6)
    True
    """

    def __init__(self, dim: int, base: float = 10000.0, layout: Layout = "interleaved"):
        super().__init__()
        rope_frequencies(dim, base)  # validates dim and base
        _check_layout(layout)
        self.dim, self.base, self.layout = dim, base, layout
        self._len = 0
        self.register_buffer("cos_cached", torch.empty(0, dim), persistent=False)
        self.register_buffer("sin_cached", torch.empty(0, dim), persistent=False)

    def tables(self, length: int, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin of shape (length, dim) for positions offset .. offset+length-1."""
        if offset < 0:
            raise ValueError(f"offset must be >= 0, got {offset}")
        end = int(offset) + int(length)
        if end > self._len:
            new_len = max(end, 2 * self._len)
            cos, sin = rope_cos_sin(torch.arange(new_len), self.dim, self.base, self.layout)
            self.cos_cached = cos.to(self.cos_cached.device, torch.float32)
            self.sin_cached = sin.to(self.sin_cached.device, torch.float32)
            self._len = new_len
        return self.cos_cached[offset:end], self.sin_cached[offset:end]

    def rotate(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Rotate one (..., T, dim) tensor whose first token sits at position ``offset``."""
        if x.shape[-1] != self.dim:
            raise ValueError(f"last dim of x is {x.shape[-1]}, RotaryEmbedding was built for dim={self.dim}")
        cos, sin = self.tables(x.shape[-2], offset)
        if x.dtype == torch.float64:  # keep full precision for float64 callers
            cos, sin = rope_cos_sin(torch.arange(x.shape[-2]) + offset, self.dim, self.base, self.layout)
        return apply_rotary(x, cos, sin, self.layout)

    def forward(self, q: torch.Tensor, k: torch.Tensor, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotate queries and keys (both starting at ``offset``)."""
        return self.rotate(q, offset), self.rotate(k, offset)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, base={self.base}, layout={self.layout!r}"
