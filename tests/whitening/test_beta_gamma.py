"""β/γ whitening (kexue.fm/archives/9079): ỹ = (x − βμ) U Λ^{-γ/2}, Σ taken about βμ.

References: a direct numpy implementation of the formula, today's (β = γ = 1) kernel formula bit for bit, and
cosine preservation of the β = γ = 0 rotation at k = d.
"""

from __future__ import annotations

import numpy as np
import pytest

from simlab.errors import WhiteningError
from simlab.whitening import Whitening, kernel_from_covariance

EPS32 = float(np.finfo(np.float32).eps)


def correlated(n=400, d=16, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d)) * np.linspace(3.0, 0.1, d)
    return (rng.normal(size=(n, d)) @ A + rng.normal(size=d) * 5).astype(np.float32)


def reference(x, beta, gamma, k):
    """The 9079 formula written out: centre βμ, second moment about it, SVD, U Λ^{-γ/2}, first k, normalise."""
    x = x.astype(np.float64)
    c = x - beta * x.mean(0)
    u, s, _ = np.linalg.svd(c.T @ c / (len(x) - 1))
    y = c @ (u * s ** (-gamma / 2))[:, :k]
    return y / np.linalg.norm(y, axis=1, keepdims=True)


def gram(y):
    y = np.asarray(y, dtype=np.float64)
    return y @ y.T


@pytest.mark.parametrize("beta,gamma,k", [(0.5, 0.5, 16), (0.0, 1.0, 8), (1.0, 0.0, 10), (0.25, 0.75, 4),
                                          (0.0, 0.0, 6)])
def test_matches_the_formula(beta, gamma, k):
    x = correlated()
    ours = Whitening(n_components=k, beta=beta, gamma=gamma).fit_transform(x)
    # eigenvector signs may differ per column; cosines between rows cannot. Output is float32: each cosine of
    # unit vectors rounded to float32 is within ~2·eps32 of the float64 one (Cauchy-Schwarz), 4·eps32 with margin
    np.testing.assert_allclose(gram(ours), gram(reference(x, beta, gamma, k)), atol=4 * EPS32)


def test_beta_gamma_one_is_todays_whitening_bit_for_bit():
    x = correlated()
    w = Whitening(n_components=12, beta=1.0, gamma=1.0).fit(x)
    # today's kernel: float64 covariance, numpy SVD, W = U · diag(1/√λ), first k columns
    x64 = x.astype(np.float64)
    mu = x64.mean(0)
    u, s, _ = np.linalg.svd((x64 - mu).T @ (x64 - mu) / (len(x) - 1))
    W_today = (u * (1.0 / np.sqrt(s))[None, :])[:, :12]
    np.testing.assert_allclose(w.mean_, mu, rtol=1e-12)
    np.testing.assert_allclose(gram(w.kernel_.T), gram(W_today.T), rtol=1e-9, atol=1e-12)
    default = Whitening(n_components=12).fit(x)  # the defaults are β = γ = 1
    assert np.array_equal(default.kernel_, w.kernel_) and np.array_equal(default.mean_, w.mean_)
    assert np.array_equal(default.transform(x), w.transform(x))
    assert np.array_equal(w.data_mean_, w.mean_)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beta_gamma_zero_at_full_dimension_keeps_every_cosine(seed):
    x = correlated(d=24, seed=seed) + 3.0  # a large common offset: the case where centring would change cosines
    y = Whitening(beta=0.0, gamma=0.0).fit_transform(x)
    xn = x.astype(np.float64)
    xn /= np.linalg.norm(xn, axis=1, keepdims=True)
    # ỹ = x·U with U orthogonal (to float64 rounding); the only error is the float32 output rounding, ≤ 2·eps32
    # per cosine of unit vectors, 4·eps32 (4.8e-7) with margin — below the 1e-6
    assert np.abs(gram(y) - gram(xn)).max() <= 4 * EPS32
    # ... and the map is a pure rotation: no centre, orthonormal kernel
    w = Whitening(beta=0.0, gamma=0.0).fit(x)
    assert not w.mean_.any()
    np.testing.assert_allclose(w.kernel_.T @ w.kernel_, np.eye(24), atol=1e-12)


def test_gamma_zero_keeps_null_directions_and_does_not_warn():
    x = correlated(n=10, d=32)  # rank ≤ 9: γ = 1 would warn and zero 23 columns, a rotation scales nothing
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = Whitening(beta=0.0, gamma=0.0).fit_transform(x)
    xn = x.astype(np.float64) / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    assert np.abs(gram(y) - gram(xn)).max() <= 4 * EPS32


def test_with_params_equals_a_fresh_fit():
    x = correlated()
    base = Whitening(n_components=8).fit(x)
    for beta, gamma in [(0.0, 0.0), (0.5, 1.0), (1.0, 1.0)]:
        a = base.with_params(beta, gamma)
        b = Whitening(n_components=8, beta=beta, gamma=gamma).fit(x)
        assert np.array_equal(a.kernel_, b.kernel_) and np.array_equal(a.mean_, b.mean_)
    # the copy shares no mutable state with its source
    c = base.with_params(0.0, 0.0)
    c.partial_fit(x[:20])
    assert base.n_samples_seen_ == len(x) and c.n_samples_seen_ == len(x) + 20


def test_save_load_round_trip_keeps_beta_gamma(tmp_path):
    x = correlated()
    w = Whitening(n_components=5, beta=0.3, gamma=0.6, fit_on="test", source_model="m").fit(x)
    back = Whitening.load(w.save(tmp_path / "w.safetensors"))
    assert (back.beta, back.gamma) == (0.3, 0.6)
    for attr in ("mean_", "data_mean_", "kernel_", "eigenvalues_"):
        assert np.array_equal(getattr(back, attr), getattr(w, attr)), attr
    assert np.array_equal(back.transform(x), w.transform(x))
    assert "beta=0.3" in repr(back)
    # the loaded statistics go on streaming: equals one fit on everything
    back.partial_fit(x[:50])
    ref = Whitening(n_components=5, beta=0.3, gamma=0.6).fit(np.concatenate([x, x[:50]]))
    np.testing.assert_allclose(gram(back.transform(x)), gram(ref.transform(x)), atol=4 * EPS32)


def test_version_1_files_load_as_standard_whitening(tmp_path):
    from safetensors.numpy import save_file

    x = correlated()
    w = Whitening().fit(x)
    meta = {"format": "simlab-whitening", "version": "1", "d": "16", "k": "16", "n_samples": str(len(x)),
            "normalize": "true", "rel_eps": "1e-08", "fit_on": "", "source_model": ""}
    save_file({"mean": w.mean_, "kernel": w.kernel_, "eigenvalues": w.eigenvalues_}, str(tmp_path / "v1.st"),
              metadata=meta)
    old = Whitening.load(tmp_path / "v1.st")
    assert (old.beta, old.gamma) == (1.0, 1.0) and np.array_equal(old.data_mean_, w.mean_)
    assert np.array_equal(old.transform(x), w.transform(x))


@pytest.mark.parametrize("bad", [{"beta": -0.1}, {"gamma": 1.5}, {"beta": "x"}])
def test_out_of_range_is_a_whitening_error(bad):
    with pytest.raises(WhiteningError, match="beta|gamma"):
        Whitening(**bad)


def test_kernel_from_covariance_gamma():
    cov = np.diag([16.0, 4.0, 1.0])
    W, lam = kernel_from_covariance(cov, gamma=0.5)
    np.testing.assert_allclose(np.abs(W).max(axis=0), [16 ** -0.25, 4 ** -0.25, 1.0])
    np.testing.assert_allclose(lam, [16, 4, 1])
