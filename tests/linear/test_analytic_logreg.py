"""AnalyticLogisticRegression (kexue.fm 8578) against scikit-learn's LDA, a numpy formula, and sklearn's API checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from simlab.linear.analytic_logreg import (
    AnalyticLogisticRegression,
    class_statistics,
    closed_form_weights,
    ledoit_wolf_alpha,
)


def _std(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


# ---------------------------------------------------------------- parity with LDA and with the post's formula


@pytest.mark.parametrize("loader", [load_iris, load_wine, load_breast_cancer])
@pytest.mark.parametrize("shrinkage", [None, 0.3])
def test_decision_function_equals_lda(loader, shrinkage):
    X, y = _std(loader)
    ours = AnalyticLogisticRegression(shrinkage=shrinkage).fit(X, y)
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage).fit(X, y)
    np.testing.assert_allclose(ours.decision_function(X), lda.decision_function(X), rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.coef_, lda.coef_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), lda.predict_proba(X), rtol=0, atol=1e-8)
    assert np.array_equal(ours.predict(X), lda.predict(X))


def test_matches_posts_formula_with_explicit_inverse():
    # Σ = Σ̃ + μ̃μ̃ᵀ − Σ_i p_i μ_i μ_iᵀ (8578), w_i = Σ⁻¹μ_i, b_i = ln p_i − ½ μ_iᵀΣ⁻¹μ_i, written with np.linalg.inv
    X, y = _std(load_wine)
    classes, y_idx = np.unique(y, return_inverse=True)
    p = np.bincount(y_idx) / len(y)
    mu = np.stack([X[y == c].mean(0) for c in classes])
    mu_g = X.mean(0)
    sigma = np.cov(X.T, bias=True) + np.outer(mu_g, mu_g) - sum(p[i] * np.outer(mu[i], mu[i]) for i in range(3))
    inv = np.linalg.inv(sigma)
    W_ref = mu @ inv
    b_ref = np.log(p) - 0.5 * np.einsum("kd,de,ke->k", mu, inv, mu)

    means, freqs, cov = class_statistics(X, y_idx, 3)
    np.testing.assert_allclose(cov, sigma, atol=1e-12)
    W, b = closed_form_weights(means, freqs, cov)
    np.testing.assert_allclose(W, W_ref, atol=1e-9)
    np.testing.assert_allclose(b, b_ref, atol=1e-9)


def test_binary_equals_multiclass_in_two_class_case():
    X, y = _std(load_breast_cancer)
    clf = AnalyticLogisticRegression().fit(X, y)
    means, freqs, cov = class_statistics(X, y, 2)
    W, b = closed_form_weights(means, freqs, cov)  # the softmax form, two rows
    logits = X @ W.T + b  # (N, 2)
    np.testing.assert_allclose(clf.coef_[0], W[1] - W[0], atol=1e-10)
    np.testing.assert_allclose(clf.decision_function(X), logits[:, 1] - logits[:, 0], atol=1e-8)
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X), softmax, atol=1e-10)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(softmax), atol=1e-8)


def test_close_to_logistic_mle_when_the_gaussian_model_is_true():
    # shared-covariance Gaussian classes: the closed form and the logistic MLE estimate the same weights
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 3))
    mus = np.array([[0.0, 0.0, 0.0], [1.0, -0.5, 0.5], [-0.5, 1.0, 1.0]])
    y = rng.integers(0, 3, size=60_000)
    X = mus[y] + rng.normal(size=(len(y), 3)) @ A
    ours = AnalyticLogisticRegression().fit(X, y)
    mle = LogisticRegression(C=1e6, max_iter=1000).fit(X, y)
    # softmax weights are defined up to a shared offset: compare differences to class 0
    d_ours, d_mle = ours.coef_ - ours.coef_[0], mle.coef_ - mle.coef_[0]
    np.testing.assert_allclose(d_ours, d_mle, atol=0.05 * np.abs(d_mle).max())


# ---------------------------------------------------------------- shrinkage, priors


def test_shrinkage_makes_fewer_samples_than_features_finite_and_sensible():
    rng = np.random.default_rng(1)
    d, K = 200, 3
    centres = rng.normal(size=(K, d)) * 0.35
    y_tr, y_te = np.repeat(np.arange(K), 10), rng.integers(0, K, 600)  # 30 training samples, 200 features
    X_tr = centres[y_tr] + rng.normal(size=(30, d))
    X_te = centres[y_te] + rng.normal(size=(600, d))

    with pytest.warns(RuntimeWarning, match="not positive definite"):
        AnalyticLogisticRegression().fit(X_tr, y_tr)
    with pytest.raises(np.linalg.LinAlgError):
        AnalyticLogisticRegression(solver="cholesky").fit(X_tr, y_tr)

    for shrinkage in ["ledoit-wolf", 0.5]:
        clf = AnalyticLogisticRegression(shrinkage=shrinkage).fit(X_tr, y_tr)
        proba = clf.predict_proba(X_te)
        assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(proba))
        assert np.all(np.linalg.eigvalsh(clf.covariance_) > 0)
        assert clf.score(X_te, y_te) > 0.8, shrinkage  # chance is 1/3
    lw = AnalyticLogisticRegression(shrinkage="auto").fit(X_tr, y_tr)
    assert 0.5 < lw.shrinkage_ <= 1.0  # few samples → strong shrinkage


def test_ledoit_wolf_alpha_matches_sklearn():
    from sklearn.covariance import LedoitWolf

    rng = np.random.default_rng(2)
    R = rng.normal(size=(50, 20)) * rng.uniform(0.1, 10, size=20)
    R -= R.mean(0)
    ref = LedoitWolf(assume_centered=True).fit(R / R.std(0)).shrinkage_
    assert ledoit_wolf_alpha(R) == pytest.approx(ref, rel=1e-12)


def test_priors_only_move_the_bias():
    X, y = _std(load_iris)
    base = AnalyticLogisticRegression().fit(X, y)
    p = np.array([0.2, 0.3, 0.5])
    shifted = AnalyticLogisticRegression(priors=p).fit(X, y)
    np.testing.assert_allclose(shifted.coef_, base.coef_)
    np.testing.assert_allclose(shifted.intercept_ - base.intercept_, np.log(p) - np.log(base.priors_), atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"shrinkage": "oas"}, "shrinkage must be"),
        ({"shrinkage": 1.5}, "shrinkage must be"),
        ({"priors": [0.5, 0.5]}, "one entry per class"),
        ({"priors": [0.5, 0.4, 0.3]}, "sum to 1"),
        ({"priors": [0.0, 0.5, 0.5]}, "> 0"),
        ({"solver": "inv"}, "solver must be"),
    ],
)
def test_bad_parameters_raise_clear_errors(kwargs, match):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=match):
        AnalyticLogisticRegression(**kwargs).fit(X, y)


def test_single_class_raises():
    with pytest.raises(ValueError, match="at least 2 classes"):
        AnalyticLogisticRegression().fit(np.eye(4), [1, 1, 1, 1])


# ---------------------------------------------------------------- scikit-learn API


def test_public_import_path():
    import simlab.linear

    assert simlab.linear.AnalyticLogisticRegression is AnalyticLogisticRegression


def test_pipeline_and_cross_val_score():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), AnalyticLogisticRegression(shrinkage="ledoit-wolf"))
    scores = cross_val_score(pipe, X, y, cv=5)
    assert scores.mean() > 0.93
    Xs, ys = load_iris(return_X_y=True)
    pipe.fit(Xs, ys.astype(str))  # string labels round-trip through classes_
    assert set(pipe.predict(Xs)) <= {"0", "1", "2"}


# Exceptions: none of our own; every check runs. scikit-learn itself skips check_array_api_input unless
# SCIPY_ARRAY_API=1 (array-API inputs are not supported: we compute in float64 numpy) and skips
# check_classifier_data_not_an_array when pandas is missing; pytest reports those as skipped.
@parametrize_with_checks(
    [
        AnalyticLogisticRegression(),
        AnalyticLogisticRegression(shrinkage="ledoit-wolf"),
        AnalyticLogisticRegression(shrinkage=0.1, solver="lstsq"),
    ]
)
def test_sklearn_check_estimator(estimator, check):
    check(estimator)
