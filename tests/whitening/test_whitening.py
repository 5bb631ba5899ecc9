"""Whitening vs the spec's numpy reference and faiss PCAMatrix; streaming; edge cases; save/load."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab import testing as tb
from simlab.errors import WhiteningError
from simlab.whitening import Whitening, WhiteningWarning, compute_kernel_bias

# Tolerances below are derived from the unit roundoff (tb.U32 / tb.U64) and the conditioning of the whitening
# (its eigenvalue gaps and λ_min), see simlab.testing; none is a constant fitted to one machine.


def covariance_error(x, u):
    """(spectral-norm bound on the rounding of the sample covariance of x computed in precision u, bound on the
    rounding of its mean): the mean sums N values (γ_N), the scatter N products of centred rows (γ_{N+2});
    ‖·‖₂ ≤ ‖·‖_F; a backward-stable SVD adds d·u·‖Σ‖ (Higham §3.1, §19)."""
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    dmu = tb.gamma(n, u) * np.abs(x).mean(0)
    xc = np.abs(x - x.mean(0)) + dmu
    scatter_bound = tb.gamma(n + 2, u) * np.linalg.norm(xc.T @ xc) + n * float(dmu @ dmu)
    cov = np.cov(x.T)
    return scatter_bound / (n - 1) + d * u * np.linalg.norm(cov, 2), float(np.linalg.norm(dmu))


def cosine_shift(x, k, dS, dmu=0.0):
    """(N, N) bound on how far the cosines of the first k whitened dims move when the whitening comes from a
    covariance off by ≤ dS (spectral norm) and a mean off by ≤ dmu.

    Those cosines are aᵀPb / √(aᵀPa · bᵀPb), P = U_kΛ_k⁻¹U_kᵀ. With r the relative change of aᵀPa,
    |Δcos| ≤ (r_a + r_b)/√((1 − r_a)(1 − r_b)). For k = d, P = Σ⁻¹ and Σ̂⁻¹ = Σ^{-½}(I + F)⁻¹Σ^{-½} with
    ‖F‖ ≤ ρ = dS/λ_d, so r = ρ/(1 − ρ) for every row. For k < d, Weyl moves each λ by ≤ dS and Davis–Kahan
    turns the top-k subspace by sinΘ ≤ dS/(λ_k − λ_{k+1} − dS), so ‖ΔP‖ ≤ sinΘ/λ_k + (3dS + λ₁ sinΘ)/(λ_k(λ_k −
    3dS − λ₁ sinΘ)) and r = ‖x_c‖²‖ΔP‖ / aᵀPa. The mean error adds a direction change 2‖dμ‖/(√λ_k ‖y‖) per row.
    """
    x = np.asarray(x, dtype=np.float64)
    lam, U = np.linalg.eigh(np.cov(x.T))
    lam, U = lam[::-1], U[:, ::-1]
    d = len(lam)
    sin = 0.0 if k == d else dS / (lam[k - 1] - lam[k] - dS)
    spread = 3 * dS + lam[0] * sin
    assert 0 <= sin < 1 and spread < lam[k - 1], "perturbation too large for a first-order bound"
    dP = sin / lam[k - 1] + spread / (lam[k - 1] * (lam[k - 1] - spread))
    xc = x - x.mean(0)
    y = xc @ (U[:, :k] / np.sqrt(lam[:k]))
    yn = np.linalg.norm(y, axis=1)
    if k == d:
        rho = dS / lam[-1]
        r = np.full(len(x), rho / (1 - rho))
    else:
        r = np.linalg.norm(xc, axis=1) ** 2 * dP / yn**2
    e = 2 * dmu / (np.sqrt(lam[k - 1]) * yn)
    shift = (r[:, None] + r[None, :]) / np.sqrt((1 - r[:, None]) * (1 - r[None, :]))
    return shift + e[:, None] + e[None, :] + e[:, None] * e[None, :]


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


def assert_whitened_identity(x, w, cols):
    """np.cov of the float32 output's first ``cols`` columns is I and their mean 0, to derived precision: the
    float64 whitening is exact up to the covariance's rounding over λ_min (kept), the output's float32 rounding
    |E| ≤ U32|y| enters the covariance as (|y_c|ᵀE_c + E_cᵀ|y_c| + E_cᵀE_c)/(N − 1)."""
    y = w.transform(x).astype(np.float64)[:, :cols]
    W = w.kernel_[:, :cols]
    Y = (np.asarray(x, dtype=np.float64) - w.mean_) @ W  # the float64 values before rounding
    n = len(x)
    E = tb.U32 * np.abs(Y) + tb.affine_bound(x, W, np.abs(w.mean_) @ np.abs(W), tb.U64, 0.0)
    Ec, Yc = E + E.mean(0), np.abs(Y - Y.mean(0))
    cast = (Yc.T @ Ec + Ec.T @ Yc + Ec.T @ Ec) / (n - 1)
    numpy_cov = tb.gamma(n + 2, tb.U64) * (Yc + Ec).T @ (Yc + Ec) / (n - 1)
    exact = covariance_error(x, tb.U64)[0] / w.eigenvalues_[cols - 1]  # W̃ᵀΣW̃ − I from the rounded Σ
    assert np.all(np.abs(np.cov(y.T) - np.eye(cols)) <= cast + numpy_cov + exact)
    mean_tol = E.mean(0) + 2 * tb.gamma(n, tb.U64) * (np.abs(x).mean(0) @ np.abs(W))
    assert np.all(np.abs(y.mean(0)) <= mean_tol)


@pytest.mark.parametrize("k", [16, 8, 3])
def test_matches_numpy_reference(k):
    x = correlated()
    w = Whitening(n_components=k).fit(x)
    ours = w.transform(x)
    ref = reference_transform(x, k)
    # eigenvector signs may differ per column; cosines between rows cannot. Both covariances are float64 (one
    # from np.cov, one streamed), ours is rounded to float32 at the end and its cosines summed in float32.
    dS = 2 * covariance_error(x, tb.U64)[0]
    e_ours = tb.transform_error(x, w)
    e_ref = tb.unit_rows_bound(tb.affine_bound(x, w.kernel_, np.abs(w.mean_) @ np.abs(w.kernel_), tb.U64, 0.0),
                               (x - w.mean_) @ w.kernel_, tb.U64)
    tol = cosine_shift(x, k, dS) + tb.cosine_bound(e_ours, e_ours, k) + tb.cosine_bound(e_ref, e_ref, k, tb.U64)
    assert np.all(np.abs(ours @ ours.T - ref @ ref.T) <= tol)
    assert ours.shape == (len(x), k)


def test_whitened_covariance_is_identity():
    x = correlated()
    w = Whitening(normalize=False).fit(x)
    assert_whitened_identity(x, w, x.shape[1])


@pytest.mark.parametrize("k", [16, 6])
def test_matches_faiss_pca_eigen_power(k):
    faiss = pytest.importorskip("faiss")
    # faiss trains in float32 (mean and covariance), so the top-k subspace it finds is only as good as the float32
    # covariance allows: Davis–Kahan divides that error by the gap λ_k − λ_{k+1}. A spectrum with a clear gap
    # after the 6th direction (and λ_min = 0.25) keeps the derived bound far below the whitening / plain-PCA gap.
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    x = (rng.normal(size=(400, 16)) * np.r_[np.linspace(2, 1.5, 6), np.linspace(0.6, 0.5, 10)]) @ Q.T
    x = x.astype(np.float32)
    pca = faiss.PCAMatrix(16, k, -0.5)
    pca.train(np.ascontiguousarray(x))
    fy = pca.apply(np.ascontiguousarray(x)).astype(np.float64)
    fy /= np.linalg.norm(fy, axis=1, keepdims=True)
    w = Whitening(n_components=k).fit(x)
    ours = w.transform(x).astype(np.float64)
    # faiss: covariance and mean in float32, eigenvectors in float64, apply = one float32 affine map
    dS32, dmu32 = covariance_error(x, tb.U32)
    dS64 = covariance_error(x, tb.U64)[0]
    e_faiss = tb.unit_rows_bound(tb.affine_bound(x, w.kernel_, np.abs(w.mean_) @ np.abs(w.kernel_)),
                                 (x - w.mean_) @ w.kernel_, tb.U64)
    e_ours = tb.transform_error(x, w)
    tol = (cosine_shift(x, k, dS32 + dS64, dmu32) + tb.cosine_bound(e_faiss, e_faiss, k, tb.U64)
           + tb.cosine_bound(e_ours, e_ours, k, tb.U64))
    assert np.all(np.abs(ours @ ours.T - fy @ fy.T) <= tol)
    # the bound still tells whitening from plain PCA (eigen_power 0), the convention this test pins down
    plain = faiss.PCAMatrix(16, k, 0.0)
    plain.train(np.ascontiguousarray(x))
    py = plain.apply(np.ascontiguousarray(x)).astype(np.float64)
    py /= np.linalg.norm(py, axis=1, keepdims=True)
    assert (np.abs(py @ py.T - fy @ fy.T) > tol).mean() > 0.5


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
        # float64 means: N terms summed, plus one rounding per merge
        assert np.all(np.abs(other.mean_ - one.mean_) <= 2 * tb.gamma(len(x) + 2 * n_chunks, tb.U64)
                      * np.abs(x).mean(0))
        a, b = other.transform(x), one.transform(x)  # float32 unit rows, float32 dot products
        e_a, e_b = tb.transform_error(x, other), tb.transform_error(x, one)
        dS = 2 * covariance_error(x, tb.U64)[0] * (1 + n_chunks)  # the Chan merges round once per batch
        kept = int(np.count_nonzero(np.abs(one.kernel_).sum(0)))  # some seeds give a (near) null direction
        tol = cosine_shift(x, kept, dS) + tb.cosine_bound(e_a, e_a, 12) + tb.cosine_bound(e_b, e_b, 12)
        assert np.all(np.abs(a @ a.T - b @ b.T) <= tol)


def test_fewer_samples_than_dims_is_finite_and_warns():
    x = correlated(n=10, d=32)  # rank of the centred data ≤ N − 1 = 9
    with pytest.warns(WhiteningWarning, match="no variance in 23 of 32"):
        w = Whitening(normalize=False).fit(x)
        y = w.transform(x).astype(np.float64)  # μ and W are computed lazily, on first use
    assert np.all(np.isfinite(y))
    # the first 9 directions are whitened exactly; the other 23 are zero columns, not amplified noise
    assert np.count_nonzero(np.abs(w.kernel_).sum(0)) == 9
    assert_whitened_identity(x, w, 9)
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
    assert_whitened_identity(y, w, 15)


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
    with pytest.raises(WhiteningError, match="n_components = 40 exceeds the vector dimension d = 16"):
        Whitening(n_components=40).fit(correlated())  # never a silent clamp to d


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
