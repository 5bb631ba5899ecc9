"""A tiny Vision Transformer with 2D RoPE, learned absolute positions, or no positions.

2D RoPE follows kexue.fm/archives/8397: patch (row r, column c) gets position (x, y) = (r, c); q and k of
every head are rotated with R_{x,y} = blockdiag(R_x on the first half, R_y on the second half) (see
simlab.nn.rope.rope_2d_tables for the per-axis frequency choice); v is left alone. Pooling is the mean over
patches, so no CLS token and no CLS-position convention is needed.

>>> import torch
>>> model = ViT(ViTConfig(pos="rope2d")).eval()
>>> model(torch.randn(5, 1, 8, 8)).shape
torch.Size([5, 10])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from simlab.nn.rope import apply_rotary, rope_2d_tables

POSITIONS = ("rope2d", "learned", "none")


@dataclass
class ViTConfig:
    image_size: int = 8
    patch_size: int = 2
    in_channels: int = 1
    num_classes: int = 10
    dim: int = 64
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 2.0
    dropout: float = 0.0
    pos: str = "rope2d"  # rope2d | learned | none
    rope_base: float = 10000.0

    def __post_init__(self):
        if self.pos not in POSITIONS:
            raise ValueError(f"pos must be one of {POSITIONS}, got {self.pos!r}")
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} not divisible by patch_size {self.patch_size}")
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} not divisible by heads {self.heads}")
        if self.pos == "rope2d" and (self.dim // self.heads) % 4:
            raise ValueError(f"2D RoPE needs a head dim divisible by 4, got {self.dim // self.heads}")

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, (H/p)·(W/p), C·p·p), patches in row-major order."""
    B, C, H, W = images.shape
    x = images.reshape(B, C, H // patch, patch, W // patch, patch)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(B, (H // patch) * (W // patch), C * patch * patch)


class Attention(nn.Module):
    def __init__(self, cfg: ViTConfig):
        super().__init__()
        self.cfg, self.heads = cfg, cfg.heads
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.proj = nn.Linear(cfg.dim, cfg.dim)
        if cfg.pos == "rope2d":  # patch (row, column) -> 2D position (x, y); tables (N, d/2) cached once
            rows, cols = torch.meshgrid(torch.arange(cfg.grid), torch.arange(cfg.grid), indexing="ij")
            cos_x, sin_x, cos_y, sin_y = rope_2d_tables(rows.flatten(), cols.flatten(), cfg.dim // cfg.heads, cfg.rope_base)
            # interleaved pairs never straddle the x/y halves, so 2D RoPE is one rotation with joined tables
            self.register_buffer("cos", torch.cat([cos_x, cos_y], -1).float(), persistent=False)  # (N, d)
            self.register_buffer("sin", torch.cat([sin_x, sin_y], -1).float(), persistent=False)  # (N, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)  # (B, H, N, d)
        if self.cfg.pos == "rope2d":
            q = apply_rotary(q, self.cos, self.sin)  # R_{x,y} q, kexue.fm/archives/8397
            k = apply_rotary(k, self.cos, self.sin)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.cfg.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(B, N, C))  # (B, N, C)


class Block(nn.Module):
    """Pre-LN transformer block."""

    def __init__(self, cfg: ViTConfig):
        super().__init__()
        hidden = int(cfg.dim * cfg.mlp_ratio)
        self.ln1, self.attn = nn.LayerNorm(cfg.dim), Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.dim)
        self.mlp = nn.Sequential(nn.Linear(cfg.dim, hidden), nn.GELU(), nn.Linear(hidden, cfg.dim), nn.Dropout(cfg.dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class ViT(nn.Module):
    """images (B, C, H, W) -> logits (B, num_classes)."""

    def __init__(self, cfg: ViTConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = nn.Linear(cfg.in_channels * cfg.patch_size**2, cfg.dim)
        if cfg.pos == "learned":
            self.pos_embed = nn.Parameter(0.02 * torch.randn(1, cfg.grid**2, cfg.dim))
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.depth)])
        self.ln_f = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        expected = (self.cfg.in_channels, self.cfg.image_size, self.cfg.image_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(f"images must be (B, {', '.join(map(str, expected))}), got {tuple(images.shape)}")
        x = self.patch_embed(patchify(images, self.cfg.patch_size))  # (B, N, dim)
        if self.cfg.pos == "learned":
            x = x + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x).mean(dim=1))  # mean-pool patches -> (B, classes)
