"""RoPE: relative identity, layouts, 2D properties, parity with HF RoFormer and HF LLaMA rotaries."""

from __future__ import annotations

import math

import pytest
import torch

from simlab.nn.rope import (
    RotaryEmbedding,
    apply_rope,
    apply_rope_2d,
    interleaved_to_half_permutation,
    rope_frequencies,
)

D = 16


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def dense_rope_matrix(pos: float, dim: int, base: float = 10000.0, layout: str = "interleaved") -> torch.Tensor:
    """R_pos as an explicit (dim, dim) block-diagonal rotation, built from the definition (8265 eq. (13))."""
    R = torch.zeros(dim, dim, dtype=torch.float64)
    for i in range(dim // 2):
        theta = base ** (-2 * i / dim)
        a, b = (2 * i, 2 * i + 1) if layout == "interleaved" else (i, i + dim // 2)
        c, s = math.cos(pos * theta), math.sin(pos * theta)
        R[a, a], R[a, b], R[b, a], R[b, b] = c, -s, s, c
    return R


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("layout", ["interleaved", "half"])
def test_matches_dense_block_diagonal_matrix(layout):
    x = torch.randn(2, 3, 7, D, dtype=torch.float64, generator=gen())
    pos = torch.tensor([0, 1, 2, 5, 11, 100, 4096], dtype=torch.float64)
    out = apply_rope(x, pos, layout=layout)
    ref = torch.stack([x[..., t, :] @ dense_rope_matrix(float(p), D, layout=layout).T for t, p in enumerate(pos)], -2)
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("layout", ["interleaved", "half"])
def test_relative_identity(layout):
    q, k = torch.randn(2, D, dtype=torch.float64, generator=gen(1))
    for m, n in [(0, 0), (3, 7), (7, 3), (100, 37), (1000, 2047)]:
        lhs = apply_rope(q[None], torch.tensor([m]), layout=layout) @ apply_rope(k[None], torch.tensor([n]), layout=layout).T
        rhs = q @ dense_rope_matrix(n - m, D, layout=layout) @ k  # qᵀ R_{n-m} k
        assert abs(lhs.item() - rhs.item()) < 1e-10
        shifted = apply_rope(q[None], torch.tensor([m + 13]), layout=layout) @ apply_rope(
            k[None], torch.tensor([n + 13]), layout=layout
        ).T
        assert abs(shifted.item() - lhs.item()) < 1e-10
    x = torch.randn(5, D, dtype=torch.float64, generator=gen(2))
    torch.testing.assert_close(apply_rope(x, torch.full((5,), 123.0)).norm(dim=-1), x.norm(dim=-1))  # orthogonal
    torch.testing.assert_close(apply_rope(x, torch.zeros(5)), x)  # R_0 = I


def test_relative_identity_breaks_for_different_positions_of_q_only():
    """The test above can fail: shifting only the query changes the score."""
    q, k = torch.randn(2, 1, D, dtype=torch.float64, generator=gen(3))
    a = apply_rope(q, torch.tensor([3])) @ apply_rope(k, torch.tensor([7])).T
    b = apply_rope(q, torch.tensor([4])) @ apply_rope(k, torch.tensor([7])).T
    assert abs(a.item() - b.item()) > 1e-3


def test_layouts_agree_after_permutation_and_differ_without():
    d = 64
    x = torch.randn(2, 4, 9, d, dtype=torch.float64, generator=gen(4))
    p = interleaved_to_half_permutation(d)
    assert p.tolist() == list(range(0, d, 2)) + list(range(1, d, 2))
    inter, half = apply_rope(x, layout="interleaved"), apply_rope(x[..., p], layout="half")
    assert (inter[..., p] - half).abs().max().item() == 0.0
    assert (apply_rope(x, layout="interleaved") - apply_rope(x, layout="half")).abs().max() > 0.5


def test_offset_equals_slicing_and_module_cache():
    x = torch.randn(1, 2, 20, D, generator=gen(5))
    full = apply_rope(x)
    torch.testing.assert_close(apply_rope(x[..., 12:, :], offset=12), full[..., 12:, :])
    rope = RotaryEmbedding(D)
    q, k = rope(x[..., :4, :], x[..., :4, :])  # caches 4 positions
    torch.testing.assert_close(q, full[..., :4, :])
    # a later call at an offset beyond the cache must grow it, not reuse a wrong table (rotary-embedding-torch #11)
    torch.testing.assert_close(rope.rotate(x[..., 12:, :], offset=12), full[..., 12:, :])
    torch.testing.assert_close(rope.rotate(x[..., 5:6, :], offset=5), full[..., 5:6, :])
    assert isinstance(rope._len, int)


def test_batched_positions_broadcast():
    x = torch.randn(2, 3, 6, D, dtype=torch.float64, generator=gen(6))
    pos = torch.stack([torch.arange(6), torch.arange(6) + 10])[:, None, :]  # (B, 1, T)
    out = apply_rope(x, pos)
    torch.testing.assert_close(out[1], apply_rope(x[1], offset=10))


def test_parity_with_hf_roformer_rotary():
    from transformers.models.roformer.modeling_roformer import (
        RoFormerSelfAttention,
        RoFormerSinusoidalPositionalEmbedding,
    )

    T, d = 37, 32
    emb = RoFormerSinusoidalPositionalEmbedding(64, d)
    emb.weight.data = emb.create_weight()
    sinusoidal_pos = emb(torch.Size([1, T]), cache_length=5)[None, None]  # positions 5 .. 41
    q, k, v = torch.randn(3, 2, 4, T, d, generator=gen(7)).unbind(0)
    hq, hk, hv = RoFormerSelfAttention.apply_rotary_position_embeddings(sinusoidal_pos, q, k, v)
    for ours, theirs in [(apply_rope(q, offset=5), hq), (apply_rope(k, offset=5), hk), (apply_rope(v, offset=5), hv)]:
        torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-5)


def test_parity_with_hf_llama_rotate_half():
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

    d, T = 32, 25
    cfg = LlamaConfig(hidden_size=2 * d, num_attention_heads=2, head_dim=d, rope_theta=500.0)
    position_ids = torch.arange(3, 3 + T)[None]
    cos, sin = LlamaRotaryEmbedding(cfg)(torch.randn(1, T, 2 * d), position_ids)
    q, k = torch.randn(2, 1, 2, T, d, generator=gen(8)).unbind(0)
    hq, hk = apply_rotary_pos_emb(q, k, cos, sin)
    torch.testing.assert_close(apply_rope(q, offset=3, base=500.0, layout="half"), hq, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(apply_rope(k, offset=3, base=500.0, layout="half"), hk, atol=1e-5, rtol=1e-5)
    # and the interleaved layout is NOT what LLaMA code computes
    assert (apply_rope(q, offset=3, base=500.0, layout="interleaved") - hq).abs().max() > 0.1


def dense_rope2d(x: int, y: int, d: int, layout="interleaved") -> torch.Tensor:
    R = torch.zeros(d, d, dtype=torch.float64)
    R[: d // 2, : d // 2] = dense_rope_matrix(x, d // 2, layout=layout)
    R[d // 2 :, d // 2 :] = dense_rope_matrix(y, d // 2, layout=layout)
    return R


@pytest.mark.parametrize("layout", ["interleaved", "half"])
def test_rope2d_matches_block_form_and_relativity(layout):
    xs, ys = torch.tensor([0, 1, 3, 2, 7]), torch.tensor([0, 4, 1, 2, 5])
    v = torch.randn(5, D, dtype=torch.float64, generator=gen(9))
    out = apply_rope_2d(v, xs, ys, layout=layout)
    ref = torch.stack([v[t] @ dense_rope2d(int(xs[t]), int(ys[t]), D, layout).T for t in range(5)])
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=0)
    # R_{x1,y1}ᵀ R_{x2,y2} = R_{x2-x1, y2-y1} as matrices
    torch.testing.assert_close(dense_rope2d(2, 5, D, layout).T @ dense_rope2d(7, 3, D, layout), dense_rope2d(5, -2, D, layout))
    # scores invariant to a common 2D shift
    q, k = torch.randn(2, 5, D, dtype=torch.float64, generator=gen(10))
    s0 = apply_rope_2d(q, xs, ys, layout=layout) @ apply_rope_2d(k, xs, ys, layout=layout).T
    s1 = apply_rope_2d(q, xs + 3, ys - 8, layout=layout) @ apply_rope_2d(k, xs + 3, ys - 8, layout=layout).T
    torch.testing.assert_close(s0, s1, atol=1e-10, rtol=0)


def test_rope2d_reduces_to_1d_along_each_axis():
    T = 6
    x = torch.randn(1, 2, T, D, dtype=torch.float64, generator=gen(11))
    pos, zero = torch.arange(T), torch.zeros(T)
    h = D // 2
    along_x = apply_rope_2d(x, pos, zero)
    torch.testing.assert_close(along_x[..., :h], apply_rope(x[..., :h]))
    torch.testing.assert_close(along_x[..., h:], x[..., h:])
    along_y = apply_rope_2d(x, zero, pos)
    torch.testing.assert_close(along_y[..., h:], apply_rope(x[..., h:]))
    torch.testing.assert_close(along_y[..., :h], x[..., :h])
    # per-half frequency schedule θ_i = base^(-2i/(D/2)) (documented choice)
    torch.testing.assert_close(rope_frequencies(h), 10000.0 ** (-torch.arange(0, h, 2, dtype=torch.float64) / h))


def test_rope2d_commutes_is_reversible_and_treats_axes_alike():
    Rx, Ry = dense_rope2d(3, 0, D), dense_rope2d(0, 5, D)
    torch.testing.assert_close(Rx @ Ry, Ry @ Rx)
    torch.testing.assert_close(Rx @ Ry, dense_rope2d(3, 5, D))
    mats = [dense_rope2d(a, b, D) for a in range(4) for b in range(4)]  # distinct grid points -> distinct matrices
    assert all((mats[i] - mats[j]).abs().max() > 1e-3 for i in range(16) for j in range(i))
    # swap halves of q, k and swap (x, y): same score; a unit step in x and in y are alike (unlike flattening)
    q, k = torch.randn(2, 1, D, dtype=torch.float64, generator=gen(12))
    sw = lambda t: torch.cat([t[..., D // 2 :], t[..., : D // 2]], -1)  # noqa: E731
    a = apply_rope_2d(q, torch.tensor([2]), torch.tensor([5])) @ apply_rope_2d(k, torch.tensor([4]), torch.tensor([1])).T
    b = apply_rope_2d(sw(q), torch.tensor([5]), torch.tensor([2])) @ apply_rope_2d(sw(k), torch.tensor([1]), torch.tensor([4])).T
    torch.testing.assert_close(a, b)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="even"):
        apply_rope(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match="layout"):
        apply_rope(torch.randn(2, 3, 4), layout="neox")
    with pytest.raises(ValueError, match="divisible by 4"):
        apply_rope_2d(torch.randn(3, 6), torch.arange(3), torch.arange(3))
    with pytest.raises(ValueError, match="positions"):
        apply_rope(torch.randn(3, 4), torch.arange(5))
    with pytest.raises(ValueError, match="dim=8"):
        RotaryEmbedding(8).rotate(torch.randn(3, 4))
