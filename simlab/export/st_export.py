"""Export an encoder + pooling + whitening as a folder that ``sentence_transformers.SentenceTransformer(DIR)`` loads.

Only built-in sentence-transformers modules are used, so the folder loads offline **without simlab installed and
without** ``trust_remote_code`` (sentence-transformers ≥ 6 refuses module classes outside its own namespace
unless ``trust_remote_code=True``)::

    0  Transformer           the HF backbone (config.output_hidden_states=True when a pooling needs several layers)
    1  WeightedLayerPooling  first-last-avg: weights 1 on block 1 and on the last block (½ each after normalising);
                             last2avg: 1 on the last two blocks. Masked means are linear, so mean(½h₁+½h_L) =
                             ½mean(h₁)+½mean(h_L), the simlab definition (simlab/encode/pooling.py)
    2  Pooling               "mean" (masked, [CLS]/[SEP] included, as simlab) or "cls"
    3  Dense                 pooler / pooler-tanh only: a copy of BERT's pooler.dense (identity / tanh activation)
    4  Dense                 centring, x − μ_hi: weight I, bias −μ_hi               ┐ the whitening, WITH its bias
    5  Dense                 projection: weight W_kᵀ, bias −μ_lo W_k                 ┘ (kexue.fm/archives/8069)
    6  Normalize             L2 normalisation (whitened vectors are compared by cosine)

Steps 4-5 equal one ``Dense(weight=Wᵀ, bias=−μW)`` with μ = μ_hi + μ_lo (μ_hi = float32(μ), μ_lo the rest).
They are kept apart for float32 accuracy: ``xW − μW`` cancels catastrophically when ‖μ‖ is large against the
spread of x, and even ``x − float32(μ)`` is off by ~1e-7·‖μ‖, too much for nearly collapsed vectors (cls of
a random model). ``x − μ_hi`` is exact for x near μ (Sterbenz), and μ_lo W restores the rounding of μ, so the
export matches simlab's float64 whitening to ≤ 1e-5 (tests/export).

>>> from simlab.encode import load_encoder                                   # doctest: +SKIP
>>> from simlab.whitening import Whitening                                   # doctest: +SKIP
>>> export_sentence_transformer(load_encoder("e5-small"), "first-last-avg",
...                             Whitening.load("w.safetensors"), "e5-white")   # doctest: +SKIP
>>> from sentence_transformers import SentenceTransformer                     # doctest: +SKIP
>>> SentenceTransformer("e5-white").encode(["今天天气怎么样"]).shape             # doctest: +SKIP
(1, 256)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

LAYER_POOLINGS = {"first-last-avg", "last2avg"}
PROMPT_NAME = "simlab"


def layer_weights(pooling: str, num_hidden_layers: int) -> tuple[int, list[float]]:
    """(layer_start, weights) for sentence-transformers' WeightedLayerPooling over hidden_states[layer_start:].

    >>> layer_weights("first-last-avg", 4)
    (1, [1.0, 0.0, 0.0, 1.0])
    >>> layer_weights("last2avg", 4)
    (1, [0.0, 0.0, 1.0, 1.0])
    """
    if num_hidden_layers < 2:
        raise ValueError(f"{pooling} needs at least 2 transformer blocks, the model has {num_hidden_layers}")
    w = [0.0] * num_hidden_layers  # hidden_states[1..L] = outputs of blocks 1..L
    if pooling == "first-last-avg":
        w[0] = w[-1] = 1.0
    elif pooling == "last2avg":
        w[-2] = w[-1] = 1.0
    else:
        raise ValueError(f"{pooling!r} is not a layer-averaging pooling")
    return 1, w


def dropped_pooler(encoder) -> bool:
    """The model class has a pooler slot but the checkpoint has no pooler weights (e5-small): export without one."""
    return hasattr(encoder.model, "pooler") and encoder.model.pooler is None


def build_modules(encoder, pooling: str, whitening=None, k: int | None = None) -> list:
    """The sentence-transformers module list equivalent to ``encoder`` + ``pooling`` (+ whitening to ``k`` dims)."""
    import torch
    from sentence_transformers.models import Dense, Normalize, Pooling, Transformer, WeightedLayerPooling

    from simlab.errors import BadInputError, WhiteningError
    from simlab.whitening.model import check_k

    if pooling not in encoder.poolings:
        raise BadInputError(f"pooling {pooling!r} is not available for {encoder.name} (available: "
                         f"{', '.join(encoder.poolings)})")
    d = encoder.dim
    config = encoder.model.config
    config_kwargs = {"output_hidden_states": True} if pooling in LAYER_POOLINGS else {}
    model_kwargs = {"add_pooling_layer": False} if dropped_pooler(encoder) else None
    modules = [Transformer(encoder.path, max_seq_length=encoder.max_length, config_kwargs=config_kwargs,
                           model_kwargs=model_kwargs)]
    if pooling in LAYER_POOLINGS:
        start, weights = layer_weights(pooling, int(config.num_hidden_layers))
        modules.append(WeightedLayerPooling(d, num_hidden_layers=int(config.num_hidden_layers), layer_start=start,
                                            layer_weights=torch.nn.Parameter(torch.tensor(weights))))
    modules.append(Pooling(d, pooling_mode="cls" if pooling in {"cls", "pooler", "pooler-tanh"} else "mean"))
    if pooling in {"pooler", "pooler-tanh"}:
        dense = encoder.model.pooler.dense
        act = torch.nn.Tanh() if pooling == "pooler-tanh" else torch.nn.Identity()
        modules.append(Dense(d, d, bias=True, activation_function=act,
                             init_weight=dense.weight.detach().clone().float(),
                             init_bias=dense.bias.detach().clone().float()))
    if whitening is not None:
        if whitening.n_features_in_ != d:
            raise WhiteningError(f"the whitening was fitted on dimension {whitening.n_features_in_}, {encoder.name} "
                             f"gives {d}")
        kmax = whitening.n_components_
        k = kmax if k is None else check_k(k, d, source=encoder.name)  # k > d names d
        if k > kmax:
            raise WhiteningError(f"k={k} is not available: the whitening keeps {kmax} of {d} dimensions")
        mu = np.asarray(whitening.mean_, dtype=np.float64)  # (d,)
        W = np.asarray(whitening.kernel_[:, :k], dtype=np.float64)  # (d, k)
        mu_hi = mu.astype(np.float32)  # μ = μ_hi + μ_lo: float32 alone would round μ by ~1e-7·‖μ‖, too much
        mu_lo = mu - mu_hi.astype(np.float64)  # when the spread of x is small next to ‖μ‖ (e.g. cls vectors)
        modules.append(Dense(d, d, bias=True, activation_function=torch.nn.Identity(),
                             init_weight=torch.eye(d), init_bias=torch.from_numpy(-mu_hi)))  # x − μ_hi, exact
        modules.append(Dense(d, k, bias=True, activation_function=torch.nn.Identity(),
                             init_weight=torch.from_numpy(W.T.astype(np.float32)),  # Linear weight (out, in) = W_kᵀ
                             init_bias=torch.from_numpy((-mu_lo @ W).astype(np.float32))))  # − μ_lo W_k
        modules.append(Normalize())
    elif k is not None:
        raise BadInputError("k without whitening is not exported (truncate + normalise is sentence-transformers' "
                         "own truncate_dim option)")
    return modules


def export_sentence_transformer(encoder, pooling: str, whitening, out: str | os.PathLike,
                                k: int | None = None) -> Path:
    """Write ``out`` loadable by ``SentenceTransformer(out)``; returns the folder.

    ``whitening``: a fitted :class:`simlab.whitening.Whitening` or None (pooling only). The encoder's prefix
    becomes the default prompt, so ``encode`` prepends it exactly as simlab does.
    """
    from sentence_transformers import SentenceTransformer

    from simlab.io import atomic_write_json
    from simlab.models.placeholder_pooler import add_placeholder_pooler

    modules = build_modules(encoder, pooling, whitening, k)
    prompts = {PROMPT_NAME: encoder.prefix} if encoder.prefix else {}
    model = SentenceTransformer(modules=modules, device="cpu", prompts=prompts,
                                default_prompt_name=PROMPT_NAME if prompts else None,
                                similarity_fn_name="cosine")
    out = Path(out)
    model.save(str(out))
    if dropped_pooler(encoder):  # zeros, not model_args, so ST's onnx / openvino backends load it too
        add_placeholder_pooler(out / "model.safetensors", encoder.dim)
    white = None
    if whitening is not None:
        white = {"d": whitening.n_features_in_, "k": int(k or whitening.n_components_), "fit_on": whitening.fit_on,
                 "source_model": whitening.source_model, "n_samples": int(whitening.n_samples_seen_),
                 "beta": whitening.beta, "gamma": whitening.gamma}  # kexue.fm/archives/9079 (1, 1 = whitening)
    atomic_write_json(out / "simlab_export.json", {
        "format": "simlab-export-st", "model": encoder.name, "identity": encoder.identity, "pooling": pooling,
        "max_length": encoder.max_length, "prefix": encoder.prefix, "whitening": white,
        "modules": [type(m).__name__ for m in modules]})
    return out


def load_exported_config(folder: str | os.PathLike) -> dict:
    """The provenance record written next to the sentence-transformers files."""
    return json.loads((Path(folder) / "simlab_export.json").read_text(encoding="utf-8"))
