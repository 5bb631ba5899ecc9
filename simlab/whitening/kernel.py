"""BERT-whitening as pure numpy functions (kexue.fm/archives/8069; arXiv 2103.15316 §3).

    μ = mean(x),  Σ = cov(x) = U Λ Uᵀ,  W = U Λ^{-1/2},  y = (x − μ) W[:, :k],  y ← y / ‖y‖

``compute_kernel_bias`` is the reference code of bojone/BERT-whitening (``chn/utils.py``) line for line;
``kernel_from_covariance`` is the same map with float64, a guard for tiny eigenvalues and an optional k.
"""

from __future__ import annotations

import warnings

import numpy as np

# Eigenvalues at or below REL_EPS · λ_max are treated as zero-variance directions (N < d, duplicates, constants).
REL_EPS = 1e-8


class WhiteningWarning(UserWarning):
    """The covariance was (near) singular: some directions carry no variance."""


def compute_kernel_bias(vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 5-line reference (bojone/BERT-whitening ``compute_kernel_bias``): returns (W, −μ).

    >>> x = np.random.default_rng(0).normal(size=(100, 4))
    >>> W, bias = compute_kernel_bias(x)
    >>> np.allclose(np.cov(((x + bias) @ W).T), np.eye(4))
    True
    """
    mu = vecs.mean(axis=0, keepdims=True)
    cov = np.cov(vecs.T)
    u, s, vh = np.linalg.svd(cov)
    W = np.dot(u, np.diag(1 / np.sqrt(s)))
    return W, -mu


def check_finite(x: np.ndarray, what: str = "input vectors") -> None:
    """Raise ValueError if ``x`` holds NaN or ±inf (whitening would spread it to every output)."""
    if not np.all(np.isfinite(x)):
        bad = np.argwhere(~np.isfinite(np.asarray(x).reshape(len(x), -1)))[:3]
        raise ValueError(f"{what} contain NaN or inf (first at rows {sorted({int(r) for r, _ in bad})})")


def kernel_from_covariance(
    cov: np.ndarray, k: int | None = None, rel_eps: float = REL_EPS
) -> tuple[np.ndarray, np.ndarray]:
    """W = U Λ^{-1/2} from a covariance via SVD, first ``k`` columns (all if None); returns (W, λ).

    Directions with λ ≤ ``rel_eps``·λ_max carry no variance (N < d, duplicate rows, constant features, or the
    hyperplane a LayerNorm output lives in). 1/√λ would only amplify rounding noise there, so their columns of
    W are set to zero (the pseudo-inverse square root) and a WhiteningWarning says how many there were.
    """
    cov = np.asarray(cov, dtype=np.float64)
    d = cov.shape[0]
    if cov.shape != (d, d):
        raise ValueError(f"covariance must be square, got shape {cov.shape}")
    if k is not None and not 1 <= k <= d:
        raise ValueError(f"k must be in [1, {d}], got {k}")
    u, s, _ = np.linalg.svd(cov)  # Σ symmetric PSD: its SVD is its eigendecomposition, λ sorted descending
    floor = rel_eps * max(float(s[0]), np.finfo(np.float64).tiny)
    null = s <= floor
    if null.any():
        warnings.warn(
            f"covariance has no variance in {int(null.sum())} of {d} directions (fewer samples than dimensions, "
            f"duplicate rows, constant features or a LayerNorm hyperplane); those whitened coordinates are set "
            f"to 0. Keep k ≤ {d - int(null.sum())} for meaningful coordinates.",
            WhiteningWarning,
            stacklevel=2,
        )
    inv_sqrt = np.where(null, 0.0, 1.0 / np.sqrt(np.maximum(s, floor)))
    W = u * inv_sqrt[None, :]  # = U · diag(1/√λ)
    if k is not None:
        W, s = W[:, :k], s[:k]
    return W, s


def whiten(x: np.ndarray, mean: np.ndarray, kernel: np.ndarray, normalize: bool = True) -> np.ndarray:
    """y = (x − μ) W, then L2-normalised rows (norms clipped at 1e-8 as the reference)."""
    y = (np.asarray(x, dtype=np.float64) - mean) @ kernel
    if normalize:
        y = l2_normalize(y)
    return y


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm (clipped at 1e-8)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.clip(norms, 1e-8, None)
