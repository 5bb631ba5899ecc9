"""Is a whitening file the one for this model and pooling? Refuse it when it is not.

A simlab whitening file records ``source_model`` (``name@weights-sha256`` for ``simlab whiten`` on text, the
VECTORS_DIR's model for ``--vectors``), ``fit_on`` and, since issue 21, ``pooling``; older files lack the pooling.
So:

- model: the weights hash (or, for a bare name, the name) must equal the served encoder's;
- pooling: when the file records it (its ``pooling`` field, or ``pooling=...`` in ``fit_on`` as
  ``--fit-whitening`` writes) it must match (:func:`simlab.whitening.source.check_source`); otherwise the
  probe sentences are pooled every available way and whitened with the file's (μ, W). Whitening makes the fitted
  vectors' covariance the identity (arXiv 2103.15316 §3.1), so for the pooling it was fitted on the mean squared
  whitened norm per component, s = E‖(x − μ)W‖² / k, is of order 1; for another pooling μ and W are a foreign
  frame and s is typically orders of magnitude away. The file is refused when another pooling fits it more than
  ``RATIO`` times better (in |log s|). Only for γ = 1 (full whitening; a rotation has no scale to test).

>>> import numpy as np
>>> fit_score(np.eye(3), np.zeros(3), np.eye(3))
0.333...
"""

from __future__ import annotations

import re

import numpy as np

from simlab.errors import WhiteningError

RATIO = 8.0  # how much better another pooling must fit before the file is refused


def fit_score(X: np.ndarray, mean: np.ndarray, kernel: np.ndarray) -> float:
    """s = mean over rows of ‖(x − μ)W‖² / k: ≈ 1 for vectors from the distribution the whitening was fitted on."""
    y = (np.asarray(X, dtype=np.float64) - mean) @ kernel
    return float(np.mean(np.sum(y * y, axis=1)) / kernel.shape[1])


def check_model(white, encoder, path: str) -> str:
    """Raise WhiteningError when ``white`` was fitted on another model (or dimension); returns a note."""
    if white.n_features_in_ != encoder.dim:
        raise WhiteningError(f"{path}: the whitening was fitted on {white.n_features_in_}-dimensional vectors but "
                             f"{encoder.name} gives {encoder.dim}")
    src = (white.source_model or "").strip()
    if not src:
        return "the file does not record its model (only its dimension was checked)"
    if "@" in src:
        if src.rsplit("@", 1)[1] != encoder.identity.rsplit("@", 1)[1]:
            raise WhiteningError(f"{path}: the whitening was fitted on {src}, not on the served model "
                                 f"{encoder.identity}; fit one for this model with `simlab whiten --model ...`")
        return f"fitted on the same weights ({src})"
    if src != encoder.name:
        raise WhiteningError(f"{path}: the whitening was fitted on model {src!r}, not on the served {encoder.name!r}")
    return f"fitted on model {src!r} (name only; weights not recorded)"


def check_pooling(white, encoder, pooling: str, path: str, probes) -> dict:
    """Raise WhiteningError when the file was fitted on another pooling; returns the evidence for ``/info``."""
    if getattr(white, "pooling", None):
        from simlab.whitening.source import check_source

        check_source(white, path, pooling=pooling)
        return {"pooling": "recorded in the file"}
    named = re.search(r"pooling=([\w-]+)", white.fit_on or "")
    if named:
        if named.group(1) != pooling:
            raise WhiteningError(f"{path}: the whitening was fitted on {named.group(1)} vectors, not on {pooling}; "
                                 f"serve with --pooling {named.group(1)} or fit another")
        return {"pooling": "recorded in the file"}
    if white.gamma != 1.0:
        return {"pooling": "not recorded and not testable (γ ≠ 1); make sure it is " + pooling}
    vecs = encoder.encode_all(list(probes), poolings=list(encoder.poolings))
    scores = {p: fit_score(v, white.mean_, white.kernel_) for p, v in vecs.items()}
    best = min(scores, key=lambda p: abs(np.log(max(scores[p], 1e-300))))
    if best != pooling and abs(np.log(scores[pooling])) > abs(np.log(scores[best])) + np.log(RATIO):
        raise WhiteningError(
            f"{path}: this whitening looks fitted on {best} vectors, not {pooling} (mean squared whitened norm per "
            f"component on probe sentences: {pooling} {scores[pooling]:.3g}, {best} {scores[best]:.3g}; ≈ 1 "
            f"for the pooling it was fitted on); serve with --pooling {best} or fit another")
    return {"pooling": "not recorded; checked on probe sentences", "fit_scores": {p: round(s, 4)
                                                                                   for p, s in scores.items()}}
