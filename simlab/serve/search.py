"""Served indexes (``--index NAME=DIR``): a simlab index folder plus the pipeline that embeds its queries.

The query pipeline is rebuilt from the folder's ``index.json``: its model (loaded by the recorded name or path and
checked against the recorded weights hash), pooling, max length, prefix and projection (its own
``whitening.safetensors``, checked against the sha256 in ``index.json`` by :meth:`Index.load`). Then a self-check
re-embeds a few of the indexed documents and compares them with the stored vectors: anything that would give
silently wrong hits refuses to start instead (:class:`simlab.retrieval.index.IndexMismatchError`).

>>> idx = load_index(IndexSpec("faq", "faq-index"), EncoderCache())        # doctest: +SKIP
>>> idx.describe()["count"]                                                 # doctest: +SKIP
1200
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simlab.serve.config import IndexSpec
from simlab.serve.pipeline import Pipeline

CHECK_DOCS = 8
MIN_COSINE = {"fp32": 0.9999, "bf16": 0.99, "int8": 0.98}  # self-check thresholds by precision


class EncoderCache:
    """Encoders by (resolved path, engine, precision): the served model and an index on it share one."""

    def __init__(self, num_threads: int | None = None):
        self.num_threads = num_threads
        self._encoders: dict = {}

    def get(self, name: str, engine: str = "torch", precision: str = "fp32"):
        from simlab.encode import load_encoder
        from simlab.models.registry import resolve_model

        ref = resolve_model(name)
        key = (ref.path_or_id, engine, precision)
        if key not in self._encoders:
            self._encoders[key] = load_encoder(name, num_threads=self.num_threads, engine=engine, precision=precision)
        return self._encoders[key], ref


@dataclass
class ServedIndex:
    name: str
    folder: str
    index: object  # simlab.retrieval.Index
    pipeline: Pipeline
    check: dict

    def describe(self) -> dict:
        m = self.index.meta
        return {"object": "index", "id": self.name, "model": m["model"]["name"], "identity": m["model"].get("identity"),
                "engine": self.pipeline.encoder.engine, "precision": self.pipeline.encoder.precision,
                "pooling": m["pooling"], "prefix": m.get("prefix"), "max_length": m.get("max_length"),
                "projection": {k: v for k, v in m["projection"].items() if k != "whitening_file"},
                "dim": m["dim"], "count": m["count"], "type": m["index"]["type"], "checksum": m.get("checksum"),
                "self_check": self.check}

    def hits(self, Y: np.ndarray, top_k: int, min_score: float | None, return_text: bool) -> list[list[dict]]:
        scores, rows = self.index.search_vectors(Y, top_k)
        out = []
        for srow, rrow in zip(scores, rows):
            hits = []
            for s, r in zip(srow, rrow):
                if r < 0 or (min_score is not None and s < min_score):
                    continue
                hits.append({"id": str(self.index.ids[r]), "text": self.index.texts[r] if return_text else None,
                             "score": float(s), "rank": len(hits) + 1})
            out.append(hits)
        return out


def load_index(spec: IndexSpec, encoders: EncoderCache) -> ServedIndex:
    """Open, verify and self-check one index folder (IndexError_ / IndexMismatchError on any mismatch)."""
    from simlab.models.registry import SHORT_NAMES
    from simlab.retrieval import Index
    from simlab.retrieval.index import check_compatible

    index = Index.load(spec.folder, verify=True)  # sha256 of every file against index.json
    meta, m = index.meta, index.meta["model"]
    if m.get("identity") is None:
        from simlab.errors import IndexError_

        raise IndexError_(f"--index {spec.name}={spec.folder}: built from precomputed vectors, so the server cannot "
                          f"know how to embed its queries; build it from a corpus or a `simlab encode` folder")
    source = m["name"] if m["name"] in SHORT_NAMES or not m.get("path") else m["path"]
    encoder, ref = encoders.get(source, m.get("engine", "torch"), m.get("precision", "fp32"))
    check_compatible(meta, encoder=encoder)  # weights hash and dimension
    pipeline = Pipeline(encoder, meta["pooling"], prefix=meta.get("prefix") or "", prefixes=ref.prefixes,
                        max_tokens=meta.get("max_length") or None, projection=index.projection,
                        name=f"{spec.name}:{m['name']}")
    served = ServedIndex(spec.name, spec.folder, index, pipeline, {})
    served.check = self_check(served)
    return served


def self_check(served: ServedIndex) -> dict:
    """Re-embed the first indexed documents and compare with the stored vectors (flat: the vectors themselves;
    other kinds: the document must find itself with the score its own vector would get)."""
    from simlab.retrieval.index import IndexMismatchError

    index, p = served.index, served.pipeline
    n = min(CHECK_DOCS, len(index))
    if n == 0:
        return {"documents": 0}
    ids, _ = p.tokenize(list(index.texts[:n]))
    Y = p.project(p.forward(ids))
    floor = MIN_COSINE.get(p.encoder.precision, 0.98)
    if index.meta["index"]["type"] == "flat":
        stored = np.stack([index.faiss_index.reconstruct(i) for i in range(n)])
        cos = np.sum(stored * Y, axis=1)
    else:
        scores, rows = index.search_vectors(Y, min(10, len(index)))
        cos = np.array([s[list(r).index(i)] if i in r else -1.0 for i, (s, r) in enumerate(zip(scores, rows))])
    worst = float(cos.min())
    if worst < floor:
        raise IndexMismatchError(
            f"--index {served.name}={served.folder}: re-embedding its first {n} documents with the recorded model, "
            f"pooling, prefix and projection gives vectors with cosine {worst:.4f} to the stored ones (need ≥ "
            f"{floor}); the index was built differently from what index.json records; rebuild it")
    return {"documents": n, "min_cosine": round(worst, 6), "threshold": floor}
