"""vMF sampler and constants: Monte Carlo moments against the Bessel closed forms and 1-D quadrature."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from simlab.generate.vmf import VMFSampler, vmf_kl, vmf_mean_cos, vmf_w_table

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N = 200_000  # Monte Carlo draws; 5 standard errors are the tolerance (a false alarm ~ 6e-7 per check)


def quad_moments(d, kappa):
    """E[w] and KL from direct quadrature of p(w) ∝ e^{κw}(1-w²)^{(d-3)/2} (no Bessel functions)."""
    from scipy.integrate import quad

    f = lambda w, k: math.exp(k * w - kappa) * (1 - w * w) ** ((d - 3) / 2)  # noqa: E731
    Z_k = quad(f, -1, 1, args=(kappa,), limit=200, epsabs=0, epsrel=1e-12)[0]
    mean = quad(lambda w: w * f(w, kappa), -1, 1, limit=200, epsabs=0, epsrel=1e-12)[0] / Z_k
    Z_0 = quad(lambda w: (1 - w * w) ** ((d - 3) / 2), -1, 1, limit=200, epsabs=0, epsrel=1e-12)[0]
    # KL of the sphere laws = KL of the w marginals (w is sufficient): E_q[κw] - log(Z_κ / Z_0)
    return mean, kappa * mean - (math.log(Z_k) + kappa - math.log(Z_0))


@pytest.mark.parametrize("d,kappa", [(16, 32.0), (16, 16.0), (16, 64.0), (3, 5.0), (64, 32.0)])
def test_closed_forms_match_quadrature(d, kappa):
    mean, kl = quad_moments(d, kappa)
    assert abs(vmf_mean_cos(d, kappa) - mean) < 1e-9
    assert abs(vmf_kl(d, kappa) - kl) < 1e-8


def test_spec_constants():
    """C.5 of the UniVAE spec: d=16, κ=32 -> KL 7.58 nats, E[cos] 0.79; κ=16 -> 3.93; κ=64 -> 12.0."""
    assert round(vmf_kl(16, 32.0), 2) == 7.58 and round(vmf_mean_cos(16, 32.0), 2) == 0.79
    assert round(vmf_kl(16, 16.0), 2) == 3.93 and round(vmf_kl(16, 64.0), 1) == 12.0


def test_monte_carlo_moments_d16_kappa32():
    d, kappa = 16, 32.0
    s = VMFSampler(d, kappa)
    g = torch.Generator().manual_seed(0)
    mu = torch.nn.functional.normalize(torch.randn(N, d, generator=g, dtype=torch.float64), dim=-1)
    z = s(mu, generator=g)
    assert torch.allclose(z.norm(dim=-1), torch.ones(N, dtype=torch.float64), atol=1e-12)
    cos = (z * mu).sum(-1).numpy()  # cos(z, μ) measured on the vectors
    se = cos.std() / math.sqrt(N)
    assert abs(cos.mean() - 0.7898952) < 5 * se  # A_16(32) = I_8(32)/I_7(32)
    assert abs(cos.mean() - 0.79) < 5 * se + 5e-3  # the spec's rounded figure
    # KL = E_q[log q(z) - log p(z)] = E_q[κ w] + log C_d(κ) + log|S^{d-1}|; the expectation by Monte Carlo
    const = vmf_kl(d, kappa) - kappa * vmf_mean_cos(d, kappa)
    kl_mc = kappa * cos.mean() + const
    assert abs(kl_mc - 7.582144) < 5 * kappa * se
    assert abs(kl_mc - 7.58) < 5 * kappa * se + 5e-3
    # the tangent part is uniform around μ: its mean direction vanishes
    tangent = z - torch.from_numpy(cos)[:, None] * mu
    assert tangent.mean(0).abs().max() < 5 * tangent.std(0).max() / math.sqrt(N)


def test_w_distribution_matches_cdf():
    """Kolmogorov-Smirnov distance of sampled w to the tabulated CDF (n = 200k: D < 1.95/√n at α ≈ 1e-3)."""
    d, kappa = 16, 32.0
    s = VMFSampler(d, kappa)
    w = np.sort(s.sample_w(N, torch.Generator().manual_seed(1)).numpy())
    grid, cdf = vmf_w_table(d, kappa, 1 << 18)  # a finer independent table
    F = np.interp(w, grid, cdf)
    ecdf_hi = np.arange(1, N + 1) / N
    D = max(np.abs(ecdf_hi - F).max(), np.abs(ecdf_hi - 1 / N - F).max())
    assert D < 1.95 / math.sqrt(N)


def test_gradients_flow_through_mu_and_bad_input():
    s = VMFSampler(8, 16.0)
    mu = torch.nn.functional.normalize(torch.randn(5, 8), dim=-1).requires_grad_()
    s(mu).sum().backward()
    assert mu.grad is not None and torch.isfinite(mu.grad).all()
    with pytest.raises(ValueError):
        s(torch.randn(5, 7))
    with pytest.raises(ValueError):
        VMFSampler(1, 3.0)
    with pytest.raises(ValueError):
        vmf_kl(16, 0.0)
