"""A lazily loaded encoder: the grid knows a model's identity, dimension and poolings without loading it.

A rerun whose vectors are all cached never builds the torch model; the first cache miss loads it once.
``identity`` equals :attr:`simlab.encode.Encoder.identity` (display name @ weights hash), so the grid reuses
vectors cached by ``simlab eval`` for the same model name.

>>> enc = LazyEncoder(ModelSpec("minilm", "minilm", ("STS13",)))     # doctest: +SKIP
>>> enc.dim, enc.loaded                                             # doctest: +SKIP
(384, False)
"""

from __future__ import annotations

from pathlib import Path

from simlab.encode.identity import cached_weights_hash
from simlab.encode.pooling import POOLER_POOLINGS, POOLINGS
from simlab.grid.cells import ModelSpec
from simlab.models.hf_loading import read_json


class LazyEncoder:
    """Duck-types the parts of :class:`simlab.encode.Encoder` that the vector cache and runner use."""

    def __init__(self, spec: ModelSpec, prefix: str | None = None, num_threads: int | None = None,
                 engine: str = "torch", precision: str = "fp32"):
        from simlab.encode.engines import resolve
        from simlab.models.registry import resolve_model

        self.engine, self.precision = resolve(engine, precision)

        self.spec = spec
        self.ref = resolve_model(spec.source)
        self.name = spec.name
        self.path = self.ref.path_or_id
        self.prefix = "" if prefix is None else self.ref.prefixes.get(prefix, prefix)
        self.num_threads = num_threads
        self._encoder = None
        self._identity: str | None = None
        self._has_pooler = self.ref.has_pooler

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    def load(self):
        """The real :class:`~simlab.encode.Encoder` (built on first use)."""
        if self._encoder is None:
            from simlab.encode import Encoder

            language = {"en": "en", "zh": "zh"}.get(self.ref.language or "")
            self._encoder = Encoder(self.path, prefix=self.prefix, num_threads=self.num_threads, name=self.name,
                                    engine=self.engine, precision=self.precision, language=language)
            self._has_pooler = self._encoder.has_pooler
        return self._encoder

    @property
    def variant(self) -> str:
        """As :attr:`simlab.encode.Encoder.variant`: "" for torch/fp32, else "engine-precision"."""
        return "" if (self.engine, self.precision) == ("torch", "fp32") else f"{self.engine}-{self.precision}"

    @property
    def identity(self) -> str:
        if self._identity is None:
            self._identity = f"{self.name}@{cached_weights_hash(self.path)}"
        return self._identity

    @property
    def has_pooler(self) -> bool:
        if self._has_pooler is None:  # the registry could not tell from the files: ask the checkpoint
            self.load()
        return bool(self._has_pooler)

    @property
    def poolings(self) -> tuple[str, ...]:
        return tuple(p for p in POOLINGS if self.has_pooler or p not in POOLER_POOLINGS)

    @property
    def dim(self) -> int:
        cfg = Path(self.path) / "config.json"
        if cfg.is_file():
            raw = read_json(cfg)  # not JSON: a ModelError naming the file
            for key in ("hidden_size", "d_model", "dim"):
                if key in raw:
                    return int(raw[key])
        return self.load().dim

    def info(self) -> dict:
        """The ``model`` block of result records (as :meth:`simlab.encode.Encoder.info`)."""
        return {"name": self.name, "path": self.path, "has_pooler": self.has_pooler, "dim": self.dim,
                "identity": self.identity, "engine": self.engine, "precision": self.precision}

    def encode_all(self, sentences, poolings=None, batch_size=64, normalize_embeddings=False,
                   show_progress_bar=None, max_length=None):
        return self.load().encode_all(sentences, poolings=poolings, batch_size=batch_size,
                                      normalize_embeddings=normalize_embeddings,
                                      show_progress_bar=show_progress_bar, max_length=max_length)
