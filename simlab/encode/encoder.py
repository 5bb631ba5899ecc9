"""``Encoder``: any Hugging Face encoder → sentence vectors, every pooling from ONE forward pass.

>>> from simlab.encode import load_encoder
>>> enc = load_encoder("minilm")                                   # doctest: +SKIP
>>> enc.encode(["a cat sits", "a dog runs"], pooling="first-last-avg").shape   # doctest: +SKIP
(2, 384)
>>> vecs = enc.encode_all(["a cat sits"])     # {"cls": ..., "last-avg": ..., ...}     # doctest: +SKIP
>>> fast = load_encoder("minilm", engine="openvino", precision="fp32")          # doctest: +SKIP

``engine`` × ``precision`` (:mod:`simlab.encode.engines`): torch/fp32 (the default here) is the study's exact path;
the others run an exported graph that returns every pooling's inputs from one pass.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

from simlab.encode.identity import cached_weights_hash
from simlab.encode.pooling import POOLER_POOLINGS, POOLINGS, pool_all
from simlab.models.hf_loading import load_hf_model


class Encoder:
    """Sentence encoder over a Hugging Face model.

    Parameters
    ----------
    model_name_or_path : HF hub id or local folder (loaded offline from the local cache when the hub is unreachable).
    max_length : tokens per sentence after truncation (the study: 64; 128 for PAWSX).
    prefix : text put before every sentence (e5 uses "query: " / "passage: ").
    num_threads : torch intra-op threads (None leaves torch's default); also the ONNX Runtime / OpenVINO threads.
    name : a short display name for reports (defaults to the path).
    engine : torch | onnx | openvino | auto (:mod:`simlab.encode.engines`).
    precision : fp32 | bf16 | int8 | auto. ``auto`` is resolved at once; ``engine`` / ``precision`` hold the result.
    calibration : sentences for int8 calibration (default: local non-test STS sentences of ``language``).
    language : "en", "zh" or None (both), for the default int8 calibration sentences.
    """

    def __init__(self, model_name_or_path: str | os.PathLike, *, max_length: int = 64, prefix: str = "",
                 device: str = "cpu", num_threads: int | None = None, name: str | None = None,
                 engine: str = "torch", precision: str = "fp32", calibration: list[str] | None = None,
                 language: str | None = None):
        from simlab.encode.engines import resolve

        self.engine, self.precision = resolve(engine, precision)
        if self.engine != "torch" and device != "cpu":
            raise ValueError(f"engine {self.engine!r} runs on the CPU; use engine='torch' for device={device!r}")
        self.num_threads = num_threads
        self.calibration = calibration
        self.language = language
        self._runner = None
        if num_threads:
            torch.set_num_threads(int(num_threads))
        self.path = str(model_name_or_path)
        self.name = name or self.path
        self.model, self.tokenizer, self.has_pooler = load_hf_model(self.path)
        self.model.to(device)
        self.device = device
        self.max_length = int(max_length)
        self.prefix = prefix
        self._identity: str | None = None

    @property
    def poolings(self) -> tuple[str, ...]:
        """The poolings this checkpoint supports (no pooler weights → no pooler poolings)."""
        return tuple(p for p in POOLINGS if self.has_pooler or p not in POOLER_POOLINGS)

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def variant(self) -> str:
        """"" for the exact torch/fp32 path, else "engine-precision": part of every vector cache key."""
        return "" if (self.engine, self.precision) == ("torch", "fp32") else f"{self.engine}-{self.precision}"

    @property
    def runner(self):
        """The engine runner (exported and compiled on first use; conversions are cached by weights hash)."""
        if self._runner is None:
            from simlab.encode.engines import make_runner

            weights = f"{cached_weights_hash(self.path)}:{'pooler' if self.has_pooler else 'nopooler'}"
            self._runner = make_runner(self.model, self.has_pooler, self.engine, self.precision, weights_id=weights,
                                       num_threads=self.num_threads, calibration=self._calibration())
        return self._runner

    def _calibration(self):
        """(digest, batches()) of the int8 calibration sentences, tokenised as encode does; None unless int8."""
        if self.precision != "int8":
            return None
        from simlab.encode.engines.calibration import calibration_digest, calibration_sentences

        texts = list(self.calibration) if self.calibration is not None else calibration_sentences(self.language)
        digest = calibration_digest([self.prefix, str(self.max_length), *texts])

        def batches(size: int = 32):
            ids = self.tokenizer([self.prefix + t for t in texts], truncation=True, max_length=self.max_length)[
                "input_ids"]
            order = np.argsort([-len(x) for x in ids], kind="stable")
            for i in range(0, len(ids), size):
                b = self.tokenizer.pad({"input_ids": [ids[j] for j in order[i:i + size]]}, return_tensors="np")
                yield b["input_ids"].astype(np.int64), b["attention_mask"].astype(np.int64)

        return digest, lambda: list(batches())

    @property
    def identity(self) -> str:
        """Name + sha256 of the weight files: what a vector cache must key on."""
        if self._identity is None:
            self._identity = f"{self.name}@{cached_weights_hash(self.path)}"
        return self._identity

    def info(self) -> dict:
        """The ``model`` block of a result record (``simlab eval`` / ``grid`` / ``encode`` / ``index``):
        ``identity`` (name@weights hash) says exactly which weights were scored.

        >>> load_encoder("minilm").info()["dim"]                              # doctest: +SKIP
        384
        """
        return {"name": self.name, "path": self.path, "has_pooler": self.has_pooler, "dim": self.dim,
                "identity": self.identity, "engine": self.engine, "precision": self.precision}

    # ------------------------------------------------------------------------------------------
    def encode(self, sentences: str | list[str], pooling: str = "first-last-avg", batch_size: int = 64,
               normalize_embeddings: bool = False, show_progress_bar: bool | None = None,
               max_length: int | None = None, convert_to_numpy: bool = True) -> np.ndarray:
        """Vectors for ``sentences`` with one pooling: (N, d) float32 numpy, or (d,) for a single string."""
        single = isinstance(sentences, str)
        out = self.encode_all([sentences] if single else sentences, poolings=[pooling], batch_size=batch_size,
                              normalize_embeddings=normalize_embeddings, show_progress_bar=show_progress_bar,
                              max_length=max_length)[pooling]
        return out[0] if single else out

    def encode_all(self, sentences: list[str], poolings: list[str] | None = None, batch_size: int = 64,
                   normalize_embeddings: bool = False, show_progress_bar: bool | str | None = None,
                   max_length: int | None = None) -> dict[str, np.ndarray]:
        """Every requested pooling (default: all supported) from one forward pass per batch.

        Sentences are sorted by token length so batches carry little padding; the output keeps input order.
        ``show_progress_bar``: None = a bar for > 2000 sentences on a terminal; True / False; or a string, which
        shows the bar with that label (``simlab eval`` passes the task and its place, e.g. ``"ATEC (1/12)"``).
        """
        poolings = list(poolings or self.poolings)
        for p in poolings:
            if p not in POOLINGS:
                raise ValueError(f"unknown pooling {p!r}; choose from {', '.join(POOLINGS)}")
            if p not in self.poolings:
                raise ValueError(f"{self.name} has no pooler weights, so pooling {p!r} is unavailable "
                                 f"(available: {', '.join(self.poolings)})")
        sentences = list(sentences)
        for i, s in enumerate(sentences):
            if not isinstance(s, str):
                raise TypeError(f"sentence {i} is {type(s).__name__}, expected str")
        L = int(max_length or self.max_length)
        d, n = self.dim, len(sentences)
        out = {p: np.empty((n, d), dtype=np.float32) for p in poolings}
        if n == 0:
            return out
        ids = self.tokenizer([self.prefix + s for s in sentences], truncation=True, max_length=L,
                             add_special_tokens=True)["input_ids"]
        order = np.argsort([-len(x) for x in ids], kind="stable")
        label = show_progress_bar if isinstance(show_progress_bar, str) else f"encode {self.name}"
        if show_progress_bar is None:
            show_progress_bar = n > 2000 and sys.stderr.isatty()
        batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
        if show_progress_bar:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc=label, unit="batch")
        if self.variant:  # another engine or precision: the exported pooling-heads graph, one pass per batch
            from simlab.encode.engines.heads import poolings_from_heads

            runner = self.runner
            for idx in batches:
                batch = self.tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="np")
                heads = runner.run(batch["input_ids"], batch["attention_mask"])  # (B, H, D)
                for p, v in poolings_from_heads(heads, poolings).items():
                    out[p][idx] = v
        else:  # torch fp32: the study's exact path
            pooler = getattr(self.model, "pooler", None) if self.has_pooler else None
            with torch.inference_mode():
                for idx in batches:
                    batch = self.tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt")
                    batch = {k: v.to(self.device) for k, v in batch.items()}
                    hidden = self.model(**batch, output_hidden_states=True).hidden_states  # L+1 × (B, T, D)
                    pooled = pool_all(poolings, hidden, batch["attention_mask"], pooler)
                    for p, v in pooled.items():
                        out[p][idx] = v.float().cpu().numpy()
        if normalize_embeddings:
            for p in out:
                out[p] /= np.clip(np.linalg.norm(out[p], axis=1, keepdims=True), 1e-12, None)
        return out
