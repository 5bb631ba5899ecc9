"""Closed-form ("analytic") logistic / softmax regression — kexue.fm/archives/8578.

If every class is a Gaussian with its own mean μ_i and one shared covariance Σ, Bayes' rule makes
ln p(i|x) linear in x, and the softmax-regression weights can be written down without any optimisation:

    w_i = Σ⁻¹ μ_i,        b_i = ln p_i − ½ μ_iᵀ Σ⁻¹ μ_i                 # 8578 eq. for the softmax case

with p_i the class priors and Σ the pooled within-class covariance
Σ = Σ̃ + μ̃μ̃ᵀ − Σ_i p_i μ_i μ_iᵀ (global covariance + global mean term − between-class term, 1/N normalisation).
This is linear discriminant analysis (LDA) written as a logistic model. Instead of inverting Σ (or whitening
first, as the post suggests for stability) we solve Σ W = Mᵀ with a Cholesky factorisation, falling back to
least squares (with a warning) when Σ is singular.

Pure functions first (``class_statistics``, ``shrink_covariance``, ``closed_form_weights``), then the
scikit-learn estimator ``AnalyticLogisticRegression``.

>>> from sklearn.datasets import load_iris
>>> X, y = load_iris(return_X_y=True)
>>> clf = AnalyticLogisticRegression().fit(X, y)
>>> round(clf.score(X, y), 2)
0.98
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils.extmath import softmax
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = [
    "AnalyticLogisticRegression",
    "class_statistics",
    "closed_form_weights",
    "ledoit_wolf_alpha",
    "shrink_covariance",
]


# ----------------------------------------------------------------------------------------------------------
# pure functions
# ----------------------------------------------------------------------------------------------------------


def class_statistics(X: np.ndarray, y_idx: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class means, class frequencies and the pooled within-class covariance (1/N), 8578 "estimating the parameters".

    ``y_idx`` holds integer class indices 0..n_classes-1, every class present. Returns
    ``means (K, d)``, ``freqs (K,)``, ``cov (d, d)``.
    """
    n = X.shape[0]
    counts = np.bincount(y_idx, minlength=n_classes).astype(np.float64)  # (K,)
    if np.any(counts == 0):
        raise ValueError(f"every class needs at least one sample; empty class indices: {np.flatnonzero(counts == 0)}")
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), y_idx] = 1.0  # (N, K)
    means = (onehot.T @ X) / counts[:, None]  # (K, d)
    resid = X - means[y_idx]  # (N, d) within-class residuals
    cov = _gram(resid) / n  # (d, d) = Σ̃ + μ̃μ̃ᵀ − Σ p_i μ_i μ_iᵀ
    return means, counts / n, cov


def _gram(A: np.ndarray) -> np.ndarray:
    """AᵀA with the symmetric rank-k BLAS update (half the flops of A.T @ A)."""
    At = np.ascontiguousarray(A, dtype=np.float64).T  # (d, N), Fortran-ordered view: no copy for BLAS
    G = linalg.blas.dsyrk(1.0, At, trans=0, lower=0)  # upper triangle of At Atᵀ = AᵀA
    return np.triu(G) + np.triu(G, 1).T


def shrink_covariance(cov: np.ndarray, alpha: float) -> np.ndarray:
    """(1 − α) Σ + α · tr(Σ)/d · I — the convention of ``sklearn.covariance.shrunk_covariance``."""
    d = cov.shape[0]
    return (1.0 - alpha) * cov + alpha * (np.trace(cov) / d) * np.eye(d)


def ledoit_wolf_alpha(resid: np.ndarray, cov: np.ndarray | None = None) -> float:
    """Ledoit-Wolf shrinkage intensity for the covariance of centred residuals ``resid (N, d)``.

    Computed on standardised residuals (unit variance per feature), as scikit-learn's LDA does for
    ``shrinkage="auto"``, so that features on different scales are treated alike. Same formula as
    ``sklearn.covariance.ledoit_wolf_shrinkage`` (Ledoit & Wolf 2004), but in O(Nd + d²) given ``cov`` = residᵀresid/N:
    the fourth-moment term Σ_ij Σ_n z_ni² z_nj² equals Σ_n ‖z_n‖⁴.
    """
    n, d = resid.shape
    if cov is None:
        cov = _gram(resid) / n
    scale = np.sqrt(np.diag(cov))
    scale[scale == 0] = 1.0
    S = cov / np.outer(scale, scale)  # (d, d) covariance of the standardised residuals z
    row_sq = np.einsum("nd,nd->n", resid / scale, resid / scale)  # ‖z_n‖²
    mu = np.trace(S) / d  # shrinkage target μ I
    beta = (np.sum(row_sq**2) / n - np.sum(S**2)) / (d * n)
    delta = (np.sum(S**2) - 2.0 * mu * np.trace(S) + d * mu**2) / d  # ‖S − μI‖²_F / d
    beta = min(beta, delta)
    return 0.0 if beta == 0 else float(beta / delta)


def closed_form_weights(
    means: np.ndarray, priors: np.ndarray, cov: np.ndarray, solver: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """W (K, d) and b (K,) with w_i = Σ⁻¹μ_i, b_i = ln p_i − ½ μ_iᵀΣ⁻¹μ_i (8578), without forming Σ⁻¹.

    ``solver``: ``"cholesky"`` (fails on a singular Σ), ``"lstsq"`` (minimum-norm least squares), or
    ``"auto"`` (Cholesky, falling back to least squares with a ``RuntimeWarning``).
    """
    if solver not in ("auto", "cholesky", "lstsq"):
        raise ValueError(f"solver must be 'auto', 'cholesky' or 'lstsq', got {solver!r}")
    W = None
    if solver in ("auto", "cholesky"):
        try:
            W = linalg.cho_solve(linalg.cho_factor(cov, lower=True), means.T).T  # (K, d)
        except linalg.LinAlgError:
            if solver == "cholesky":
                raise
            warnings.warn(
                "shared covariance is not positive definite (fewer samples than features, or constant "
                "features); using the least-squares solution. Set shrinkage= to regularise.",
                RuntimeWarning,
                stacklevel=3,
            )
    if W is None:
        W = linalg.lstsq(cov, means.T)[0].T  # (K, d)
    b = np.log(priors) - 0.5 * np.einsum("kd,kd->k", means, W)  # (K,)
    return W, b


# ----------------------------------------------------------------------------------------------------------
# estimator
# ----------------------------------------------------------------------------------------------------------


class AnalyticLogisticRegression(LinearClassifierMixin, ClassifierMixin, BaseEstimator):
    """Logistic / softmax regression solved in closed form under a shared-covariance Gaussian model (kexue.fm 8578).

    Parameters
    ----------
    shrinkage : None, float in [0, 1], or "ledoit-wolf" (alias "auto")
        Regularises the shared covariance: ``(1 − α) Σ + α tr(Σ)/d I``. A float fixes α; "ledoit-wolf"
        picks α by the Ledoit-Wolf formula on the standardised within-class residuals. Needed when there are
        fewer samples than features.
    priors : None or array-like (n_classes,)
        Class priors p_i in the bias ln p_i, in the order of ``classes_``. None uses the class frequencies.
        The covariance is always the frequency-weighted pooled within-class covariance.
    solver : "auto", "cholesky" or "lstsq"
        How Σ W = Mᵀ is solved (see ``closed_form_weights``).

    Attributes
    ----------
    classes_, means_ (K, d), priors_ (K,), covariance_ (d, d) (after shrinkage), shrinkage_ (α used),
    coef_ ((1, d) for two classes, else (K, d)), intercept_, n_features_in_.
    For two classes ``coef_ = w₁ − w₀`` and ``intercept_ = b₁ − b₀`` (the binary formula of 8578).

    Example
    -------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), AnalyticLogisticRegression(shrinkage="ledoit-wolf"))
    >>> float(cross_val_score(clf, X, y, cv=5).mean()) > 0.9
    True
    """

    def __init__(self, shrinkage=None, priors=None, solver: str = "auto"):
        self.shrinkage = shrinkage
        self.priors = priors
        self.solver = solver

    # -- parameter checks --------------------------------------------------------------------------------
    def _check_shrinkage(self):
        s = self.shrinkage
        if s is None:
            return None
        if isinstance(s, str):
            if s in ("ledoit-wolf", "auto"):
                return "ledoit-wolf"
            raise ValueError(f"shrinkage must be None, a float in [0, 1] or 'ledoit-wolf'/'auto', got {s!r}")
        if isinstance(s, numbers.Real) and not isinstance(s, bool) and 0.0 <= float(s) <= 1.0:
            return float(s)
        raise ValueError(f"shrinkage must be None, a float in [0, 1] or 'ledoit-wolf'/'auto', got {s!r}")

    def _check_priors(self, freqs: np.ndarray) -> np.ndarray:
        if self.priors is None:
            return freqs
        p = np.asarray(self.priors, dtype=np.float64)
        if p.shape != freqs.shape:
            raise ValueError(f"priors must have one entry per class ({freqs.shape[0]}), got shape {p.shape}")
        if np.any(~np.isfinite(p)) or np.any(p <= 0):
            raise ValueError(f"priors must be finite and > 0 (ln p_i enters the bias), got {p}")
        if not np.isclose(p.sum(), 1.0, rtol=0, atol=1e-6):
            raise ValueError(f"priors must sum to 1, got sum {p.sum()}")
        return p

    # -- fit / predict -------------------------------------------------------------------------------------
    def fit(self, X, y):
        """Estimate class means, priors and the shared covariance, then write down w_i, b_i."""
        shrinkage = self._check_shrinkage()
        if self.solver not in ("auto", "cholesky", "lstsq"):
            raise ValueError(f"solver must be 'auto', 'cholesky' or 'lstsq', got {self.solver!r}")
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        K = len(self.classes_)
        if K < 2:
            raise ValueError(f"need samples of at least 2 classes, got 1 class: {self.classes_}")

        means, freqs, cov = class_statistics(X, y_idx, K)
        if shrinkage == "ledoit-wolf":
            alpha = ledoit_wolf_alpha(X - means[y_idx], cov)
            scale = np.sqrt(np.diag(cov))
            scale[scale == 0] = 1.0
            corr = cov / np.outer(scale, scale)  # shrink the standardised covariance, then scale back
            cov = np.outer(scale, scale) * shrink_covariance(corr, alpha)
        elif shrinkage is not None:
            alpha = shrinkage
            cov = shrink_covariance(cov, alpha)
        else:
            alpha = 0.0

        self.means_, self.priors_, self.covariance_, self.shrinkage_ = means, self._check_priors(freqs), cov, alpha
        W, b = closed_form_weights(means, self.priors_, cov, self.solver)
        if K == 2:  # binary: ln p(1|x)/p(0|x) = x(w₁ − w₀) + (b₁ − b₀)          # 8578 binary case
            self.coef_, self.intercept_ = (W[1] - W[0])[None, :], np.array([b[1] - b[0]])
        else:
            self.coef_, self.intercept_ = W, b
        return self

    def predict_proba(self, X):
        """p(i|x): sigmoid of the logit for two classes, softmax over the K logits otherwise."""
        check_is_fitted(self)
        scores = self.decision_function(X)
        if len(self.classes_) == 2:
            p1 = 0.5 * (1.0 + np.tanh(0.5 * scores))  # numerically safe sigmoid
            return np.column_stack([1.0 - p1, p1])
        return softmax(np.array(scores, dtype=np.float64, copy=True))

    def predict_log_proba(self, X):
        """ln p(i|x), computed from the logits without underflow."""
        scores = self.decision_function(X)
        if len(self.classes_) == 2:
            s = np.column_stack([np.zeros_like(scores), scores])
        else:
            s = scores
        return s - np.logaddexp.reduce(s, axis=1, keepdims=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags
