"""Sentence vectors from pretrained encoders: every pooling in one forward pass."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simlab.encode.pooling import POOLINGS, masked_mean, pool, pool_all

if TYPE_CHECKING:
    from simlab.encode.encoder import Encoder

_LAZY = ("Encoder",)  # simlab.encode.encoder imports torch: only on use (the loader: simlab.models.hf_loading)


def __getattr__(name):
    if name in _LAZY:
        from simlab.encode import encoder

        return getattr(encoder, name)
    raise AttributeError(f"module 'simlab.encode' has no attribute {name!r}")


def load_encoder(name: str, *, max_length: int = 64, prefix: str | None = None, num_threads: int | None = None,
                 device: str = "cpu", engine: str = "torch", precision: str = "fp32") -> Encoder:
    """An :class:`Encoder` for a short name (``minilm``, ``e5-small``), a local folder or an HF model id.

    ``prefix`` may be a role the model defines (e5: ``"query"`` → ``"query: "``) or literal text.
    ``engine`` / ``precision``: see :mod:`simlab.encode.engines` (``auto`` picks the fastest good one here).

    >>> enc = load_encoder("e5-small", prefix="query")               # doctest: +SKIP
    >>> enc.encode(["今天天气怎么样"], pooling="last-avg").shape       # doctest: +SKIP
    (1, 384)
    """
    from simlab.encode.encoder import Encoder
    from simlab.models.registry import resolve_model

    ref = resolve_model(name)
    text = "" if prefix is None else ref.prefixes.get(prefix, prefix)
    language = {"en": "en", "zh": "zh"}.get(ref.language or "")
    return Encoder(ref.path_or_id, max_length=max_length, prefix=text, num_threads=num_threads, device=device,
                   name=ref.name, engine=engine, precision=precision, language=language)


__all__ = ["Encoder", "POOLINGS", "load_encoder", "masked_mean", "pool", "pool_all"]
