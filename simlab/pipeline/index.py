"""``simlab index build --vectors``: an :class:`~simlab.retrieval.Index` folder from a VECTORS_DIR, shard by shard.

- ``flat``: workers project their shard ((x − μ)W_k, normalised); the driver appends the rows to one
  ``IndexFlatIP`` in shard order (exact search; the driver holds N·k floats, which the index file needs anyway).
- ``ivf`` / ``ivfpq``: the driver trains the coarse quantizer (and PQ codebooks) on a seeded uniform sample of
  the projected vectors (``sample`` rows; all rows when ``sample ≥ N``), then every worker fills a copy of the
  trained empty index with its shard under the global row numbers (``add_with_ids``: the assignment to
  centroids and the PQ encoding, the expensive part, run in parallel) and the driver appends the inverted lists
  in shard order (``merge_from``). The lists then hold the rows in the same order as one ``add`` of all rows.

The result is the ordinary Index folder (index.json, index.faiss, docs.jsonl, whitening.safetensors), so
``simlab search`` and :meth:`Index.load` use it unchanged.

>>> from simlab.distributed import make_executor
>>> index = build_index("vecs", make_executor(None), whitening="w.safetensors", k=128, kind="ivf")  # doctest: +SKIP
>>> index.save("my-index")                                                                       # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from simlab.errors import BadInputError, IndexError_
from simlab.pipeline.vectors_dir import VectorsDir, load_vectors

KINDS = ("flat", "ivf", "ivfpq")  # hnsw graphs are built by one sequential insert, so they are not offered here


def project_shard(entry: dict, shared: dict) -> np.ndarray:
    """Runs in a worker: the shard's index-space vectors (n, k) float32."""
    X = load_vectors(shared["folder"], entry, verify=shared["verify"])
    return shared["projection"].apply(X)


def sample_shard(entry: dict, shared: dict) -> np.ndarray:
    """Runs in a worker: the projected sample rows of one shard (rows chosen by the driver)."""
    rows = shared["rows"].get(entry["shard"])
    X = load_vectors(shared["folder"], entry, verify=shared["verify"])
    return shared["projection"].apply(X[rows])


def fill_shard(entry: dict, shared: dict) -> bytes:
    """Runs in a worker: a copy of the trained empty index holding this shard's rows under their global numbers."""
    from simlab.retrieval import backends

    index = backends.deserialize(shared["trained"], shared["kind"], shared["params"])
    Y = project_shard(entry, shared)
    index.add_with_ids(Y, np.arange(entry["offset"], entry["offset"] + len(Y), dtype=np.int64))
    return backends.serialize(index)


def sample_rows(vectors: VectorsDir, size: int, seed: int = 0) -> dict[int, np.ndarray]:
    """A seeded uniform sample of ``size`` global rows without replacement, as sorted local rows per shard."""
    n = vectors.count
    rows = np.arange(n) if size >= n else np.sort(np.random.default_rng(seed).choice(n, size, replace=False))
    out = {}
    for e in vectors.shards:
        lo, hi = np.searchsorted(rows, [e["offset"], e["offset"] + e["n"]])
        if hi > lo:
            out[e["shard"]] = rows[lo:hi] - e["offset"]
    return out


def build_index(vectors, executor, *, whitening=None, k: int | None = None, kind: str = "flat",
                sample: int | None = None, seed: int = 0, verify: bool = True, log=None, **index_params):
    """An :class:`~simlab.retrieval.Index` of every vector of a VECTORS_DIR (path or VectorsDir).

    ``whitening``: None (plain vectors, or truncation to ``k``), a fitted Whitening or a path to a saved one.
    ``sample``: training rows for ivf/ivfpq (default max(64·nlist, 10 000), at most N).
    ``index_params``: the kind's knobs (``nlist``, ``nprobe``, ``m``, ``nbits``; see simlab.retrieval.backends).
    """
    from simlab.retrieval import Index, Projection, backends
    from simlab.whitening import Whitening

    log = log or (lambda msg: None)
    v = vectors if isinstance(vectors, VectorsDir) else VectorsDir(vectors)
    if kind not in KINDS:
        raise BadInputError(f"--vectors builds {', '.join(KINDS)} indexes, not {kind!r}")
    white = Whitening.load(whitening) if isinstance(whitening, (str, os.PathLike)) else whitening
    if white is not None:
        if white.n_features_in_ != v.dim:
            raise IndexError_(f"the whitening was fitted on dimension {white.n_features_in_} but {v.folder} holds "
                              f"vectors of dimension {v.dim}")
        projection = Projection.from_whitening(white, k)
    else:
        projection = Projection.plain(v.dim, k)
    shared = {"folder": str(v.folder), "projection": projection, "verify": verify}
    t0 = time.perf_counter()
    if kind == "flat":
        params = backends.index_params(kind, v.count, projection.k, **index_params)
        findex = backends.empty_index(kind, projection.k, params)
        for _, Y in executor.map(project_shard, v.shards, shared, ordered=True):
            findex.add(Y)
        n_train = 0
    else:
        nlist = index_params.pop("nlist", None) or max(1, int(4 * math.sqrt(v.count)))
        n_train = min(v.count, int(sample) if sample else max(64 * nlist, 10_000))
        params = backends.index_params(kind, n_train, projection.k, nlist=nlist, **index_params)
        rows = sample_rows(v, n_train, seed)
        parts = [Y for _, Y in executor.map(sample_shard, [e for e in v.shards if e["shard"] in rows],
                                            {**shared, "rows": rows}, ordered=True)]
        findex = backends.empty_index(kind, projection.k, params, seed)
        findex.train(np.concatenate(parts))
        pq = f", m={params['m']}, nbits={params['nbits']}" if kind == "ivfpq" else ""
        log(f"trained {kind} (nlist={params['nlist']}{pq}) on {n_train} of {v.count} vectors in "
            f"{time.perf_counter() - t0:.1f} s")
        del parts
        fill = {**shared, "trained": backends.serialize(findex), "kind": kind, "params": params}
        for _, blob in executor.map(fill_shard, [e for e in v.shards if e["n"]], fill, ordered=True):
            findex.merge_from(backends.deserialize(blob, kind, params), 0)
    backends.configure(findex, kind, params)
    seconds = time.perf_counter() - t0
    ids, texts = [], []
    for e in v.shards:
        i, t = v.docs(e, verify=verify)
        ids += i
        texts += t
    if findex.ntotal != v.count or len(ids) != v.count:
        raise IndexError_(f"built {findex.ntotal} vectors and {len(ids)} docs from {v.folder}, expected {v.count}")
    m = v.manifest
    meta = {
        "format": "simlab-index", "version": 1, "model": m["model"], "pooling": m["pooling"],
        "max_length": m["max_length"], "prefix": m["prefix"],
        "projection": {**projection.describe(), "fit_on": white.fit_on if white is not None else None,
                       "whitening_file": "whitening.safetensors" if white is not None else None,
                       **({"beta": white.beta, "gamma": white.gamma}  # kexue.fm/archives/9079, only when not 1, 1
                          if white is not None and (getattr(white, "beta", 1.0), getattr(white, "gamma", 1.0))
                          != (1.0, 1.0) else {})},
        "dim": projection.k, "count": v.count,
        "index": {"type": kind, "params": params, "metric": "inner_product", "normalized": True,
                  "build_seconds": round(seconds, 3), "trained_on": n_train or None},
        "corpus": {"source": f"vectors:{v.folder}", "format": "vectors", "documents": v.count,
                   "duplicates": len(texts) - len(set(texts)), "empty_lines": m["empty_lines"],
                   "empty_line_numbers": [], "files": [f["path"] for f in m["files"]]},
    }
    index = Index(findex, ids, texts, projection, meta)
    index._whitening = white
    return index
