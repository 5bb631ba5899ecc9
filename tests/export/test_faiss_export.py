"""The faiss LinearTransform export equals simlab's whitening, to float32 rounding.

Tolerances are derived, not tuned (simlab.testing): faiss applies y = fl(x Aᵀ + b) in float32 with A = W_kᵀ,
b = −μW_k rounded to float32, so |ŷ − y| ≤ γ_{d+1}(|x||W_k| + |μW_k|) componentwise; normalising turns that into
a direction error 2‖δ‖/‖y‖. Since μ is large here (3.0 against spreads of 2 down to 0.05, √(λmax/λmin) ≈ 40)
this conditioning, not a constant, sets how close the two can be.
"""

from __future__ import annotations

import numpy as np
import pytest

faiss = pytest.importorskip("faiss")

from simlab.export import export_faiss_transform, linear_transform  # noqa: E402
from simlab.testing import U32, U64, affine_unit_error, cosine_bound, gamma, transform_error  # noqa: E402
from simlab.whitening import Whitening  # noqa: E402


def raw_vectors(n=600, d=24, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) * np.linspace(2, 0.05, d) + 3.0).astype(np.float32)


@pytest.mark.parametrize("k", [None, 8])
def test_vector_transform_file_matches_whitening(tmp_path, k):
    X = raw_vectors()
    white = Whitening().fit(X)
    path = export_faiss_transform(white, tmp_path / "whiten.faiss", k=k)
    vt = faiss.read_VectorTransform(str(path))
    kk = k or 24
    assert (vt.d_in, vt.d_out, vt.is_trained) == (24, kk, True)
    x = raw_vectors(n=50, seed=1)
    Y = vt.apply(x)
    faiss.normalize_L2(Y)
    ref = white.transform(x)[:, :kk]
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    e_faiss, e_ref = affine_unit_error(x, white, kk), transform_error(x, white, kk)  # each vs the exact unit rows
    tol = (e_faiss + e_ref)[:, None]
    assert tol.max() < 1e-3, "the derived bound is too loose to test anything"
    assert np.all(np.abs(Y - ref) <= tol), np.abs(Y - ref).max(axis=1) / tol[:, 0]
    cos_tol = cosine_bound(e_faiss, e_faiss, kk) + cosine_bound(e_ref, e_ref, kk)  # both vs the exact cosines
    assert np.all(np.abs(Y @ Y.T - ref @ ref.T) <= cos_tol)
    # the bound is not vacuous: an export that dropped the bias −μW would be far outside it
    wrong = x @ white.kernel_[:, :kk]
    wrong /= np.linalg.norm(wrong, axis=1, keepdims=True)
    assert np.abs(wrong - ref).max() > 100 * tol.max()


def test_linear_transform_has_the_mean_bias_and_works_in_front_of_an_index():
    X = raw_vectors()
    white = Whitening(n_components=6).fit(X)
    lt = linear_transform(white)
    W, mu = white.kernel_, white.mean_
    b = faiss.vector_to_array(lt.b)  # float32(−μW), −μW computed in float64
    assert np.all(np.abs(b + mu @ W) <= U32 * np.abs(mu @ W) + gamma(24, U64) * (np.abs(mu) @ np.abs(W)))
    A = faiss.vector_to_array(lt.A).reshape(6, 24)
    assert np.all(np.abs(A - W.T) <= U32 * np.abs(W.T))  # one rounding to float32 per entry
    # in front of an index, followed by L2 normalisation: scores are simlab's whitened cosines
    index = faiss.IndexPreTransform(faiss.NormalizationTransform(6), faiss.IndexFlatIP(6))
    index.prepend_transform(lt)  # chain: LinearTransform, then normalise
    index.add(X)
    scores, rows = index.search(X[:5], 3)
    Y = white.transform(X)
    ref = Y[:5] @ Y.T
    assert rows[:, 0].tolist() == [0, 1, 2, 3, 4]
    e_faiss, e_ref = affine_unit_error(X, white, 6), transform_error(X, white)
    cos_tol = cosine_bound(e_faiss[:5], e_faiss, 6) + cosine_bound(e_ref[:5], e_ref, 6)
    assert np.all(np.abs(scores - np.take_along_axis(ref, rows, axis=1)) <= np.take_along_axis(cos_tol, rows, axis=1))
    with pytest.raises(ValueError, match="keeps 6 of 24"):
        linear_transform(white, k=7)
