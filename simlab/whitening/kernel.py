"""BERT-whitening as pure numpy functions (kexue.fm/archives/8069; arXiv 2103.15316 §3).

    μ = mean(x),  Σ = cov(x) = U Λ Uᵀ,  W = U Λ^{-1/2},  y = (x − μ) W[:, :k],  y ← y / ‖y‖

and its β/γ generalisation (kexue.fm/archives/9079):

    Σ_β = E[(x − βμ)ᵀ(x − βμ)] = U Λ Uᵀ,   W = U Λ^{-γ/2},   ỹ = (x − βμ) W[:, :k]

β = γ = 1 is the whitening above; β = γ = 0 is the pure rotation x·U (U from the uncentred second moment),
which keeps every cosine when k = d and is plain (uncentred) PCA when k < d.

``compute_kernel_bias`` is the reference code of bojone/BERT-whitening (``chn/utils.py``) line for line;
``kernel_from_covariance`` is the same map with float64, a guard for tiny eigenvalues, γ and an optional k.
"""

from __future__ import annotations

import warnings

import numpy as np

from simlab.errors import WhiteningError

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
    """Raise WhiteningError (a ValueError) if ``x`` holds NaN or ±inf (whitening would spread it to every output)."""
    if not np.all(np.isfinite(x)):
        bad = np.argwhere(~np.isfinite(np.asarray(x).reshape(len(x), -1)))[:3]
        raise WhiteningError(f"{what} contain NaN or inf (first at rows {sorted({int(r) for r, _ in bad})})")


def eigen_desc(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(U, λ) of a symmetric PSD matrix, λ descending.

    The reference code takes ``np.linalg.svd(cov)``; for a symmetric PSD Σ the SVD IS the eigendecomposition,
    and LAPACK's symmetric solver (``eigh``) finds it 3-5× faster at d = 384 (the grid fits one per pooling
    and task). Rounding can leave the smallest λ of a singular Σ at −1e-17 instead of +1e-17: clipped at 0.
    """
    cov = np.asarray(cov, dtype=np.float64)
    d = cov.shape[0]
    if cov.ndim != 2 or cov.shape != (d, d):
        raise ValueError(f"covariance must be square, got shape {cov.shape}")
    s, u = np.linalg.eigh(cov)  # ascending
    return u[:, ::-1], np.maximum(s[::-1], 0.0)


def kernel_from_eigen(u: np.ndarray, s: np.ndarray, k: int | None = None, rel_eps: float = REL_EPS,
                      gamma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """W = U Λ^{-γ/2} (kexue.fm/archives/9079), first ``k`` columns; returns (W, λ[:k]).

    For γ > 0, directions with λ ≤ ``rel_eps``·λ_max carry no variance (N < d, duplicate rows, constant
    features, or the hyperplane a LayerNorm output lives in). λ^{-γ/2} would only amplify rounding noise there,
    so their columns of W are set to zero (the pseudo-inverse power) and a WhiteningWarning says how many there
    were. γ = 0 scales nothing, so W = U exactly (a rotation) and nothing is dropped.
    """
    d = u.shape[0]
    if k is not None and not 1 <= k <= d:
        raise WhiteningError(f"k must be in [1, {d}] (the vector dimension d = {d}), got {k}")
    gamma = float(gamma)
    if gamma == 0.0:
        W = u.copy()
    else:
        floor = rel_eps * max(float(s[0]), np.finfo(np.float64).tiny)
        null = s <= floor
        if null.any():
            warnings.warn(
                f"covariance has no variance in {int(null.sum())} of {d} directions (fewer samples than "
                f"dimensions, duplicate rows, constant features or a LayerNorm hyperplane); those whitened "
                f"coordinates are set to 0. Keep k ≤ {d - int(null.sum())} for meaningful coordinates.",
                WhiteningWarning,
                stacklevel=3,
            )
        safe = np.maximum(s, floor)
        scale = 1.0 / np.sqrt(safe) if gamma == 1.0 else safe ** (-gamma / 2)
        W = u * np.where(null, 0.0, scale)[None, :]  # = U · diag(λ^{-γ/2})
    if k is not None:
        W, s = W[:, :k], s[:k]
    return W, s


def kernel_from_covariance(
    cov: np.ndarray, k: int | None = None, rel_eps: float = REL_EPS, gamma: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """W = U Λ^{-γ/2} from a covariance via SVD, first ``k`` columns (all if None); returns (W, λ).

    γ = 1 (default) is BERT-whitening's W = U Λ^{-1/2}; see :func:`kernel_from_eigen` for the zero-variance
    guard.

    >>> W, lam = kernel_from_covariance(np.diag([4.0, 1.0]))
    >>> np.abs(W).round(3).tolist(), lam.tolist()
    ([[0.5, 0.0], [0.0, 1.0]], [4.0, 1.0])
    """
    u, s = eigen_desc(cov)
    return kernel_from_eigen(u, s, k, rel_eps, gamma)


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
