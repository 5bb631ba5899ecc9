"""Whitening statistics over a stream of chunks at GEMM speed (arXiv 2103.15316 §3.4: memory O(d²), time O(N)).

For chunks x_c (n_c, d) and a fixed shift s (the first chunk's mean, float64):

    S₁ = Σ_c Σ_rows (x − s),   G = Σ_c (x_c − s)ᵀ(x_c − s),   μ = s + S₁/N,   C = G − N·m mᵀ  (m = S₁/N)

which equals the scatter C = Σ (x − μ)ᵀ(x − μ) exactly in exact arithmetic (expand (x − s) = (x − μ) + m). The
shift makes m small, so the final subtraction does not cancel (the textbook Σxxᵀ − Nμμᵀ would, for BERT vectors
whose mean is large next to their spread). Per chunk the work is one subtraction pass, one column sum and ONE
BLAS product ``(x − s)ᵀ(x − s)`` (numpy's ``A.T @ A``, no copy of the chunk); memory is the (d, d) accumulator
plus one chunk buffer.

``gram_dtype``: ``float64`` (default) computes each chunk's product in float64: the result equals the one-shot
float64 statistics to rounding (tests/whitening/test_streaming.py). ``float32`` runs the per-chunk GEMM in float32
(twice the BLAS speed) and accumulates chunk results in float64: each entry of C then carries a relative error
≲ √n_c·ε₃₂ (n_c rows summed per chunk in float32, ε₃₂ = 1.2e-7) against the float64 value.

>>> rng = np.random.default_rng(0); x = rng.normal(size=(1000, 4)) + 5
>>> st = stream_stats(np.array_split(x, 7))
>>> bool(np.allclose(st.covariance(), np.cov(x.T), rtol=1e-12, atol=1e-12))
True
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from simlab.whitening.stats import MomentStats


class GramAccumulator:
    """Running S₁ and G about a fixed shift; :meth:`stats` turns them into :class:`MomentStats`."""

    def __init__(self, d: int | None = None, gram_dtype=np.float64):
        self.gram_dtype = np.dtype(gram_dtype)
        if self.gram_dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"gram_dtype must be float32 or float64, got {gram_dtype}")
        self.d = d
        self.n = 0
        self.shift: np.ndarray | None = None
        self.s1: np.ndarray | None = None
        self.gram: np.ndarray | None = None
        self._buf: np.ndarray | None = None

    def add(self, x: np.ndarray) -> GramAccumulator:
        """Add a chunk of rows (n_c, d); any float dtype (float32 input stays float32 until the shift)."""
        x = np.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"expected a 2-D chunk (n, d), got shape {x.shape}")
        if not len(x):
            return self
        if self.shift is None:
            self.d = self.d or x.shape[1]
            self.shift = x.mean(axis=0, dtype=np.float64)  # (d,)
            self.s1 = np.zeros(self.d)
            self.gram = np.zeros((self.d, self.d))  # float64 accumulator
        if x.shape[1] != self.d:
            raise ValueError(f"chunk has dimension {x.shape[1]}, the stream has {self.d}")
        n = len(x)
        if self._buf is None or len(self._buf) < n:
            self._buf = np.empty((n, self.d), dtype=self.gram_dtype)
        buf = self._buf[:n]
        np.subtract(x, self.shift.astype(self.gram_dtype), out=buf, casting="unsafe")  # (n, d) = x − s
        self.s1 += buf.sum(axis=0, dtype=np.float64)
        # (x − s)ᵀ(x − s): numpy hands Aᵀ·A to BLAS without copying the chunk (as it does for the X.T @ X it is
        # benchmarked against); the (d, d) result is added to the float64 accumulator
        self.gram += buf.T @ buf  # (d, d)
        self.n += n
        return self

    def stats(self) -> MomentStats:
        """(n, μ, C) of everything added."""
        if self.n == 0:
            raise ValueError("no rows were added")
        m = self.s1 / self.n  # mean of (x − s): small, so C = G − N m mᵀ does not cancel
        scatter = self.gram - self.n * np.outer(m, m)
        scatter = (scatter + scatter.T) / 2  # exact symmetry (G is symmetric up to BLAS rounding)
        return MomentStats(self.n, self.shift + m, scatter)


def stream_stats(chunks: Iterable[np.ndarray], gram_dtype=np.float64) -> MomentStats:
    """:class:`MomentStats` of all rows of ``chunks`` (an iterable of (n_c, d) arrays), one pass, O(d²) memory."""
    acc = GramAccumulator(gram_dtype=gram_dtype)
    for c in chunks:
        acc.add(c)
    return acc.stats()
