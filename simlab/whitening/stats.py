"""Streaming mean and covariance in float64 (arXiv 2103.15316 §3.4: memory O(d²), independent of N).

Batches are combined with the pairwise update of Chan, Golub & LeVeque (1979), which equals the
one-shot statistics up to rounding and merges partial results from separate runs or workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MomentStats:
    """Sample count, mean and scatter matrix C = Σ (x−μ)ᵀ(x−μ) of the rows seen so far.

    >>> rng = np.random.default_rng(0); x = rng.normal(size=(50, 3))
    >>> s = MomentStats.empty(3); s.update(x[:20]); s.update(x[20:])
    >>> np.allclose(s.covariance(), np.cov(x.T))
    True
    """

    n: int
    mean: np.ndarray  # (d,)
    scatter: np.ndarray  # (d, d)

    @classmethod
    def empty(cls, d: int) -> MomentStats:
        return cls(0, np.zeros(d, dtype=np.float64), np.zeros((d, d), dtype=np.float64))

    @classmethod
    def from_batch(cls, x: np.ndarray) -> MomentStats:
        x = np.asarray(x, dtype=np.float64)
        mean = x.mean(axis=0)
        xc = x - mean
        return cls(len(x), mean, xc.T @ xc)

    @property
    def dim(self) -> int:
        return self.mean.shape[0]

    def merge(self, other: MomentStats) -> MomentStats:
        """Combine two disjoint sets of rows in place (and return self)."""
        if other.dim != self.dim:
            raise ValueError(f"cannot merge statistics of dimension {other.dim} into {self.dim}")
        if other.n == 0:
            return self
        if self.n == 0:
            self.n, self.mean, self.scatter = other.n, other.mean.copy(), other.scatter.copy()
            return self
        n = self.n + other.n
        delta = other.mean - self.mean
        self.scatter = self.scatter + other.scatter + np.outer(delta, delta) * (self.n * other.n / n)
        self.mean = self.mean + delta * (other.n / n)
        self.n = n
        return self

    def update(self, x: np.ndarray) -> MomentStats:
        """Add a batch of rows (N, d)."""
        if len(x):
            self.merge(MomentStats.from_batch(x))
        return self

    def covariance(self, beta: float = 1.0) -> np.ndarray:
        """Unbiased covariance (divides by N−1, as ``np.cov`` in the reference code).

        With ``beta`` ≠ 1 the second moment about βμ (kexue.fm/archives/9079):
        Σ (x − βμ)ᵀ(x − βμ) = C + N(1 − β)² μᵀμ, divided by the same N − 1 (a common scale that no
        whitened cosine sees), so β = 1 is exactly the covariance and β = 0 the uncentred second moment.
        """
        if self.n < 2:
            raise ValueError(f"need at least 2 vectors to estimate a covariance, have {self.n}")
        if beta == 1.0:
            return self.scatter / (self.n - 1)
        shift = (1.0 - float(beta)) * self.mean
        return (self.scatter + self.n * np.outer(shift, shift)) / (self.n - 1)
