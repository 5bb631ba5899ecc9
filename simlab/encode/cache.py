"""On-disk cache of sentence vectors, so re-scoring (new whitening, new k, a rerun) never re-encodes.

Key = sha256 of (model identity = name + weights hash, max_length, prefix, pooling, hash of the texts in order,
and the engine-precision variant with the CPU kind unless it is the exact torch/fp32 path, whose keys are
unchanged).
One ``.safetensors`` file per key holds the (N, d) float32 matrix and, in its metadata, the sha256 of the
matrix bytes: a truncated or corrupt file fails to open or fails the checksum, is deleted and rebuilt, never
used. Writes go to a temp file renamed into place (atomic).

>>> from simlab.encode.cache import VectorCache
>>> cache = VectorCache()                        # ~/.cache/simlab/vectors          # doctest: +SKIP
>>> vecs = cache.embed(encoder, texts, ["cls", "last-avg"], max_length=64)           # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from simlab.errors import CacheError
from simlab.io import atomic_write
from simlab.paths import cache_dir

log = logging.getLogger(__name__)
FORMAT = "simlab-vectors-1"


def texts_hash(texts: list[str]) -> str:
    """sha256 over the texts in order (length-prefixed, so ["ab", "c"] ≠ ["a", "bc"])."""
    h = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def cache_key(identity: str, max_length: int, prefix: str, pooling: str, text_digest: str, variant: str = "") -> str:
    """``variant`` = "engine-precision" ("" for torch/fp32): vectors of other engines/precisions never mix."""
    parts = [FORMAT, identity, str(int(max_length)), prefix, pooling, text_digest]
    if variant:
        parts.append(variant)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


class CorruptCacheError(CacheError):
    """A cache file is truncated, unreadable or fails its checksum."""


def _digest(vectors: np.ndarray) -> str:
    """sha256 of the matrix bytes (C order), read in place: no ``tobytes()`` copy of a possibly large matrix."""
    return hashlib.sha256(memoryview(np.ascontiguousarray(vectors)).cast("B")).hexdigest()


def save_vectors(path: Path, vectors: np.ndarray, meta: dict[str, str]) -> Path:
    from safetensors.numpy import save_file

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    meta = {**meta, "format": FORMAT, "sha256": _digest(vectors)}
    return atomic_write(path, lambda p: save_file({"vectors": vectors}, str(p), metadata=meta))


def load_vectors(path: Path) -> np.ndarray:
    """Read and verify a cache file; raise CorruptCacheError on any damage."""
    from simlab.io import load_safetensors

    tensors, meta = load_safetensors(path, "vector cache entry", CorruptCacheError)  # truncated, bad header, ...
    vectors = tensors.get("vectors")
    if vectors is None or meta.get("format") != FORMAT or _digest(vectors) != meta.get("sha256"):
        raise CorruptCacheError(f"{path}: checksum mismatch")
    return vectors


class VectorCache:
    """A folder of cached vector matrices (default ``~/.cache/simlab/vectors``)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else cache_dir("vectors")
        self.hits = 0
        self.misses = 0

    def path_for(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def get(self, key: str) -> np.ndarray | None:
        path = self.path_for(key)
        if not path.exists():
            return None
        try:
            return load_vectors(path)
        except CorruptCacheError as exc:
            log.warning("%s; rebuilding", exc)
            path.unlink(missing_ok=True)
            return None

    def embed(self, encoder, texts: list[str], poolings: list[str], max_length: int, batch_size: int = 64,
              show_progress_bar: bool | None = None) -> dict[str, np.ndarray]:
        """Vectors for every pooling, encoding (in one pass) only the poolings not yet cached."""
        digest = texts_hash(texts)
        variant = getattr(encoder, "variant", "")
        if variant:  # bf16 / int8 kernels differ by CPU kind (AMX bf16 vs an AVX2 fallback): never share them
            from simlab.machine import cpu_kind

            variant = f"{variant}@{cpu_kind()}"
        keys = {p: cache_key(encoder.identity, max_length, encoder.prefix, p, digest, variant) for p in poolings}
        out: dict[str, np.ndarray] = {}
        for p, key in keys.items():
            v = self.get(key)
            if v is not None and v.shape[0] == len(texts):
                out[p] = v
        missing = [p for p in poolings if p not in out]
        self.hits += len(poolings) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = encoder.encode_all(texts, poolings=missing, max_length=max_length, batch_size=batch_size,
                                       show_progress_bar=show_progress_bar)
            for p in missing:
                save_vectors(self.path_for(keys[p]), fresh[p],
                             {"model": encoder.identity, "max_length": str(max_length), "prefix": encoder.prefix,
                              "pooling": p, "texts_sha256": digest, "n": str(len(texts)),
                              "engine": getattr(encoder, "engine", "torch"),
                              "precision": getattr(encoder, "precision", "fp32")})
                out[p] = fresh[p]
        return {p: out[p] for p in poolings}


_DEFAULT: VectorCache | None = None


def cached_embed(encoder, texts, poolings, max_length, batch_size, show_progress_bar=None):
    """Drop-in for ``simlab.evaluate.runner.default_embed`` backed by the default cache folder."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = VectorCache()
    return _DEFAULT.embed(encoder, texts, poolings, max_length, batch_size, show_progress_bar)
