"""The faiss LinearTransform export equals simlab's whitening (cosines ≤ 1e-6)."""

from __future__ import annotations

import numpy as np
import pytest

faiss = pytest.importorskip("faiss")

from simlab.export import export_faiss_transform, linear_transform  # noqa: E402
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
    Y = vt.apply(raw_vectors(n=50, seed=1))
    faiss.normalize_L2(Y)
    ref = white.transform(raw_vectors(n=50, seed=1))[:, :kk]
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(Y @ Y.T, ref @ ref.T, atol=1e-6)  # cosines
    np.testing.assert_allclose(Y, ref, atol=1e-5)


def test_linear_transform_has_the_mean_bias_and_works_in_front_of_an_index():
    X = raw_vectors()
    white = Whitening(n_components=6).fit(X)
    lt = linear_transform(white)
    b = faiss.vector_to_array(lt.b)
    np.testing.assert_allclose(b, -white.mean_ @ white.kernel_, rtol=1e-5)
    A = faiss.vector_to_array(lt.A).reshape(6, 24)
    np.testing.assert_allclose(A, white.kernel_.T, rtol=1e-6)
    # in front of an index, followed by L2 normalisation: scores are simlab's whitened cosines
    index = faiss.IndexPreTransform(faiss.NormalizationTransform(6), faiss.IndexFlatIP(6))
    index.prepend_transform(lt)  # chain: LinearTransform, then normalise
    index.add(X)
    scores, rows = index.search(X[:5], 3)
    Y = white.transform(X)
    ref = Y[:5] @ Y.T
    assert rows[:, 0].tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(scores, np.take_along_axis(ref, rows, axis=1), atol=1e-5)
    with pytest.raises(ValueError, match="keeps 6 of 24"):
        linear_transform(white, k=7)
