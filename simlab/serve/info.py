"""``GET /info``: what is served and how (model, weights hash, engine, precision, pooling, whitening and its
supported k, limits, token-id handling, self-check, indexes, version), like TEI's ``/info``.

For the whitening, each suggested k reports the share of the pooled vectors' variance its components carry
(Σ_{i≤k} λ_i / Σ λ, from the whitening's eigenvalues) and, where measured, the STS quality per k
(``quality``, filled by :mod:`simlab.serve.quality` when the whitening is fitted on a task at start-up).
"""

from __future__ import annotations

import numpy as np

SUGGESTED_K = (32, 64, 128, 256, 384, 512, 768, 1024)


def whitening_k(pipeline) -> dict | None:
    w = pipeline.whitening
    if w is None:
        return None
    lam = np.asarray(w.eigenvalues_, dtype=np.float64)
    total = float(np.sum(lam)) or 1.0
    ks = sorted({k for k in SUGGESTED_K if k < pipeline.k_max} | {pipeline.k_max})
    return {"supported": [1, pipeline.k_max], "default": pipeline.default_k,
            "variance_kept": {str(k): round(float(np.sum(lam[:k])) / total, 4) for k in ks}}


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
                      "provenance": getattr(state, "whitening_note", None),
                      "quality": getattr(state, "quality", None)} if p.whitening is not None else None,
        "limits": {**cfg.limits.describe(), "max_tokens_per_input": p.max_tokens},
        "token_ids": state.token_ids.describe() if state.token_ids else None,
        "self_check": state.self_check,
        "startup_seconds": state.loaded_seconds,
        "indexes": sorted(state.indexes),
        "batches_run": state.batcher.batches if state.batcher else 0,
        "telemetry": "none",
    })
    return out
