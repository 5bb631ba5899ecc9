"""``simlab whiten --vectors``: BERT-whitening statistics per shard, merged exactly in float64.

Each shard's worker streams its memory-mapped vectors through :meth:`Whitening.partial_fit` in chunks of
``chunk_rows`` (memory O(chunk_rows · d + d²), whatever the shard or corpus size) and returns the partially
fitted Whitening (n, μ, scatter: O(d²) to send). The driver folds them in shard order with
:meth:`Whitening.merge` (the pairwise update of Chan, Golub & LeVeque 1979, :mod:`simlab.whitening.stats`);
the merge order is fixed, so one process and Ray give the same float64 bits, and both equal the in-memory
``Whitening().fit(X)`` up to float64 rounding (arXiv 2103.15316 §3.4: the statistics are O(d²), not O(N)).

>>> from simlab.distributed import make_executor
>>> w = fit_whitening("vecs", make_executor(None), n_components=128)        # doctest: +SKIP
"""

from __future__ import annotations

from simlab.pipeline.vectors_dir import VectorsDir, load_vectors

CHUNK_ROWS = 8192


def shard_moments(entry: dict, shared: dict):
    """Runs in a worker: the moment statistics of one shard (a Whitening with only its statistics set)."""
    from simlab.whitening import Whitening

    X = load_vectors(shared["folder"], entry, verify=shared["verify"])  # (n, d) float32, memory-mapped
    w = Whitening()
    for a in range(0, len(X), shared["chunk_rows"]):
        w.partial_fit(X[a:a + shared["chunk_rows"]])
    return w


def fit_whitening(vectors, executor, n_components: int | None = None, *, chunk_rows: int = CHUNK_ROWS,
                  verify: bool = True, **whitening_kwargs):
    """Fit a :class:`~simlab.whitening.Whitening` on every vector of a VECTORS_DIR (path or VectorsDir).

    ``whitening_kwargs`` go to the Whitening constructor (e.g. ``normalize``); ``verify`` checks each shard's
    sha256 against the manifest before reading it.
    """
    from simlab.whitening import Whitening

    v = vectors if isinstance(vectors, VectorsDir) else VectorsDir(vectors)
    total = Whitening(n_components=n_components, fit_on=f"vectors:{v.folder} ({v.count} vectors)",
                      source_model=v.model.get("identity") or v.model["name"],
                      **{"pooling": v.pooling, **whitening_kwargs})
    shared = {"folder": str(v.folder), "chunk_rows": int(chunk_rows), "verify": verify}
    for _, part in executor.map(shard_moments, v.shards, shared, ordered=True):
        total.merge(part)
    return total
