"""``Projection``: pooled model vectors (N, d) → index vectors (N, k), L2-normalised so inner product = cosine.

Three kinds:

- ``whiten``   : y = (x − μ) W[:, :k], normalised (kexue.fm/archives/8069 eq. (6); W's columns are ranked by
                 variance, so the first k are the ones to keep — the "faster retrieval" of the paper's title)
- ``truncate`` : y = x[:, :k], normalised (the control: plain truncation of unwhitened vectors)
- ``none``     : y = x, normalised (k = d)

>>> import numpy as np
>>> from simlab.whitening import Whitening
>>> x = np.random.default_rng(0).normal(size=(200, 6))
>>> p = Projection.from_whitening(Whitening().fit(x), k=2)
>>> p.apply(x).shape, p.kind
((200, 2), 'whiten')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simlab.errors import BadInputError, WhiteningError
from simlab.whitening.kernel import l2_normalize, whiten
from simlab.whitening.model import check_k

KINDS = ("whiten", "truncate", "none")


@dataclass
class Projection:
    """How index vectors are made from model vectors of dimension ``d``; ``k`` = output dimension."""

    kind: str
    d: int
    k: int
    mean: np.ndarray | None = None  # (d,) float64, whiten only
    kernel: np.ndarray | None = None  # (d, k) float64, whiten only

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown projection {self.kind!r}; choose from {', '.join(KINDS)}")
        if not 1 <= self.k <= self.d:
            why = f"k = {self.k} exceeds the vector dimension d = {self.d}" if self.k > self.d else f"got {self.k}"
            raise BadInputError(f"k must be in [1, {self.d}]: {why}")
        if self.kind == "none" and self.k != self.d:
            raise ValueError(f"projection 'none' keeps all {self.d} dimensions; use 'truncate' for k={self.k}")
        if self.kind == "whiten":
            if self.mean is None or self.kernel is None:
                raise ValueError("a whitening projection needs mean and kernel")
            if self.mean.shape != (self.d,) or self.kernel.shape != (self.d, self.k):
                raise ValueError(f"whitening shapes mean {self.mean.shape}, kernel {self.kernel.shape} do not match "
                                 f"d={self.d}, k={self.k}")

    @classmethod
    def from_whitening(cls, whitening, k: int | None = None) -> Projection:
        """The first ``k`` whitened dimensions of a fitted :class:`simlab.whitening.Whitening` (all if None)."""
        d, kmax = whitening.n_features_in_, whitening.n_components_
        k = kmax if k is None else int(k)
        if k > d:
            check_k(k, d)  # "k = 9999 exceeds the vector dimension d = 384"
        if not 1 <= k <= kmax:
            raise WhiteningError(f"k={k} is not available from this whitening: it keeps {kmax} of {d} dimensions "
                             f"(refit with n_components ≥ {k} or choose k ≤ {kmax})")
        return cls("whiten", d, k, np.asarray(whitening.mean_, dtype=np.float64),
                   np.ascontiguousarray(whitening.kernel_[:, :k], dtype=np.float64))

    @classmethod
    def plain(cls, d: int, k: int | None = None) -> Projection:
        """No whitening: all d dimensions, or the first ``k`` (truncation), normalised."""
        k = d if k is None else int(k)
        return cls("none" if k == d else "truncate", d, k)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """(N, d) → (N, k) float32, rows of unit norm."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"expected model vectors of shape (N, {self.d}), got {x.shape}")
        if self.kind == "whiten":
            y = whiten(x, self.mean, self.kernel, normalize=True)
        else:
            y = l2_normalize(np.asarray(x[:, :self.k], dtype=np.float64))
        return y.astype(np.float32)

    def describe(self) -> dict:
        return {"type": self.kind, "d": self.d, "k": self.k}
