"""Tiny ViT: 2D-RoPE attention vs an explicit reference, position-mode properties, validation."""

from __future__ import annotations

import math

import pytest
import torch

from simlab.models.vit import ViT, ViTConfig, patchify

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def rotation_2d(x: int, y: int, d: int, base: float) -> torch.Tensor:
    """blockdiag(R_x on the first d/2 features, R_y on the last d/2), interleaved pairs, from the definition."""
    R = torch.zeros(d, d, dtype=torch.float64)
    h = d // 2
    for offset, pos in ((0, x), (h, y)):
        for i in range(h // 2):
            a = pos * base ** (-2 * i / h)
            r, s = offset + 2 * i, offset + 2 * i + 1
            R[r, r], R[r, s], R[s, r], R[s, s] = math.cos(a), -math.sin(a), math.sin(a), math.cos(a)
    return R


def test_rope2d_attention_matches_explicit_reference():
    cfg = ViTConfig(dim=32, heads=2, pos="rope2d", rope_base=100.0)
    torch.manual_seed(0)
    att = ViT(cfg).double().blocks[0].attn
    x = torch.randn(2, cfg.grid**2, cfg.dim, dtype=torch.float64)
    B, N, C, H, d = 2, cfg.grid**2, cfg.dim, cfg.heads, cfg.dim // cfg.heads
    q, k, v = (x @ att.qkv.weight.T + att.qkv.bias).split(C, -1)
    out = torch.zeros(B, N, C, dtype=torch.float64)
    R = [rotation_2d(n // cfg.grid, n % cfg.grid, d, 100.0) for n in range(N)]  # patch n at (row, col)
    for b in range(B):
        for h in range(H):
            sl = slice(h * d, (h + 1) * d)
            qr = torch.stack([R[n] @ q[b, n, sl] for n in range(N)])
            kr = torch.stack([R[n] @ k[b, n, sl] for n in range(N)])
            w = torch.softmax(qr @ kr.T / math.sqrt(d), -1)
            out[b, :, sl] = w @ v[b, :, sl]
    ref = out @ att.proj.weight.T + att.proj.bias
    torch.testing.assert_close(att(x), ref, atol=1e-6, rtol=1e-6)  # the cached tables are fp32


def test_patchify_row_major():
    img = torch.arange(64.0).view(1, 1, 8, 8)
    p = patchify(img, 2)
    assert p.shape == (1, 16, 4)
    assert p[0, 1].tolist() == [2.0, 3.0, 10.0, 11.0]  # patch (row 0, col 1)
    assert p[0, 4].tolist() == [16.0, 17.0, 24.0, 25.0]  # patch (row 1, col 0)


def shuffle_patches(images: torch.Tensor, perm: torch.Tensor, patch: int = 2) -> torch.Tensor:
    B, C, Hh, W = images.shape
    g = Hh // patch
    blocks = images.reshape(B, C, g, patch, g, patch).permute(0, 2, 4, 1, 3, 5).reshape(B, g * g, C, patch, patch)
    blocks = blocks[:, perm].reshape(B, g, g, C, patch, patch).permute(0, 3, 1, 4, 2, 5)
    return blocks.reshape(B, C, Hh, W)


@pytest.mark.parametrize("pos", ["none", "learned", "rope2d"])
def test_only_position_free_model_ignores_patch_order(pos):
    torch.manual_seed(0)
    model = ViT(ViTConfig(pos=pos)).eval()
    with torch.no_grad():
        model.blocks[0].attn.qkv.weight.mul_(5.0)  # sharper attention so positions matter
    images = torch.randn(4, 1, 8, 8)
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = model(images), model(shuffle_patches(images, perm))
    if pos == "none":
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    else:
        assert (a - b).abs().max() > 1e-3


def test_training_step_reduces_loss_and_validation():
    torch.manual_seed(0)
    model = ViT(ViTConfig(pos="rope2d"))
    x, y = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    with pytest.raises(ValueError, match="pos"):
        ViTConfig(pos="sinusoidal")
    with pytest.raises(ValueError, match="divisible by 4"):
        ViTConfig(dim=24, heads=4, pos="rope2d")
    with pytest.raises(ValueError, match="images"):
        model(torch.randn(2, 8, 8))
