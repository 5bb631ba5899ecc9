"""``Index``: a self-describing folder of whitened (or plain) sentence vectors searchable with faiss.

Folder layout (every file checksummed in ``index.json``)::

    DIR/index.json              model name + weights hash + dim, pooling, max_length, prefix, projection (whiten |
                                truncate | none, k), faiss index type and knobs, count, corpus report, sha256 of files
    DIR/index.faiss             the faiss index (rows 0..N-1)
    DIR/docs.jsonl              {"id": ..., "text": ...} per row
    DIR/whitening.safetensors   μ and W (only for whitened indexes; the same file format as simlab.whitening)

>>> from simlab.encode import load_encoder                                           # doctest: +SKIP
>>> enc = load_encoder("e5-small")                                                   # doctest: +SKIP
>>> index = Index.build(read_corpus("lcqmc.txt"), enc, pooling="first-last-avg",
...                     whitening="fit", k=128)                                       # doctest: +SKIP
>>> index.save("lcqmc-index")                                                         # doctest: +SKIP
>>> Index.load("lcqmc-index").search("怎么申请信用卡", top=3)                           # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simlab.errors import BadInputError, IndexError_, MissingFileError
from simlab.retrieval import backends
from simlab.retrieval.corpus import Corpus
from simlab.retrieval.projection import Projection

FORMAT = "simlab-index"
VERSION = 1
META_FILE, INDEX_FILE, DOCS_FILE, WHITENING_FILE = "index.json", "index.faiss", "docs.jsonl", "whitening.safetensors"


class IndexMismatchError(IndexError_):
    """The index was built with another model, pooling or dimension than the one it is being used with."""


@dataclass
class Hit:
    """One search result."""

    id: str
    text: str
    score: float
    row: int


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Index:
    """Sentence vectors of a corpus in a faiss index, with everything needed to embed queries the same way.

    Use :meth:`build` (from a corpus and an encoder, or from precomputed model vectors), :meth:`save`,
    :meth:`load` and :meth:`search`.
    """

    def __init__(self, faiss_index, ids: list[str], texts: list[str], projection: Projection, meta: dict,
                 encoder=None):
        self.faiss_index = faiss_index
        self.ids = ids
        self.texts = texts
        self.projection = projection
        self.meta = meta
        self._encoder = encoder

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def build(cls, corpus: Corpus | list[str], encoder=None, *, vectors: np.ndarray | None = None,
              pooling: str = "first-last-avg", whitening=None, k: int | None = None, kind: str = "flat",
              batch_size: int = 64, embed=None, beta: float | None = None, gamma: float | None = None,
              **index_params) -> Index:
        """Embed ``corpus`` (or take its precomputed model ``vectors`` (N, d)), project, and index.

        ``whitening``: None (no whitening: k = d, or truncation to ``k``), a fitted
        :class:`~simlab.whitening.Whitening`, a path to a saved one, or ``"fit"`` (fit on the corpus itself).
        ``beta`` / ``gamma`` (kexue.fm/archives/9079, ỹ = (x − βμ) U Λ^{-γ/2}): for ``"fit"`` the β/γ to fit
        with (default 1, 1); for a given whitening, refit its saved moments with these β/γ (no data pass).
        ``kind``: ``flat`` (exact), ``hnsw``, ``ivf`` or ``ivfpq``; ``index_params`` are that kind's knobs
        (see :mod:`simlab.retrieval.backends`). ``embed(encoder, texts, poolings, max_length, batch_size)``
        may be a caching embed function (``simlab.encode.cache.cached_embed``).
        """
        from simlab.whitening import Whitening

        if not isinstance(corpus, Corpus):
            corpus = Corpus.from_texts(list(corpus))
        if vectors is None:
            if encoder is None:
                raise ValueError("Index.build needs an encoder or precomputed vectors")
            if embed is None:
                X = encoder.encode_all(corpus.texts, poolings=[pooling], batch_size=batch_size)[pooling]
            else:
                X = embed(encoder, corpus.texts, [pooling], encoder.max_length, batch_size)[pooling]
            model = encoder.info()
        else:
            X = np.asarray(vectors)
            if X.ndim != 2 or X.shape[0] != len(corpus):
                raise ValueError(f"vectors have shape {X.shape} but the corpus has {len(corpus)} documents")
            model = encoder.info() if encoder is not None else \
                {"name": "precomputed", "identity": None, "path": None, "dim": int(X.shape[1])}
        d = X.shape[1]
        if model["dim"] != d:
            raise IndexMismatchError(f"vectors have dimension {d} but the model {model['name']} has {model['dim']}")
        white = None
        fit_on = None
        if whitening is None or (isinstance(whitening, str) and whitening == "none"):
            pass
        elif isinstance(whitening, str) and whitening == "fit":
            white = Whitening(fit_on=f"corpus:{corpus.source or 'memory'}", pooling=pooling,
                              source_model=model.get("identity") or model["name"],
                              beta=1.0 if beta is None else beta, gamma=1.0 if gamma is None else gamma).fit(X)
        elif isinstance(whitening, (str, os.PathLike)):
            white = Whitening.load(whitening)
        elif whitening is not None:
            white = whitening
        if white is not None and (beta, gamma) != (None, None) and not (isinstance(whitening, str)
                                                                         and whitening == "fit"):
            white = white.with_params(white.beta if beta is None else beta, white.gamma if gamma is None else gamma)
        elif white is None and (beta, gamma) != (None, None):
            raise BadInputError("beta / gamma need a whitening (whitening='fit' or a saved one)")
        if white is not None:
            if white.n_features_in_ != d:
                raise IndexMismatchError(f"the whitening was fitted on dimension {white.n_features_in_} but the "
                                         f"model {model['name']} gives vectors of dimension {d}")
            projection = Projection.from_whitening(white, k)
            fit_on = white.fit_on
        else:
            projection = Projection.plain(d, k)
        Y = projection.apply(X)
        t0 = time.perf_counter()
        findex = backends.make_index(kind, Y, **index_params)
        params = backends.index_params(kind, len(Y), Y.shape[1], **index_params)
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "model": model,
            "pooling": pooling,
            "max_length": getattr(encoder, "max_length", None),
            "prefix": getattr(encoder, "prefix", None),
            "projection": {**projection.describe(), "fit_on": fit_on,
                           "whitening_file": WHITENING_FILE if white is not None else None,
                           **({"beta": white.beta, "gamma": white.gamma}  # 9079's β/γ, only when not 1, 1
                              if white is not None and (white.beta, white.gamma) != (1.0, 1.0) else {})},
            "dim": projection.k,
            "count": len(Y),
            "index": {"type": kind, "params": params, "metric": "inner_product", "normalized": True,
                      "build_seconds": round(time.perf_counter() - t0, 3)},
            "corpus": {"source": corpus.source, "format": corpus.format, "documents": len(corpus),
                       "duplicates": corpus.n_duplicates, "empty_lines": len(corpus.empty_lines),
                       "empty_line_numbers": corpus.empty_lines[:100]},
        }
        index = cls(findex, list(corpus.ids), list(corpus.texts), projection, meta, encoder)
        index._whitening = white
        return index

    # -- persistence ----------------------------------------------------------------------------
    def save(self, folder: str | os.PathLike) -> Path:
        """Write the folder (index.json last, so a folder without it is an unfinished write)."""
        import simlab
        from simlab.io import atomic_write, atomic_write_json

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        blobs = {INDEX_FILE: backends.serialize(self.faiss_index),
                 DOCS_FILE: "".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n"
                                    for i, t in zip(self.ids, self.texts)).encode("utf-8")}
        for name, data in blobs.items():
            atomic_write(folder / name, lambda p, data=data: p.write_bytes(data))
        files = {name: _sha256(data) for name, data in blobs.items()}
        white = getattr(self, "_whitening", None)
        if self.projection.kind == "whiten":
            if white is None:
                raise RuntimeError("whitened index without its Whitening object; cannot save")
            white.save(folder / WHITENING_FILE)
            files[WHITENING_FILE] = _sha256((folder / WHITENING_FILE).read_bytes())
        meta = {**self.meta, "files": files,
                "checksum": _sha256(json.dumps(files, sort_keys=True).encode()),
                "simlab_version": getattr(simlab, "__version__", "?")}
        atomic_write_json(folder / META_FILE, meta)
        self.meta = meta
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike, encoder=None, *, model: str | None = None, pooling: str | None = None,
             dim: int | None = None, verify: bool = True, engine: str | None = None,
             precision: str | None = None) -> Index:
        """Open a saved index, checking file checksums and (when given) the expected encoder / pooling / dim.

        ``encoder`` is compared by weights identity; ``model`` by name; a mismatch raises IndexMismatchError.
        Without an encoder, one is loaded from the recorded model name when text queries arrive, with the
        recorded engine and precision (torch/fp32 for indexes that record none) unless ``engine`` /
        ``precision`` say otherwise.
        """
        from simlab.whitening import Whitening

        folder = Path(folder)
        meta_path = folder / META_FILE
        if not meta_path.is_file():
            raise MissingFileError(f"{folder} is not a simlab index (no {META_FILE}; build one with "
                                    f"`simlab index build`)")
        from simlab.io import read_json

        meta = read_json(meta_path, "index description", IndexError_)
        if meta.get("format") != FORMAT:
            raise IndexError_(f"{meta_path}: not a simlab index (format={meta.get('format')!r})")
        if int(meta.get("version", 0)) > VERSION:
            raise IndexError_(f"{meta_path}: index format version {meta['version']} is newer than this simlab ({VERSION})")
        lacking = [key for key in ("files", "model", "pooling", "projection", "dim", "count", "index")
                   if key not in meta]
        if lacking or INDEX_FILE not in meta["files"] or DOCS_FILE not in meta["files"]:
            raise IndexError_(f"{meta_path}: damaged index description (no {', '.join(lacking) or 'file list'})")
        for name in meta["files"]:
            if not (folder / name).is_file():
                raise IndexError_(f"{folder / name}: missing (index.json lists it); rebuild the index")
        blobs = {name: (folder / name).read_bytes() for name in meta["files"]}
        if verify:
            for name, digest in meta["files"].items():
                if _sha256(blobs[name]) != digest:
                    raise IndexError_(f"{folder / name}: checksum mismatch (the file changed or is damaged)")
        check_compatible(meta, encoder=encoder, model=model, pooling=pooling, dim=dim)
        kind, params = meta["index"]["type"], meta["index"]["params"]
        findex = backends.deserialize(blobs[INDEX_FILE], kind, params)
        docs = [json.loads(line) for line in blobs[DOCS_FILE].decode("utf-8").splitlines()]
        if findex.ntotal != meta["count"] or len(docs) != meta["count"] or findex.d != meta["dim"]:
            raise IndexError_(f"{folder}: index holds {findex.ntotal} vectors of dim {findex.d} and {len(docs)} "
                             f"documents, but index.json says {meta['count']} of dim {meta['dim']}")
        proj = meta["projection"]
        white = None
        if proj["type"] == "whiten":
            white = Whitening.load(folder / WHITENING_FILE)
            projection = Projection.from_whitening(white, proj["k"])
        else:
            projection = Projection(proj["type"], proj["d"], proj["k"])
        index = cls(findex, [d["id"] for d in docs], [d["text"] for d in docs], projection, meta, encoder)
        index._whitening = white
        recorded = meta["model"]
        index._engine = (engine or recorded.get("engine", "torch"), precision or recorded.get("precision", "fp32"))
        return index

    # -- searching -----------------------------------------------------------------------------
    @property
    def encoder(self):
        """The encoder for text queries: the one given, or the recorded model loaded (and identity-checked)."""
        if self._encoder is None:
            from simlab.encode import load_encoder

            m = self.meta["model"]
            if m.get("identity") is None:
                raise IndexError_("this index was built from precomputed vectors; pass model vectors, not text, "
                                 "or load it with an encoder")
            from simlab.models.registry import SHORT_NAMES

            source = m["name"] if m["name"] in SHORT_NAMES or not m.get("path") else m["path"]
            engine, precision = getattr(self, "_engine", None) or (self.meta["model"].get("engine", "torch"),
                                                                   self.meta["model"].get("precision", "fp32"))
            enc = load_encoder(source, max_length=self.meta["max_length"] or 64, prefix=self.meta["prefix"] or None,
                               engine=engine, precision=precision)
            check_compatible(self.meta, encoder=enc)
            self._encoder = enc
        return self._encoder

    def embed(self, queries: str | list[str] | np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Index-space vectors (Q, k) for text queries or raw model vectors (Q, d)."""
        if isinstance(queries, str):
            queries = [queries]
        if isinstance(queries, np.ndarray):
            X = queries
        else:
            X = self.encoder.encode_all(list(queries), poolings=[self.meta["pooling"]],
                                        batch_size=batch_size)[self.meta["pooling"]]
        return self.projection.apply(X)

    def search(self, queries: str | list[str] | np.ndarray, top: int = 10) -> list[list[Hit]]:
        """Top-``top`` hits per query (text, or raw model vectors of the model's dimension d)."""
        scores, rows = self.search_vectors(self.embed(queries), top)
        return [[Hit(self.ids[r], self.texts[r], float(s), int(r)) for s, r in zip(srow, rrow) if r >= 0]
                for srow, rrow in zip(scores, rows)]

    def search_vectors(self, Y: np.ndarray, top: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) for index-space query vectors Y (Q, k); rows −1 mean "no result"."""
        Y = np.asarray(Y)
        if Y.ndim != 2 or Y.shape[1] != self.dim:
            raise IndexMismatchError(f"query vectors have shape {Y.shape}; this index holds dimension {self.dim}")
        return backends.search_index(self.faiss_index, Y, min(int(top), len(self)))

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])

    def __len__(self) -> int:
        return int(self.meta["count"])

    def __repr__(self) -> str:
        p = self.meta["projection"]
        bg = "" if p.get("beta", 1.0) == 1.0 and p.get("gamma", 1.0) == 1.0 else f" β{p['beta']:g}γ{p['gamma']:g}"
        return (f"Index({self.meta['model']['name']}, {self.meta['pooling']}, {p['type']}{bg} k={p['k']}/{p['d']}, "
                f"{self.meta['index']['type']}, {len(self)} docs)")


def _weights(identity: str) -> str:
    """The weights-hash part of an encoder identity ``name@sha``: the same weights under another name match."""
    return identity.rsplit("@", 1)[-1]


def check_compatible(meta: dict, encoder=None, model: str | None = None, pooling: str | None = None,
                     dim: int | None = None) -> None:
    """Raise IndexMismatchError if ``encoder`` / ``model`` / ``pooling`` / ``dim`` differ from the index's."""
    m = meta["model"]
    if encoder is not None:
        if m.get("identity") is not None and _weights(encoder.identity) != _weights(m["identity"]):
            raise IndexMismatchError(f"the index was built with model {m['identity']} but the encoder is "
                                     f"{encoder.identity}; rebuild the index or use the same model")
        if int(encoder.dim) != int(m["dim"]):
            raise IndexMismatchError(f"the index expects model vectors of dimension {m['dim']}, the encoder gives "
                                     f"{encoder.dim}")
    if model is not None and model != m["name"]:
        raise IndexMismatchError(f"the index was built with model {m['name']!r}, not {model!r}")
    if pooling is not None and pooling != meta["pooling"]:
        raise IndexMismatchError(f"the index was built with pooling {meta['pooling']!r}, not {pooling!r}")
    if dim is not None and int(dim) != int(meta["dim"]):
        raise IndexMismatchError(f"the index holds vectors of dimension {meta['dim']}, not {dim}")
