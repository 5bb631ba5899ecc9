"""``GET /info``: what is served and how (model, weights hash, engine, precision, pooling, whitening and its
supported k, limits, token-id handling, self-check, indexes, version), like TEI's ``/info``.

For the whitening, each suggested k reports the share of the pooled vectors' variance its components carry
(Σ_{i≤k} λ_i / Σ λ, from the whitening's eigenvalues) and, where measured, the STS quality per k
(``quality``, measured by :mod:`simlab.serve.quality` when the whitening is fitted on an STS task at
start-up; otherwise a line saying how to measure it).
"""

from __future__ import annotations

import numpy as np

from simlab.serve.quality import NOT_MEASURED

SUGGESTED_K = (32, 64, 128, 256, 384, 512, 768, 1024)


def suggested_ks(k_max: int) -> list[int]:
    """The k that ``/info`` describes: the suggested sizes below ``k_max``, and ``k_max``.

    >>> suggested_ks(384)
    [32, 64, 128, 256, 384]
    """
    return sorted({k for k in SUGGESTED_K if k < k_max} | {k_max})


def whitening_k(pipeline) -> dict | None:
    w = pipeline.whitening
    if w is None:
        return None
    lam = np.asarray(w.eigenvalues_, dtype=np.float64)
    total = float(np.sum(lam)) or 1.0
    ks = suggested_ks(pipeline.k_max)
    return {"supported": [1, pipeline.k_max], "default": pipeline.default_k,
            "variance_kept": {str(k): round(float(np.sum(lam[:k])) / total, 4) for k in ks}}


def _without(note: dict | None, key: str) -> dict | None:
    return None if note is None else {k: v for k, v in note.items() if k != key}


def describe(state) -> dict:
    import simlab

    p, cfg = state.pipeline, state.config
    out = {"version": getattr(simlab, "__version__", "?"), "phase": state.phase}
    if p is None:
        return out
    enc = p.encoder
    out.update({
        "model": p.name, "model_source": cfg.model, "weights": enc.identity, "engine": enc.engine,
        "precision": enc.precision, "threads": cfg.threads, "pooling": p.pooling, "prefix": p.prefix,
        "input_types": sorted(p.prefixes), "dim": p.dim, "output_dim": p.out_dim,
        "whitening": {**(p.describe().get("whitening") or {}), "k": whitening_k(p),
                      "provenance": _without(state.whitening_note, "quality"),
                      "quality": (state.whitening_note or {}).get("quality") or NOT_MEASURED}
        if p.whitening is not None else None,
        "limits": {**cfg.limits.describe(), "max_tokens_per_input": p.max_tokens},
        "token_ids": state.token_ids.describe() if state.token_ids else None,
        "self_check": state.self_check,
        "startup_seconds": state.loaded_seconds,
        "indexes": sorted(state.indexes),
        "batches_run": state.batcher.batches if state.batcher else 0,
        "telemetry": "none",
    })
    return out
