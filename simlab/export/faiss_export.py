"""Export a whitening as a faiss ``VectorTransform`` file: ``LinearTransform`` with A = W_kᵀ, b = −μW_k.

faiss computes y = A x + b = W_kᵀ x − W_kᵀ μ = ((x − μ) W_k)ᵀ, the whitening of kexue.fm/archives/8069 before
normalisation; normalise afterwards (``faiss.normalize_L2``) for cosines, or chain both in front of an index::

    import faiss
    vt = faiss.read_VectorTransform("whiten.faiss")
    index = faiss.IndexPreTransform(faiss.NormalizationTransform(vt.d_out), faiss.IndexFlatIP(vt.d_out))
    index.prepend_transform(vt)          # raw pooled vectors in: whiten → normalise → inner product = cosine

>>> import numpy as np, tempfile, os                                                 # doctest: +SKIP
>>> from simlab.whitening import Whitening                                           # doctest: +SKIP
>>> w = Whitening().fit(np.random.default_rng(0).normal(size=(100, 8)))               # doctest: +SKIP
>>> export_faiss_transform(w, os.path.join(tempfile.mkdtemp(), "w.faiss"), k=4)       # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def linear_transform(whitening, k: int | None = None):
    """A trained ``faiss.LinearTransform`` (d → k) equal to (x − μ) W_k, without the L2 normalisation."""
    import faiss

    from simlab.errors import WhiteningError
    from simlab.whitening.model import check_k

    d, kmax = whitening.n_features_in_, whitening.n_components_
    k = kmax if k is None else check_k(k, d)  # k > d: "k = 9999 exceeds the vector dimension d = 384"
    if k > kmax:
        raise WhiteningError(f"k={k} is not available: the whitening keeps {kmax} of {d} dimensions")
    W = np.asarray(whitening.kernel_[:, :k], dtype=np.float64)  # (d, k)
    A = np.ascontiguousarray(W.T, dtype=np.float32)  # (k, d), faiss's row-major d_out × d_in
    b = (-np.asarray(whitening.mean_, dtype=np.float64) @ W).astype(np.float32)  # (k,) = −μW, bias kept
    lt = faiss.LinearTransform(d, k, True)
    faiss.copy_array_to_vector(A.ravel(), lt.A)
    faiss.copy_array_to_vector(b, lt.b)
    lt.is_trained = True
    return lt


def export_faiss_transform(whitening, out: str | os.PathLike, k: int | None = None) -> Path:
    """Write the LinearTransform with ``faiss.write_VectorTransform`` (atomically); returns the path."""
    import faiss

    from simlab.io import atomic_write

    lt = linear_transform(whitening, k)
    return atomic_write(out, lambda p: faiss.write_VectorTransform(lt, str(p)))
