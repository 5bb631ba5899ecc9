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


# what faiss accepts: HNSW M = 0 aborts the process and M = 1 segfaults (faiss 1.x HNSW.cpp), efSearch = 0 returns
# one hit, nprobe = 0 fails at search time, PQ nbits = 0 segfaults and nbits > 24 is refused by ProductQuantizer
LIMITS = {"M": (2, None), "ef_construction": (1, None), "ef_search": (1, None), "nlist": (1, None),
          "nprobe": (1, None), "m": (1, None), "nbits": (1, 24)}
FLAGS = {"M": "--hnsw-m", "ef_search": "--ef-search", "nlist": "--nlist", "nprobe": "--nprobe", "m": "--pq-m",
         "nbits": "--pq-nbits"}  # how `simlab index build` spells them


def check_params(kind: str, d: int | None = None, **overrides) -> dict:
    """The given knobs of ``kind`` as ints, checked before faiss sees them (faiss aborts or crashes the whole
    process on some): unknown names, non-integers and values out of :data:`LIMITS` are a BadInputError naming
    the knob (and its CLI flag); with ``d``, ivfpq's ``m`` must divide it. None values are left out.

    >>> check_params("hnsw", M=16)
    {'M': 16}
    >>> check_params("hnsw", M=0)
    Traceback (most recent call last):
    ...
    simlab.errors.BadInputError: hnsw: M (--hnsw-m) must be an integer ≥ 2, got 0
    """
    from simlab.errors import BadInputError

    if kind not in KINDS:
        raise BadInputError(f"unknown index type {kind!r}; choose from {', '.join(KINDS)}")
    out = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in DEFAULTS[kind]:
            raise BadInputError(f"index type {kind!r} has no parameter {key!r} (it has: "
                                f"{', '.join(DEFAULTS[kind]) or 'none'})")
        lo, hi = LIMITS[key]
        name = f"{key} ({FLAGS[key]})" if key in FLAGS else key
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo \
                or (hi is not None and value > hi):
            span = f"an integer ≥ {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
            raise BadInputError(f"{kind}: {name} must be {span}, got {value!r}")
        out[key] = int(value)
    if kind == "ivfpq" and d is not None and out.get("m") is not None and d % out["m"]:
        raise BadInputError(f"ivfpq: m={out['m']} sub-quantizers (--pq-m) must divide the vector dimension {d}")
    return out


def index_params(kind: str, n: int, d: int | None = None, **overrides) -> dict:
    """The full parameter set of an index kind for ``n`` (training) vectors of dimension ``d`` (defaults filled
    in, given knobs checked by :func:`check_params`; ivfpq needs ``d``)."""
    params = dict(DEFAULTS[kind]) if kind in DEFAULTS else {}
    params.update(check_params(kind, d, **overrides))
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
