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

from simlab.errors import MissingFileError, WhiteningError
from simlab.whitening.kernel import REL_EPS, check_finite, kernel_from_covariance, whiten
from simlab.whitening.stats import MomentStats

FORMAT_VERSION = 2  # 2: β/γ (kexue.fm/archives/9079) and the data mean; version-1 files load as β = γ = 1


def check_k(k, d: int, name: str = "k", source: str = "", context: str = "") -> int:
    """``k`` as an int in [1, d], else WhiteningError naming d (a k > d is never clamped silently).

    ``name`` is how the user spelled k (``--k``, ``n_components``), ``source`` the model the d comes from,
    ``context`` a prefix such as ``"--whiten 9999: "``.

    >>> check_k(9999, 384)
    Traceback (most recent call last):
    ...
    simlab.errors.WhiteningError: k = 9999 exceeds the vector dimension d = 384; choose k ≤ 384
    """
    try:
        value = int(k)
    except (TypeError, ValueError):
        raise WhiteningError(f"{context}{name} must be a positive integer, got {k!r}") from None
    if value < 1:
        raise WhiteningError(f"{context}{name} must be ≥ 1 (or left out for all {d} dimensions), got {k}")
    if value > d:
        of = f" of {source}" if source else ""
        raise WhiteningError(f"{context}{name} = {value} exceeds the vector dimension d = {d}{of}; "
                             f"choose {name} ≤ {d}")
    return value


def check_beta_gamma(beta, gamma) -> tuple[float, float]:
    """β and γ as floats in [0, 1] (the interpolation range of kexue.fm/archives/9079), else WhiteningError."""
    from simlab.errors import WhiteningError

    out = []
    for name, v in (("beta", beta), ("gamma", gamma)):
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise WhiteningError(f"{name} must be a number in [0, 1], got {v!r}") from None
        if not 0.0 <= f <= 1.0:
            raise WhiteningError(f"{name} must be in [0, 1] (kexue.fm/archives/9079), got {v!r}")
        out.append(f)
    return out[0], out[1]


class Whitening:
    """BERT-whitening y = (x − μ) W_k, L2-normalised (kexue.fm/archives/8069), with the β/γ generalisation
    ỹ = (x − βμ) U Λ^{-γ/2} of kexue.fm/archives/9079 (Σ taken about βμ).

    β = γ = 1 (the defaults) is standard whitening; β = γ = 0 is the rotation x·U, which keeps every cosine at
    k = d and is a nearly free dimension reduction for supervised encoders at k < d.

    >>> x = np.random.default_rng(0).normal(size=(300, 6)) + 2
    >>> rot = Whitening(beta=0, gamma=0).fit(x)
    >>> y = rot.transform(x); xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    >>> bool(np.abs(y @ y.T - xn @ xn.T).max() < 1e-6)
    True

    Parameters
    ----------
    n_components : keep the first k columns of W (the k largest-variance directions); None keeps all d.
    beta : how much of the mean is removed, in [0, 1] (9079's β).
    gamma : how strongly the variances are equalised, in [0, 1] (9079's γ): W = U Λ^{-γ/2}.
    normalize : L2-normalise the output rows (the study scores cosines, so it always does).
    rel_eps : directions with eigenvalue ≤ rel_eps·λ_max get zero columns in W (with a warning), so a singular
        covariance gives finite output instead of amplified rounding noise.
    fit_on, source_model : free-text provenance saved with the file and reported with every result
        (``source_model``: the encoder identity ``name@weights-hash`` when fitted by simlab's commands).
    pooling : the pooling the vectors were taken with ("" when unknown); with ``source_model`` it lets
        :func:`simlab.whitening.source.check_source` refuse a whitening applied to other vectors.
    """

    def __init__(self, n_components: int | None = None, normalize: bool = True, rel_eps: float = REL_EPS,
                 fit_on: str = "", source_model: str = "", beta: float = 1.0, gamma: float = 1.0,
                 pooling: str = ""):
        self.beta, self.gamma = check_beta_gamma(beta, gamma)
        self.n_components = n_components
        self.normalize = normalize
        self.rel_eps = rel_eps
        self.fit_on = fit_on
        self.source_model = source_model
        self.pooling = pooling
        self._stats: MomentStats | None = None
        self._dirty = False

    # -- fitting -------------------------------------------------------------------------------
    def partial_fit(self, X, y=None) -> Whitening:
        """Add a batch of vectors to the running statistics and refresh μ and W."""
        X = self._check_input(X, fitting=True)
        if self.n_components is not None:
            check_k(self.n_components, X.shape[1], "n_components")  # where d becomes known: never clamp k
        if self._stats is None:
            self._stats = MomentStats.empty(X.shape[1])
        self._stats.update(X)
        self._dirty = True  # μ and W are recomputed lazily, once, when next needed
        return self

    def fit(self, X, y=None) -> Whitening:
        """Fit μ and W on all rows of X (N, d); N ≥ 2."""
        self._stats = None
        return self.partial_fit(X)

    @classmethod
    def from_stats(cls, stats: MomentStats, **params) -> Whitening:
        """A Whitening fitted from moment statistics computed elsewhere (``params`` as for the constructor).

        >>> x = np.random.default_rng(0).normal(size=(50, 3))
        >>> w = Whitening.from_stats(MomentStats.from_batch(x))
        >>> bool(np.allclose(w.kernel_, Whitening().fit(x).kernel_))
        True
        """
        if stats.n < 2:
            raise ValueError(f"need at least 2 vectors to fit a whitening, have {stats.n}")
        w = cls(**params)
        if w.n_components is not None:
            check_k(w.n_components, stats.dim, "n_components")
        w._stats = stats
        w._dirty = True
        return w

    def fit_stream(self, chunks, gram_dtype=np.float64) -> Whitening:
        """Fit on an iterable of (n_c, d) chunks in one pass: memory O(d²) + one chunk, one GEMM per chunk
        (:mod:`simlab.whitening.streaming`). ``gram_dtype=np.float32`` halves the GEMM time at a relative error
        ≲ √n_c·1.2e-7 per covariance entry; float64 (default) equals :meth:`fit` on the concatenation.

        >>> x = np.random.default_rng(0).normal(size=(1000, 8)) + 3
        >>> w = Whitening().fit_stream(np.array_split(x, 10))
        >>> bool(np.allclose(w.kernel_ @ w.kernel_.T, Whitening().fit(x).kernel_ @ Whitening().fit(x).kernel_.T))
        True
        """
        from simlab.whitening.streaming import stream_stats

        stats = stream_stats(chunks, gram_dtype)
        if not (np.all(np.isfinite(stats.scatter)) and np.all(np.isfinite(stats.mean))):
            from simlab.errors import WhiteningError

            raise WhiteningError("the streamed vectors contain NaN or inf (the statistics are not finite)")
        if self.n_components is not None:
            check_k(self.n_components, stats.dim, "n_components")
        self._stats = stats
        self._dirty = True
        return self

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
        self._data_mean = self._stats.mean.copy()
        self._mean = self.beta * self._data_mean if self.beta != 1.0 else self._data_mean.copy()
        self._kernel, self._eigenvalues = kernel_from_covariance(self._stats.covariance(self.beta), k, self.rel_eps,
                                                                 self.gamma)
        self._dirty = False

    def with_params(self, beta: float = 1.0, gamma: float = 1.0, n_components: int | None | str = "same"
                    ) -> Whitening:
        """A new Whitening with other β/γ (and k) from the SAME moment statistics: no pass over the data.

        >>> x = np.random.default_rng(0).normal(size=(100, 4))
        >>> w = Whitening().fit(x)
        >>> np.allclose(w.with_params(0.5, 0.5).kernel_, Whitening(beta=0.5, gamma=0.5).fit(x).kernel_)
        True
        """
        if self._stats is None:
            raise RuntimeError("with_params needs the moment statistics: fit first (or load a file saved with them)")
        other = Whitening(self.n_components if n_components == "same" else n_components, self.normalize,
                          self.rel_eps, self.fit_on, self.source_model, beta, gamma, self.pooling)
        s = self._stats  # merge() rebinds (never mutates) n, mean and scatter, so sharing the arrays is safe
        other._stats = MomentStats(s.n, s.mean, s.scatter)
        other._dirty = True
        return other

    @property
    def mean_(self) -> np.ndarray:
        """The centre subtracted before projecting, βμ (d,), float64: μ itself for the default β = 1.

        Every consumer (index projection, faiss and sentence-transformers export) applies (x − ``mean_``) W.
        """
        self._check_fitted()
        return self._mean

    @property
    def data_mean_(self) -> np.ndarray:
        """μ, the mean of the fitted vectors (d,), float64 (= ``mean_`` when β = 1)."""
        self._check_fitted()
        return self._data_mean if hasattr(self, "_data_mean") else self._mean

    @property
    def kernel_(self) -> np.ndarray:
        """W_k = U diag(λ^{-γ/2})[:, :k] (d, k), float64 (γ = 1: U diag(1/√λ))."""
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
        """(N, d) → (N, k) float32: (x − βμ) W_k, L2-normalised if ``normalize``."""
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
            raise WhiteningError(f"expected a 2-D array of vectors (N, d), got shape {X.shape}")
        check_finite(X)
        if fitting:
            d = self._stats.dim if self._stats is not None else None
        else:
            d = self.n_features_in_
        if d is not None and X.shape[1] != d:
            raise WhiteningError(f"vectors have dimension {X.shape[1]} but this whitening was fitted on dimension {d}")
        return X

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write βμ, μ, W, λ (float64, bit-exact), β, γ and the description to a ``.safetensors`` file, atomically."""
        from safetensors.numpy import save_file

        from simlab.io import atomic_write

        self._check_fitted()
        meta = {"format": "simlab-whitening", "version": str(FORMAT_VERSION),
                "d": str(self.n_features_in_), "k": str(self.n_components_),
                "n_samples": str(self.n_samples_seen_), "normalize": json.dumps(self.normalize),
                "rel_eps": repr(self.rel_eps), "fit_on": self.fit_on, "source_model": self.source_model,
                "beta": repr(self.beta), "gamma": repr(self.gamma), "pooling": self.pooling}
        tensors = {"mean": self.mean_, "data_mean": self.data_mean_, "kernel": np.ascontiguousarray(self.kernel_),
                   "eigenvalues": self.eigenvalues_}
        if self._stats is not None:  # keep the moments so a loaded model can go on with partial_fit / merge
            tensors["scatter"] = self._stats.scatter
        return atomic_write(path, lambda p: save_file(tensors, str(p), metadata=meta))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Whitening:
        """Read a file written by :meth:`save`; a missing, truncated or foreign file is one error naming it."""
        from simlab.io import load_safetensors

        if not Path(path).exists():
            raise MissingFileError(f"whitening file {path} does not exist (write one with `simlab whiten`)")
        arrays, meta = load_safetensors(path, "whitening file (.safetensors)", WhiteningError)
        missing = [name for name in ("mean", "kernel", "eigenvalues") if name not in arrays]
        if meta.get("format") != "simlab-whitening" or missing:
            raise WhiteningError(f"{path}: not a simlab whitening file (metadata format={meta.get('format')!r}"
                                 f"{', no ' + ', '.join(missing) if missing else ''}); write one with "
                                 "`simlab whiten`")
        try:
            w = cls(n_components=int(meta["k"]), normalize=json.loads(meta["normalize"]),
                    rel_eps=float(meta["rel_eps"]), fit_on=meta.get("fit_on", ""),
                    source_model=meta.get("source_model", ""), beta=float(meta.get("beta", 1.0)),
                    gamma=float(meta.get("gamma", 1.0)), pooling=meta.get("pooling", ""))  # version 1: β = γ = 1
            w._n_loaded = int(meta["n_samples"])
        except (KeyError, ValueError) as exc:
            raise WhiteningError(f"{path}: damaged whitening file (metadata {exc})") from None
        w._mean, w._kernel, w._eigenvalues = arrays["mean"], arrays["kernel"], arrays["eigenvalues"]
        w._data_mean = arrays.get("data_mean", w._mean)
        if "scatter" in arrays:
            w._stats = MomentStats(w._n_loaded, w._data_mean.copy(), arrays["scatter"])
        return w

    def __repr__(self) -> str:
        state = f", d={self.n_features_in_}, n={self.n_samples_seen_}" if self.is_fitted else ""
        bg = "" if (self.beta, self.gamma) == (1.0, 1.0) else f", beta={self.beta:g}, gamma={self.gamma:g}"
        return f"Whitening(n_components={self.n_components}{bg}{state})"
