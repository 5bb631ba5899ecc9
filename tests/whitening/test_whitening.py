"""Whitening vs the spec's numpy reference and faiss PCAMatrix; streaming; edge cases; save/load."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.whitening import Whitening, WhiteningWarning, compute_kernel_bias


def correlated(n=400, d=16, seed=0, scale=(3.0, 0.1)):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d)) * np.linspace(*scale, d)
    return (rng.normal(size=(n, d)) @ A + rng.normal(size=d) * 5).astype(np.float32)


def reference_transform(x, k):
    """The reference repo's pipeline: compute_kernel_bias, W[:, :k], (x + bias) @ W, normalise."""
    x = x.astype(np.float64)
    W, bias = compute_kernel_bias(x)
    y = (x + bias) @ W[:, :k]
    return y / np.clip(np.linalg.norm(y, axis=1, keepdims=True), 1e-8, None)


@pytest.mark.parametrize("k", [16, 8, 3])
def test_matches_numpy_reference(k):
    x = correlated()
    ours = Whitening(n_components=k).fit_transform(x)
    ref = reference_transform(x, k)
    # eigenvector signs may differ per column; cosines between rows cannot
    np.testing.assert_allclose(ours @ ours.T, ref @ ref.T, atol=1e-6)
    assert ours.shape == (len(x), k)


def test_whitened_covariance_is_identity():
    x = correlated()
    w = Whitening(normalize=False).fit(x)
    y = w.transform(x).astype(np.float64)
    np.testing.assert_allclose(np.cov(y.T), np.eye(x.shape[1]), atol=1e-4)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-4)


@pytest.mark.parametrize("k", [16, 6])
def test_matches_faiss_pca_eigen_power(k):
    faiss = pytest.importorskip("faiss")
    # faiss trains in float32: with a well-conditioned spectrum (λ from 4 to 0.25) and a near-zero mean its own
    # rounding stays below 1e-6 (a mean offset of 1.0 alone costs faiss ~6e-6 through float32 centring).
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    x = (rng.normal(size=(400, 16)) * np.linspace(2, 0.5, 16)) @ Q.T
    x = x.astype(np.float32)
    pca = faiss.PCAMatrix(16, k, -0.5)
    pca.train(np.ascontiguousarray(x))
    fy = pca.apply(np.ascontiguousarray(x)).astype(np.float64)
    fy /= np.linalg.norm(fy, axis=1, keepdims=True)
    ours = Whitening(n_components=k).fit_transform(x).astype(np.float64)
    np.testing.assert_allclose(ours @ ours.T, fy @ fy.T, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.integers(0, 2**31 - 1))
def test_streaming_equals_one_shot(n_chunks, seed):
    x = correlated(n=300, d=12, seed=seed % 1000)
    one = Whitening().fit(x)
    parts = np.array_split(x, n_chunks)
    stream = Whitening()
    for p in parts:
        stream.partial_fit(p)
    merged = Whitening().fit(parts[0])
    for p in parts[1:]:
        merged.merge(Whitening().fit(p) if len(p) > 1 else Whitening().partial_fit(p))
    for other in (stream, merged):
        assert other.n_samples_seen_ == len(x)
        np.testing.assert_allclose(other.mean_, one.mean_, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(other.transform(x) @ other.transform(x).T,
                                   one.transform(x) @ one.transform(x).T, atol=1e-5)


def test_fewer_samples_than_dims_is_finite_and_warns():
    x = correlated(n=10, d=32)  # rank of the centred data ≤ N − 1 = 9
    with pytest.warns(WhiteningWarning, match="no variance in 23 of 32"):
        w = Whitening(normalize=False).fit(x)
        y = w.transform(x).astype(np.float64)  # μ and W are computed lazily, on first use
    assert np.all(np.isfinite(y))
    # the first 9 directions are whitened exactly; the other 23 are zero columns, not amplified noise
    assert np.count_nonzero(np.abs(w.kernel_).sum(0)) == 9
    np.testing.assert_allclose(np.cov(y[:, :9].T), np.eye(9), atol=1e-3)
    assert np.abs(y[:, 9:]).max() == 0.0


def test_duplicates_and_constant_dims_are_finite_and_warn():
    x = correlated(n=200, d=8)
    x[:, 3] = 1.5  # zero variance
    x = np.concatenate([x, x])  # duplicate rows
    with pytest.warns(WhiteningWarning, match="1 of 8"):
        y = Whitening().fit_transform(x)
    assert np.all(np.isfinite(y))


def test_layernorm_hyperplane_direction_is_dropped_not_amplified():
    """LayerNorm outputs satisfy Σ (y_i − β_i)/γ_i = 0: one null direction, as e5-small's cls / last-avg show."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=(2000, 16)) @ rng.normal(size=(16, 16))
    z = (z - z.mean(1, keepdims=True)) / z.std(1, keepdims=True)
    gamma, beta = rng.uniform(0.5, 2, 16), rng.normal(size=16)
    y = (z * gamma + beta).astype(np.float32)
    with pytest.warns(WhiteningWarning, match="1 of 16"):
        w = Whitening(normalize=False).fit(y)
        out = w.transform(y).astype(np.float64)
    assert np.abs(out[:, -1]).max() == 0.0  # the null direction is zeroed, not float32 noise × 1e4
    np.testing.assert_allclose(np.cov(out[:, :15].T), np.eye(15), atol=1e-3)


def test_well_conditioned_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Whitening().fit(correlated())


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_a_clear_error(bad):
    x = correlated()
    x[7, 2] = bad
    with pytest.raises(ValueError, match="NaN or inf.*7"):
        Whitening().fit(x)


def test_errors():
    w = Whitening()
    with pytest.raises(RuntimeError, match="not fitted"):
        w.transform(correlated())
    with pytest.raises(ValueError, match="2-D"):
        w.fit(np.zeros(5))
    w.fit(correlated(d=16))
    with pytest.raises(ValueError, match="dimension 8 but .* dimension 16"):
        w.transform(correlated(d=8))
    with pytest.raises(ValueError, match="n_components must be"):
        Whitening(n_components=0).fit(correlated())


def test_save_load_round_trip_is_bit_exact(tmp_path):
    x = correlated()
    w = Whitening(n_components=5, fit_on="all splits of ATEC", source_model="e5-small").fit(x)
    path = w.save(tmp_path / "w.safetensors")
    back = Whitening.load(path)
    assert np.array_equal(back.mean_, w.mean_) and np.array_equal(back.kernel_, w.kernel_)
    assert np.array_equal(back.transform(x), w.transform(x))
    assert (back.fit_on, back.source_model, back.n_samples_seen_) == ("all splits of ATEC", "e5-small", len(x))
    # the loaded statistics can be streamed into further
    back.partial_fit(x[:50])
    assert back.n_samples_seen_ == len(x) + 50
    with pytest.raises(ValueError, match="dimension 8 but .* dimension 16"):
        back.transform(correlated(d=8))


def test_load_rejects_foreign_file(tmp_path):
    from safetensors.numpy import save_file

    save_file({"a": np.zeros(3)}, str(tmp_path / "x.safetensors"))
    with pytest.raises(ValueError, match="not a simlab whitening file"):
        Whitening.load(tmp_path / "x.safetensors")
