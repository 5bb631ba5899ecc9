"""The embedding-dimension rule n > 8.33 ln N — kexue.fm/archives/7695 (derivation), 8711 (evidence), 8706 (JL link).

For a Skip-gram-like model p(w_i, w_j) ∝ exp⟨u_i, v_j⟩ with N items and vectors uniform on the sphere of
radius √n (unit-size coordinates), the model entropy is approximately

    H ≈ 2 ln N + h_n,   h_n = ln E[e^{n cos θ}] − n E[e^{n cos θ} cos θ] / E[e^{n cos θ}]     # 7695
    θ has density ∝ sin^{n−2} θ on [0, π] (the angle between two random directions in R^n).

Su takes H < 0 as the point where n is "more than enough" for N items. With h_n ≈ −0.24 n this is
n > (2/0.24) ln N = 8.33 ln N. Laplace's method gives h_n / n → −½ ln φ (φ the golden ratio), so the exact
constant is 4 / ln φ ≈ 8.312. ``scale`` generalises the coordinate size (norm = scale·√n, ⟨u,v⟩ = scale² n cos θ)
to show how much the constant depends on that assumption.

>>> round(laplace_constant(), 3)
8.312
>>> round(h_n(64), 4)
-15.4734
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, optimize, special

__all__ = ["SU_CONSTANT", "h_n", "laplace_constant", "laplace_cos_peak", "n_min_exact", "rule_of_thumb"]

SU_CONSTANT = 8.33  # 2 / 0.24, the rounded constant of 7695 / 8711
PUBLISHED_H = {32: -7.77471, 64: -15.4734, 96: -23.1726, 128: -30.8718, 256: -61.6692, 512: -123.264}  # 7695 table


def _check_scale(scale: float) -> float:
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale}")
    return float(scale)


def h_n(n: float, scale: float = 1.0) -> float:
    """h_n of post 7695 by numerical integration over the angle θ (n may be any real ≥ 2).

    Works in log space: the integrands exp((n−2) ln sin θ + a n cos θ), a = scale², are divided by their
    maximum before ``quad`` so that n in the thousands does not overflow.
    """
    if not (np.isfinite(n) and n >= 2):
        raise ValueError(f"dimension n must be a finite number >= 2, got {n}")
    a = _check_scale(scale) ** 2
    log_f = lambda t: special.xlogy(n - 2, np.sin(t)) + a * n * np.cos(t)  # noqa: E731  log of the unnormalised density
    # peak of log_f: (n−2) cot θ = a n sin θ  ⇒  a n c² + (n−2) c − a n = 0 with c = cos θ
    c_star = (-(n - 2) + math.sqrt((n - 2) ** 2 + 4 * (a * n) ** 2)) / (2 * a * n)
    t_star = math.acos(c_star)
    peak = log_f(t_star)
    w = lambda t: np.exp(log_f(t) - peak)  # noqa: E731
    opts = dict(points=[t_star], limit=200, epsabs=0.0, epsrel=1e-11)
    z1 = integrate.quad(w, 0.0, math.pi, **opts)[0]  # ∫ sin^{n−2} e^{a n cos}  (÷ e^peak)
    zc = integrate.quad(lambda t: np.cos(t) * w(t), 0.0, math.pi, **opts)[0]
    # normaliser of the angle density: ∫ sin^{n−2} θ dθ = √π Γ((n−1)/2) / Γ(n/2)
    log_z0 = 0.5 * math.log(math.pi) + special.gammaln((n - 1) / 2) - special.gammaln(n / 2)
    log_e = math.log(z1) + peak - log_z0  # ln E[e^{a n cos θ}]
    return float(log_e - a * n * zc / z1)


def laplace_cos_peak(scale: float = 1.0) -> float:
    """cos θ* maximising ln sin θ + a cos θ (a = scale²); for scale 1 it is 1/φ = 0.618."""
    a = _check_scale(scale) ** 2
    return (-1.0 + math.sqrt(1.0 + 4.0 * a * a)) / (2.0 * a)


def laplace_constant(scale: float = 1.0) -> float:
    """The n→∞ constant c in n > c ln N: h_n / n → ½ ln(1 − cos²θ*), so c = −4 / ln(1 − cos²θ*) (= 4/ln φ at scale 1)."""
    c = laplace_cos_peak(scale)
    return -4.0 / math.log(1.0 - c * c)


def n_min_exact(N: float, scale: float = 1.0) -> float:
    """The real n where 2 ln N + h_n = 0 (the H < 0 criterion solved without the linear approximation of h_n)."""
    if not (np.isfinite(N) and N >= 2):
        raise ValueError(f"number of items N must be a finite number >= 2, got {N}")
    target = 2.0 * math.log(N)
    f = lambda n: target + h_n(n, scale)  # noqa: E731  decreasing in n
    lo, hi = 2.0, max(8.0, 2.0 * laplace_constant(scale) * math.log(N))
    while f(hi) > 0:
        hi *= 2.0
    if f(lo) <= 0:
        return lo
    return float(optimize.brentq(f, lo, hi, xtol=1e-9))


def rule_of_thumb(N: float, scale: float = 1.0) -> dict[str, float]:
    """All the thresholds for N items: 8.33 ln N, 8 ln N, the Laplace constant × ln N, and the exact root."""
    if not (np.isfinite(N) and N >= 2):
        raise ValueError(f"number of items N must be a finite number >= 2, got {N}")
    ln = math.log(N)
    return {
        "N": float(N),
        "ln_N": ln,
        "n_8.33": SU_CONSTANT * ln,
        "n_8": 8.0 * ln,
        "n_laplace": laplace_constant(scale) * ln,
        "n_exact": n_min_exact(N, scale),
    }
