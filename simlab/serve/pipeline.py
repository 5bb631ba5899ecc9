"""``Pipeline``: text -> token ids -> pooled vector -> (whitened, L2-normalised) vector, for one served
model/pooling/prefix/whitening (the main model, or one per ``--index``).

Tokenisation and the forward pass are simlab's own (:meth:`simlab.encode.Encoder.encode_all`: the same tokenizer
call, ``tokenizer.pad`` and pooling code, on either the torch path or an exported engine), split in two so that the
batcher (:mod:`simlab.serve.batching`) can merge the token ids of concurrent requests into one forward pass.
Whitening is BERT-whitening y = (x − μ)·W[:, :k], then L2 normalisation (Su et al. 2021, arXiv 2103.15316 eq. (6);
kexue.fm/archives/8069): ``dimensions`` = k.

>>> from simlab.encode import load_encoder                                    # doctest: +SKIP
>>> p = Pipeline(load_encoder("minilm"), "last-avg")                           # doctest: +SKIP
>>> ids, counts = p.tokenize(["a cat sits"]); p.project(p.forward(ids)).shape  # doctest: +SKIP
(1, 384)
"""

from __future__ import annotations

import numpy as np

from simlab.serve.errors import APIError

ROBERTA_LIKE = ("roberta", "xlm-roberta", "camembert")  # positions start at padding_idx + 1


def model_max_tokens(encoder) -> int:
    """The longest input the model can embed: its position table (minus RoBERTa's offset), capped by the
    tokenizer's ``model_max_length`` when that is set to a real value."""
    cfg = encoder.model.config
    positions = int(getattr(cfg, "max_position_embeddings", 512))
    if getattr(cfg, "model_type", "") in ROBERTA_LIKE:
        positions -= 2
    tok_max = getattr(encoder.tokenizer, "model_max_length", None) or positions
    return int(min(positions, tok_max if tok_max < 1_000_000 else positions))


class Pipeline:
    """One way of turning text into served vectors.

    ``prefix``: the text put before every input when a request names no ``input_type``; ``prefixes``: the model's
    roles (e5: ``{"query": "query: ", "passage": "passage: "}``). ``whitening``: a fitted
    :class:`simlab.whitening.Whitening` (``dimensions`` = any k ≤ its k) or ``projection``: a fixed
    :class:`simlab.retrieval.Projection` (an index's). ``key`` names the forward pass for the batcher: pipelines
    with the same encoder and pooling share micro-batches.
    """

    def __init__(self, encoder, pooling: str, *, prefix: str = "", prefixes: dict | None = None,
                 max_tokens: int | None = None, whitening=None, projection=None, default_k: int | None = None,
                 name: str | None = None):
        if pooling not in encoder.poolings:
            from simlab.errors import BadInputError

            raise BadInputError(f"pooling {pooling!r} is not available for {encoder.name} "
                                f"(available: {', '.join(encoder.poolings)})")
        self.encoder, self.pooling = encoder, pooling
        self.prefix, self.prefixes = prefix or "", dict(prefixes or {})
        self.max_tokens = int(max_tokens or model_max_tokens(encoder))
        self.projection = projection
        self.name = name or encoder.name
        self.key = (id(encoder), pooling)
        self.set_whitening(whitening, default_k)

    def set_whitening(self, whitening, default_k: int | None = None) -> None:
        """Serve ``whitening`` (None: raw vectors); ``default_k`` = k when a request sends no ``dimensions``."""
        self.whitening = whitening
        self.k_max = int(whitening.n_components_) if whitening is not None else None
        if whitening is not None and default_k is not None and not 1 <= default_k <= self.k_max:
            from simlab.errors import WhiteningError

            raise WhiteningError(f"--default-dimensions {default_k}: the whitening keeps {self.k_max} components")
        self.default_k = int(default_k) if default_k is not None else self.k_max

    @property
    def dim(self) -> int:
        """The model's pooled dimension d."""
        return int(self.encoder.dim)

    @property
    def out_dim(self) -> int:
        """The default output dimension."""
        if self.projection is not None:
            return int(self.projection.k)
        return self.default_k if self.whitening is not None else self.dim

    # -- tokenising (request threads) ---------------------------------------------------------------
    def prefix_for(self, input_type: str | None) -> str:
        if input_type is None:
            return self.prefix
        return self.prefixes.get(input_type, "")

    def tokenize(self, texts: list[str], input_type: str | None = None, truncate: bool = True
                 ) -> tuple[list[list[int]], list[int]]:
        """(token ids per input, token count per input), special tokens and prefix included, as
        :meth:`Encoder.encode_all` tokenises; ``truncate=False`` raises a 400 for an input over the limit."""
        prefix = self.prefix_for(input_type)
        tok = self.encoder.tokenizer
        full = [prefix + t for t in texts]
        if truncate:
            ids = tok(full, truncation=True, max_length=self.max_tokens, add_special_tokens=True)["input_ids"]
        else:
            ids = tok(full, truncation=False, add_special_tokens=True, verbose=False)["input_ids"]
            for i, row in enumerate(ids):
                if len(row) > self.max_tokens:
                    raise APIError(400, f"input {i} has {len(row)} tokens, more than this model's maximum of "
                                        f"{self.max_tokens}; shorten it or send truncate: true (the default)",
                                   param="input", code="context_length_exceeded")
        return ids, [len(r) for r in ids]

    # -- the forward pass (the inference thread) -----------------------------------------------------
    def forward(self, ids: list[list[int]]) -> np.ndarray:
        """Pooled vectors (n, d) float32 of token-id rows, one padded batch, by the encoder's engine."""
        enc = self.encoder
        if enc.variant:  # onnx / openvino / another precision: the exported pooling-heads graph
            from simlab.encode.engines.heads import poolings_from_heads

            batch = enc.tokenizer.pad({"input_ids": ids}, return_tensors="np")
            heads = enc.runner.run(batch["input_ids"].astype(np.int64), batch["attention_mask"].astype(np.int64))
            return np.ascontiguousarray(poolings_from_heads(heads, [self.pooling])[self.pooling], dtype=np.float32)
        return self.forward_reference(ids)

    def forward_reference(self, ids: list[list[int]]) -> np.ndarray:
        """The torch fp32 path of :meth:`Encoder.encode_all` (the study's exact one): the self-check reference."""
        import torch

        from simlab.encode.pooling import pool_all

        enc = self.encoder
        pooler = getattr(enc.model, "pooler", None) if enc.has_pooler else None
        with torch.inference_mode():
            batch = enc.tokenizer.pad({"input_ids": ids}, return_tensors="pt")
            batch = {k: v.to(enc.device) for k, v in batch.items()}
            hidden = enc.model(**batch, output_hidden_states=True).hidden_states
            pooled = pool_all([self.pooling], hidden, batch["attention_mask"], pooler)[self.pooling]
            return pooled.float().cpu().numpy()

    def embed_offline(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Pooled vectors (n, d) of many texts, the serving path without the queue (start-up fits, checks)."""
        ids, _ = self.tokenize(list(texts))
        order = np.argsort([-len(r) for r in ids], kind="stable")
        out = np.empty((len(ids), self.dim), np.float32)
        for a in range(0, len(ids), batch_size):
            idx = order[a:a + batch_size]
            out[idx] = self.forward([ids[i] for i in idx])
        return out

    # -- projecting (request threads) ----------------------------------------------------------------
    def check_dimensions(self, dimensions: int | None, whiten: bool = True) -> int:
        """The output dimension for a request, or a 400 that says what is supported and how to get it."""
        if self.projection is not None:
            if dimensions not in (None, self.projection.k):
                raise APIError(400, f"this index holds {self.projection.k}-dimensional vectors; 'dimensions' "
                                    f"must be {self.projection.k} or left out", param="dimensions",
                               code="invalid_dimensions")
            return int(self.projection.k)
        if self.whitening is None or not whiten:
            if dimensions not in (None, self.dim):
                how = ("send whiten: true (the default) for whitened dimensions 1 to "
                       f"{self.k_max}") if self.whitening is not None else (
                    "this server has no whitening: start it with --whitening FILE (from `simlab whiten`) or "
                    "--fit-whitening TASK|FILE, and 'dimensions' selects the first k whitened components")
                raise APIError(400, f"'dimensions' = {dimensions} is not available: {how}",
                               param="dimensions", code="invalid_dimensions")
            return self.dim
        k = self.default_k if dimensions is None else int(dimensions)
        if not 1 <= k <= self.k_max:
            raise APIError(400, f"'dimensions' must be between 1 and {self.k_max} (the whitening keeps {self.k_max} "
                                f"of {self.dim} components), got {dimensions}", param="dimensions",
                           code="invalid_dimensions")
        return k

    def project(self, X: np.ndarray, dimensions: int | None = None, whiten: bool = True,
                normalize: bool = True) -> np.ndarray:
        """Served vectors (n, k) float32 from pooled vectors X (n, d): (x − μ)·W[:, :k] (float64, as
        :meth:`Whitening.transform`), then L2-normalised (unless ``normalize`` is false)."""
        from simlab.whitening.kernel import l2_normalize
        from simlab.whitening.kernel import whiten as whiten_fn

        k = self.check_dimensions(dimensions, whiten)
        if self.projection is not None:
            return self.projection.apply(X)
        if self.whitening is not None and whiten:
            y = whiten_fn(X, self.whitening.mean_, self.whitening.kernel_[:, :k], normalize=normalize)
        else:
            y = l2_normalize(np.asarray(X, dtype=np.float64)) if normalize else X
        return np.ascontiguousarray(y, dtype=np.float32)

    def describe(self) -> dict:
        w = self.whitening
        out = {"model": self.encoder.name, "pooling": self.pooling, "prefix": self.prefix,
               "prefixes": self.prefixes, "max_tokens_per_input": self.max_tokens, "dim": self.dim}
        if w is not None:
            out["whitening"] = {"k_max": self.k_max, "default_k": self.default_k, "d": int(w.n_features_in_),
                                "fit_on": w.fit_on, "source_model": w.source_model, "beta": w.beta,
                                "gamma": w.gamma, "n_samples": int(w.n_samples_seen_)}
        elif self.projection is not None:
            out["projection"] = self.projection.describe()
        else:
            out["whitening"] = None
        return out
