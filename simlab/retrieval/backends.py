"""faiss indexes for inner-product search on L2-normalised vectors (= cosine), plus the exact numpy reference.

| kind  | faiss class                                   | knobs (defaults)                             |
|-------|-----------------------------------------------|----------------------------------------------|
| flat  | ``IndexFlatIP``: exact, brute force (BLAS)     | —                                            |
| hnsw  | ``IndexHNSWFlat(d, M, METRIC_INNER_PRODUCT)``  | ``M`` 32, ``ef_construction`` 80, ``ef_search`` 64 |
| ivf   | ``IndexIVFFlat(IndexFlatIP, d, nlist, IP)``    | ``nlist`` ≈ 4·√n, ``nprobe`` 8                |

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

KINDS = ("flat", "hnsw", "ivf")
DEFAULTS = {"flat": {}, "hnsw": {"M": 32, "ef_construction": 80, "ef_search": 64}, "ivf": {"nlist": None, "nprobe": 8}}


def _faiss():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss is a declared extra
        raise ImportError("retrieval needs faiss: pip install 'simlab[faiss]' (faiss-cpu)") from exc
    return faiss


def index_params(kind: str, n: int, **overrides) -> dict:
    """The full parameter set of an index kind for ``n`` vectors (defaults filled in, unknown keys rejected)."""
    if kind not in KINDS:
        raise ValueError(f"unknown index type {kind!r}; choose from {', '.join(KINDS)}")
    params = dict(DEFAULTS[kind])
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in params:
            raise ValueError(f"index type {kind!r} has no parameter {key!r} (it has: {', '.join(params) or 'none'})")
        params[key] = int(value)
    if kind == "ivf":
        # faiss wants ≥ 39 training points per centroid; 4·√n is the usual rule of thumb
        nlist = params["nlist"] or max(1, int(4 * math.sqrt(n)))
        params["nlist"] = max(1, min(nlist, n // 39 or 1))
        params["nprobe"] = min(params["nprobe"], params["nlist"])
    return params


def make_index(kind: str, vectors: np.ndarray, seed: int = 0, **params):
    """A trained faiss index of ``kind`` holding ``vectors`` (N, d) float32 as rows 0..N-1."""
    faiss = _faiss()
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"expected a non-empty (N, d) matrix of vectors, got shape {x.shape}")
    n, d = x.shape
    p = index_params(kind, n, **params)
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, p["M"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = p["ef_construction"]
    else:
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, p["nlist"], faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.train(x)  # faiss's Python wrapper keeps ``quantizer`` alive as long as ``index``
    index.add(x)
    configure(index, kind, p)
    return index


def configure(index, kind: str, params: dict) -> None:
    """Apply the search-time knobs (``ef_search`` / ``nprobe``), which faiss does not serialise."""
    if kind == "hnsw":
        index.hnsw.efSearch = int(params["ef_search"])
    elif kind == "ivf":
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
