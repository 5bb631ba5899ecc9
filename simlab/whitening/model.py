"""``Whitening``: the fitted state (μ, W) with a scikit-learn interface, streaming fits and save/load.

>>> import numpy as np
>>> from simlab.whitening import Whitening
>>> x = np.random.default_rng(0).normal(size=(500, 8)).astype("float32")
>>> w = Whitening(n_components=4).fit(x)
>>> y = w.transform(x)            # (500, 4), rows L2-normalised
>>> y.shape, bool(np.allclose(np.linalg.norm(y, axis=1), 1))
((500, 4), True)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from simlab.whitening.kernel import REL_EPS, check_finite, kernel_from_covariance, whiten
from simlab.whitening.stats import MomentStats

FORMAT_VERSION = 1


class Whitening:
    """BERT-whitening y = (x − μ) W_k, L2-normalised (kexue.fm/archives/8069).

    Parameters
    ----------
    n_components : keep the first k columns of W (the k largest-variance directions); None keeps all d.
    normalize : L2-normalise the output rows (the study scores cosines, so it always does).
    rel_eps : directions with eigenvalue ≤ rel_eps·λ_max get zero columns in W (with a warning), so a singular
        covariance gives finite output instead of amplified rounding noise.
    fit_on, source_model : free-text provenance saved with the file and reported with every result.
    """

    def __init__(self, n_components: int | None = None, normalize: bool = True, rel_eps: float = REL_EPS,
                 fit_on: str = "", source_model: str = ""):
        self.n_components = n_components
        self.normalize = normalize
        self.rel_eps = rel_eps
        self.fit_on = fit_on
        self.source_model = source_model
        self._stats: MomentStats | None = None
        self._dirty = False

    # -- fitting -------------------------------------------------------------------------------
    def partial_fit(self, X, y=None) -> Whitening:
        """Add a batch of vectors to the running statistics and refresh μ and W."""
        X = self._check_input(X, fitting=True)
        if self.n_components is not None and int(self.n_components) < 1:
            raise ValueError(f"n_components must be ≥ 1 (or None for all dimensions), got {self.n_components}")
        if self._stats is None:
            self._stats = MomentStats.empty(X.shape[1])
        self._stats.update(X)
        self._dirty = True  # μ and W are recomputed lazily, once, when next needed
        return self

    def fit(self, X, y=None) -> Whitening:
        """Fit μ and W on all rows of X (N, d); N ≥ 2."""
        self._stats = None
        return self.partial_fit(X)

    def merge(self, other: Whitening) -> Whitening:
        """Fold the statistics of another (partially) fitted Whitening in; equals fitting on both sets."""
        if other._stats is None:
            return self
        if self._stats is None:
            self._stats = MomentStats.empty(other._stats.dim)
        self._stats.merge(other._stats)
        self._dirty = True
        return self

    def _refresh(self) -> None:
        d = self._stats.dim
        k = None if self.n_components is None else min(int(self.n_components), d)
        self._mean = self._stats.mean.copy()
        self._kernel, self._eigenvalues = kernel_from_covariance(self._stats.covariance(), k, self.rel_eps)
        self._dirty = False

    @property
    def mean_(self) -> np.ndarray:
        """μ (d,), float64."""
        self._check_fitted()
        return self._mean

    @property
    def kernel_(self) -> np.ndarray:
        """W_k = U diag(1/√λ)[:, :k] (d, k), float64."""
        self._check_fitted()
        return self._kernel

    @property
    def eigenvalues_(self) -> np.ndarray:
        """The k largest covariance eigenvalues λ (after flooring), descending."""
        self._check_fitted()
        return self._eigenvalues

    @property
    def n_features_in_(self) -> int:
        self._check_fitted()
        return self._mean.shape[0]

    @property
    def n_samples_seen_(self) -> int:
        self._check_fitted()
        return self._stats.n if self._stats is not None else self._n_loaded

    # -- applying -----------------------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """(N, d) → (N, k) float32: (x − μ) W_k, L2-normalised if ``normalize``."""
        self._check_fitted()
        X = self._check_input(X, fitting=False)
        return whiten(X, self.mean_, self.kernel_, self.normalize).astype(np.float32)

    def fit_transform(self, X, y=None) -> np.ndarray:
        return self.fit(X).transform(X)

    @property
    def n_components_(self) -> int:
        self._check_fitted()
        return self.kernel_.shape[1]

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "_kernel") or (self._stats is not None and self._stats.n >= 2)

    def _check_fitted(self) -> None:
        if self._dirty and self._stats is not None and self._stats.n >= 2:
            self._refresh()
        if not hasattr(self, "_kernel"):
            raise RuntimeError("Whitening is not fitted: call fit(X) (needs at least 2 vectors) or Whitening.load(path)")

    def _check_input(self, X, fitting: bool) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"expected a 2-D array of vectors (N, d), got shape {X.shape}")
        check_finite(X)
        if fitting:
            d = self._stats.dim if self._stats is not None else None
        else:
            d = self.n_features_in_
        if d is not None and X.shape[1] != d:
            raise ValueError(f"vectors have dimension {X.shape[1]} but this whitening was fitted on dimension {d}")
        return X

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write μ, W, λ (float64, bit-exact) and the description to a ``.safetensors`` file, atomically."""
        from safetensors.numpy import save_file

        from simlab.io import atomic_write

        self._check_fitted()
        meta = {"format": "simlab-whitening", "version": str(FORMAT_VERSION),
                "d": str(self.n_features_in_), "k": str(self.n_components_),
                "n_samples": str(self.n_samples_seen_), "normalize": json.dumps(self.normalize),
                "rel_eps": repr(self.rel_eps), "fit_on": self.fit_on, "source_model": self.source_model}
        tensors = {"mean": self.mean_, "kernel": np.ascontiguousarray(self.kernel_), "eigenvalues": self.eigenvalues_}
        if self._stats is not None:  # keep the moments so a loaded model can go on with partial_fit / merge
            tensors["scatter"] = self._stats.scatter
        return atomic_write(path, lambda p: save_file(tensors, str(p), metadata=meta))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Whitening:
        """Read a file written by :meth:`save`."""
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            if meta.get("format") != "simlab-whitening":
                raise ValueError(f"{path}: not a simlab whitening file (metadata format={meta.get('format')!r})")
            arrays = {name: f.get_tensor(name) for name in f.keys()}
        w = cls(n_components=int(meta["k"]), normalize=json.loads(meta["normalize"]), rel_eps=float(meta["rel_eps"]),
                fit_on=meta.get("fit_on", ""), source_model=meta.get("source_model", ""))
        w._mean, w._kernel, w._eigenvalues = arrays["mean"], arrays["kernel"], arrays["eigenvalues"]
        w._n_loaded = int(meta["n_samples"])
        if "scatter" in arrays:
            w._stats = MomentStats(w._n_loaded, w._mean.copy(), arrays["scatter"])
        return w

    def __repr__(self) -> str:
        state = f", d={self.n_features_in_}, n={self.n_samples_seen_}" if self.is_fitted else ""
        return f"Whitening(n_components={self.n_components}{state})"
