"""faiss indexes for inner-product search on L2-normalised vectors (= cosine), plus the exact numpy reference.

| kind  | faiss class                                   | knobs (defaults)                             |
|-------|-----------------------------------------------|----------------------------------------------|
| flat  | ``IndexFlatIP``: exact, brute force (BLAS)     | —                                            |
| hnsw  | ``IndexHNSWFlat(d, M, METRIC_INNER_PRODUCT)``  | ``M`` 32, ``ef_construction`` 80, ``ef_search`` 64 |
| ivf   | ``IndexIVFFlat(IndexFlatIP, d, nlist, IP)``    | ``nlist`` ≈ 4·√n, ``nprobe`` 8                |
| ivfpq | ``IndexIVFPQ(IndexFlatIP, d, nlist, m, nbits, IP)`` | as ivf, ``m`` = largest divisor of d ≤ d/4, ``nbits`` 8 |

IVF-PQ (Jégou, Douze & Schmid 2011, "Product quantization for nearest neighbor search") stores m·nbits/8 bytes
per vector instead of 4·d: the index that fits 10^8 vectors in one machine's memory.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(100, 8)).astype("float32")
>>> x /= np.linalg.norm(x, axis=1, keepdims=True)
>>> index = make_index("flat", x)
>>> scores, rows = search_index(index, x[:2], 3)
>>> rows[:, 0].tolist()
[0, 1]
"""

from __future__ import annotations

import math

import numpy as np

KINDS = ("flat", "hnsw", "ivf", "ivfpq")
DEFAULTS = {"flat": {}, "hnsw": {"M": 32, "ef_construction": 80, "ef_search": 64}, "ivf": {"nlist": None, "nprobe": 8},
            "ivfpq": {"nlist": None, "nprobe": 8, "m": None, "nbits": 8}}
TRAINED = ("ivf", "ivfpq")  # kinds that learn centroids (and codebooks) before vectors are added


def _faiss():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss is a declared extra
        raise ImportError("retrieval needs faiss: pip install 'simlab[faiss]' (faiss-cpu)") from exc
    return faiss


def index_params(kind: str, n: int, d: int | None = None, **overrides) -> dict:
    """The full parameter set of an index kind for ``n`` (training) vectors of dimension ``d`` (defaults filled
    in, unknown keys rejected; ivfpq needs ``d``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown index type {kind!r}; choose from {', '.join(KINDS)}")
    params = dict(DEFAULTS[kind])
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in params:
            raise ValueError(f"index type {kind!r} has no parameter {key!r} (it has: {', '.join(params) or 'none'})")
        params[key] = int(value)
    if kind in TRAINED:
        # faiss wants ≥ 39 training points per centroid; 4·√n is the usual rule of thumb
        nlist = params["nlist"] or max(1, int(4 * math.sqrt(n)))
        params["nlist"] = max(1, min(nlist, n // 39 or 1))
        params["nprobe"] = min(params["nprobe"], params["nlist"])
    if kind == "ivfpq":
        if d is None:
            raise ValueError("ivfpq parameters need the vector dimension d")
        m = params["m"] or max(x for x in range(1, max(1, d // 4) + 1) if d % x == 0)
        if d % m:
            raise ValueError(f"ivfpq: m={m} sub-quantizers must divide the dimension {d}")
        params["m"] = m
        # a codebook of 2^nbits centroids per sub-space needs ≥ 39 training points per centroid, as above
        params["nbits"] = max(1, min(params["nbits"], int(math.log2(max(2, n // 39)))))
    return params


def make_index(kind: str, vectors: np.ndarray, seed: int = 0, **params):
    """A trained faiss index of ``kind`` holding ``vectors`` (N, d) float32 as rows 0..N-1."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"expected a non-empty (N, d) matrix of vectors, got shape {x.shape}")
    n, d = x.shape
    p = index_params(kind, n, d, **params)
    index = empty_index(kind, d, p, seed)
    if kind in TRAINED:
        index.train(x)
    index.add(x)
    configure(index, kind, p)
    return index


def empty_index(kind: str, d: int, params: dict, seed: int = 0):
    """An empty faiss index of ``kind`` with the full ``params`` of :func:`index_params` (untrained for ivf*)."""
    faiss = _faiss()
    if kind == "flat":
        return faiss.IndexFlatIP(d)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, params["M"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params["ef_construction"]
        return index
    quantizer = faiss.IndexFlatIP(d)  # faiss's Python wrapper keeps ``quantizer`` alive as long as ``index``
    if kind == "ivf":
        index = faiss.IndexIVFFlat(quantizer, d, params["nlist"], faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFPQ(quantizer, d, params["nlist"], params["m"], params["nbits"],
                                 faiss.METRIC_INNER_PRODUCT)
        index.pq.cp.seed = seed
    index.cp.seed = seed
    return index


def configure(index, kind: str, params: dict) -> None:
    """Apply the search-time knobs (``ef_search`` / ``nprobe``), which faiss does not serialise."""
    if kind == "hnsw":
        index.hnsw.efSearch = int(params["ef_search"])
    elif kind in TRAINED:
        index.nprobe = int(params["nprobe"])


def search_index(index, queries: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, rows), each (Q, top); rows are −1 where fewer than ``top`` results exist."""
    q = np.ascontiguousarray(queries, dtype=np.float32)
    if q.ndim != 2 or q.shape[1] != index.d:
        raise ValueError(f"queries have shape {q.shape}; this index holds vectors of dimension {index.d}")
    if top < 1:
        raise ValueError(f"top must be ≥ 1, got {top}")
    return index.search(q, int(top))


def exact_search(corpus: np.ndarray, queries: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """The numpy brute-force reference: top-``top`` inner products, ties broken by the lower row."""
    s = np.asarray(queries, dtype=np.float64) @ np.asarray(corpus, dtype=np.float64).T  # (Q, N)
    top = min(int(top), s.shape[1])
    rows = np.argsort(-s, axis=1, kind="stable")[:, :top]
    return np.take_along_axis(s, rows, axis=1), rows


def serialize(index) -> bytes:
    return _faiss().serialize_index(index).tobytes()


def deserialize(data: bytes, kind: str, params: dict):
    index = _faiss().deserialize_index(np.frombuffer(data, dtype=np.uint8))
    configure(index, kind, params)
    return index
