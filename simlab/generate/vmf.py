"""von Mises-Fisher latent with a fixed concentration (vMF-VAE, kexue.fm/archives/8404; used by UniVAE 8475).

Posterior vMF(μ, κ) on the unit sphere S^{d-1}, prior uniform on S^{d-1}. With κ fixed the KL is a constant
(8404), so the VAE loss is the reconstruction term alone. Sampling (8404, Wood 1994):

    w ~ p(w) ∝ e^{κw} (1 - w²)^{(d-3)/2},  w ∈ (-1, 1)          # cos(z, μ)
    ν = normalize(ε - (ε·μ) μ),  ε ~ N(0, I_d)                    # uniform direction ⟂ μ
    z = w μ + √(1 - w²) ν                                         # reparameterisation

w is drawn by inverse CDF on a fine grid (bojone/univae tabulates samples the same way). The moments have
closed forms in Bessel functions I_v (Banerjee et al. 2005, JMLR 6):

    E[w] = A_d(κ) = I_{d/2}(κ) / I_{d/2-1}(κ)
    KL(vMF ‖ U) = κ A_d(κ) + log C_d(κ) + log|S^{d-1}|,
    C_d(κ) = κ^{d/2-1} / ((2π)^{d/2} I_{d/2-1}(κ)),  |S^{d-1}| = 2 π^{d/2} / Γ(d/2)

d = 16, κ = 32: E[w] = 0.790, KL = 7.58 nats (spec dims_logreg_univae C.5).

>>> round(vmf_kl(16, 32.0), 2), round(vmf_mean_cos(16, 32.0), 3)
(7.58, 0.79)
>>> import torch
>>> s = VMFSampler(16, 32.0)
>>> z = s(torch.nn.functional.normalize(torch.randn(4, 16), dim=-1))
>>> z.shape, bool(torch.allclose(z.norm(dim=-1), torch.ones(4), atol=1e-5))
(torch.Size([4, 16]), True)
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["vmf_w_table", "vmf_kl", "vmf_mean_cos", "VMFSampler"]


def _check(dim: int, kappa: float) -> None:
    if dim < 2:
        raise ValueError(f"vMF needs dim >= 2, got {dim}")
    if not kappa > 0:
        raise ValueError(f"kappa must be > 0, got {kappa}")


def vmf_w_table(dim: int, kappa: float, grid_size: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
    """(grid, cdf) in float64 for w ∝ e^{κw}(1-w²)^{(d-3)/2} on (-1, 1): cumulative trapezoid, cdf[-1] = 1."""
    _check(dim, kappa)
    # cell midpoints keep (1 - w²)^{(d-3)/2} finite at the ends for d = 2
    edge = np.linspace(-1.0, 1.0, grid_size + 1)
    grid = 0.5 * (edge[1:] + edge[:-1])
    logp = kappa * grid + 0.5 * (dim - 3) * np.log1p(-grid * grid)
    p = np.exp(logp - logp.max())
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] + p[:-1]) * np.diff(grid))])
    cdf /= cdf[-1]
    return grid, cdf


def vmf_mean_cos(dim: int, kappa: float) -> float:
    """E[cos(z, μ)] = A_d(κ) = I_{d/2}(κ) / I_{d/2-1}(κ) (exponentially scaled Bessels, stable for large κ)."""
    from scipy.special import ive

    _check(dim, kappa)
    return float(ive(dim / 2, kappa) / ive(dim / 2 - 1, kappa))


def vmf_kl(dim: int, kappa: float) -> float:
    """KL(vMF(μ, κ) ‖ uniform on S^{d-1}) in nats; independent of μ (8404)."""
    from scipy.special import gammaln, ive

    _check(dim, kappa)
    v = dim / 2 - 1
    log_iv = math.log(ive(v, kappa)) + kappa  # log I_v(κ)
    log_c = v * math.log(kappa) - dim / 2 * math.log(2 * math.pi) - log_iv
    log_area = math.log(2.0) + dim / 2 * math.log(math.pi) - gammaln(dim / 2)
    return float(kappa * vmf_mean_cos(dim, kappa) + log_c + log_area)


class VMFSampler(nn.Module):
    """z ~ vMF(μ, κ) by the reparameterisation above; ``forward(mu) -> z`` with μ unit vectors (…, d).

    The inverse-CDF table is a non-persistent buffer (rebuilt from ``dim``, ``kappa``; never saved).
    """

    def __init__(self, dim: int, kappa: float, grid_size: int = 1 << 16):
        super().__init__()
        grid, cdf = vmf_w_table(dim, kappa, grid_size)
        self.dim, self.kappa = dim, float(kappa)
        self.register_buffer("grid", torch.from_numpy(grid), persistent=False)
        self.register_buffer("cdf", torch.from_numpy(cdf), persistent=False)

    def sample_w(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws of w = cos(z, μ), float64 (inverse CDF with linear interpolation)."""
        u = torch.rand(n, dtype=torch.float64, generator=generator).to(self.cdf.device)
        hi = torch.searchsorted(self.cdf, u).clamp(1, self.cdf.numel() - 1)
        lo = hi - 1
        c0, c1 = self.cdf[lo], self.cdf[hi]
        t = (u - c0) / (c1 - c0).clamp_min(1e-300)
        return self.grid[lo] + t * (self.grid[hi] - self.grid[lo])

    def forward(self, mu: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if mu.shape[-1] != self.dim:
            raise ValueError(f"mu has last dim {mu.shape[-1]}, sampler built for dim={self.dim}")
        flat = mu.reshape(-1, self.dim)  # (N, d)
        w = self.sample_w(flat.shape[0], generator).to(mu.dtype)[:, None]  # (N, 1)
        eps = torch.randn(flat.shape, generator=generator, dtype=torch.float32).to(mu.device, mu.dtype)
        nu = eps - (eps * flat).sum(-1, keepdim=True) * flat  # remove the μ component
        nu = nn.functional.normalize(nu, dim=-1)
        z = w * flat + torch.sqrt((1 - w * w).clamp_min(0)) * nu  # (N, d)
        return z.reshape(mu.shape)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, kappa={self.kappa}"
