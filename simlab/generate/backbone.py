"""A RoFormer with its MLM head, in HF ``RoFormerForMaskedLM`` layout, for UniLM-style generation.

Weights keep the HF names (``roformer.*``, ``cls.predictions.*``), so a pretrained ``RoFormerForMaskedLM``
folder (e.g. simlab's ``roformer-zh-small``) loads with :meth:`UniLMBackbone.from_pretrained` and a trained
model saves back to a folder that ``transformers.RoFormerForMaskedLM.from_pretrained`` reads
(:meth:`UniLMBackbone.hf_state_dict`). The encoder is :class:`simlab.models.roformer.RoFormer`, run through
:func:`simlab.generate.masked_forward.roformer_forward` for per-layer masks and the KV cache.

The output projection is tied to the word embeddings, as in BERT/RoFormer: logits = LN(act(W h)) Eᵀ + b.
It is applied through ``F.linear`` with the embedding matrix (no second parameter), so checkpoints hold no
shared tensors.

>>> import torch
>>> cfg = dict(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)
>>> bb = UniLMBackbone.new(**cfg).eval()
>>> bb.logits(torch.zeros(3, 16)).shape
torch.Size([3, 50])
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from simlab.errors import ModelError
from simlab.models.roformer import ACTIVATIONS, RoFormer, RoFormerConfig, convert_hf_state_dict
from simlab.nn.rope import rope_cos_sin

__all__ = ["MLMHead", "UniLMBackbone", "hf_config_dict"]


class _Transform(nn.Module):
    def __init__(self, cfg: RoFormerConfig):
        super().__init__()
        emb = cfg.embedding_size or cfg.hidden_size
        self.dense = nn.Linear(cfg.hidden_size, emb)
        self.act = ACTIVATIONS[cfg.hidden_act]
        self.LayerNorm = nn.LayerNorm(emb, eps=cfg.layer_norm_eps)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.act(self.dense(h)))


class _Predictions(nn.Module):
    def __init__(self, cfg: RoFormerConfig):
        super().__init__()
        self.transform = _Transform(cfg)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))


class MLMHead(nn.Module):
    """HF ``RoFormerOnlyMLMHead`` (keys ``predictions.transform.*``, ``predictions.bias``), decoder tied."""

    def __init__(self, cfg: RoFormerConfig):
        super().__init__()
        self.predictions = _Predictions(cfg)

    def forward(self, h: torch.Tensor, embedding_weight: torch.Tensor) -> torch.Tensor:
        return F.linear(self.predictions.transform(h), embedding_weight, self.predictions.bias)  # (..., V)


def hf_config_dict(cfg: RoFormerConfig) -> dict:
    """The ``transformers.RoFormerConfig`` fields of a simlab config (for config.json)."""
    keys = ["vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size", "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob",
            "max_position_embeddings", "type_vocab_size", "layer_norm_eps", "pad_token_id", "rotary_value"]
    d = {k: getattr(cfg, k) for k in keys}
    if d["embedding_size"] is None:
        d["embedding_size"] = cfg.hidden_size
    return d


class UniLMBackbone(nn.Module):
    """``roformer`` (simlab RoFormer) + ``cls`` (MLM head). ``logits(h)`` maps hidden states to the vocabulary."""

    def __init__(self, cfg: RoFormerConfig):
        super().__init__()
        if cfg.attention != "softmax" or cfg.causal:
            raise ModelError("UniLM generation needs a bidirectional softmax-attention RoFormer")
        self.config = cfg
        self.roformer = RoFormer(cfg)
        self.cls = MLMHead(cfg)
        self.cls.apply(RoFormer._init_weights)

    @classmethod
    def new(cls, **config) -> UniLMBackbone:
        """A randomly initialised backbone (``RoFormerConfig`` fields)."""
        return cls(RoFormerConfig(**config))

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.cls(h, self.roformer.embeddings.word_embeddings.weight)

    # ---- HF layout -----------------------------------------------------------------------------------
    def load_hf_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load HF ``RoFormerForMaskedLM`` keys (strict: every backbone and head weight must be there)."""
        body = convert_hf_state_dict(state_dict, self.config)
        head = {k[len("cls."):]: v for k, v in state_dict.items() if k.startswith("cls.predictions.")
                and not k.startswith("cls.predictions.decoder.")}
        missing, unexpected = self.roformer.load_state_dict(body, strict=False)
        missing2, unexpected2 = self.cls.load_state_dict(head, strict=False)
        if missing or missing2 or unexpected or unexpected2:
            raise ModelError(f"checkpoint does not fit the RoFormer MLM layout: missing {missing + missing2}, "
                             f"unexpected {unexpected + unexpected2}")
        dec = state_dict.get("cls.predictions.decoder.weight")
        if dec is not None and not torch.equal(dec, body["embeddings.word_embeddings.weight"]):
            raise ModelError("checkpoint has an untied MLM decoder; simlab ties it to the word embeddings")

    def hf_state_dict(self) -> dict[str, torch.Tensor]:
        """Weights under HF ``RoFormerForMaskedLM`` names (tied decoder weight/bias left out, as HF saves)."""
        out = {f"roformer.{k}": v for k, v in self.roformer.state_dict().items()}
        out.update({f"cls.{k}": v for k, v in self.cls.state_dict().items()})
        n, d = self.config.max_position_embeddings, self.config.head_dim  # HF's sinusoidal table, for a clean load
        cos, sin = rope_cos_sin(torch.arange(n), d, self.config.rope_base, "half")
        out["roformer.encoder.embed_positions.weight"] = torch.cat([sin[:, : d // 2], cos[:, : d // 2]], -1).float()
        return out

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> UniLMBackbone:
        """Load an HF RoFormer(ForMaskedLM) folder: ``config.json`` + ``model.safetensors``."""
        from safetensors.torch import load_file
        from transformers import RoFormerConfig as HFConfig

        folder = Path(folder)
        weights = folder / "model.safetensors"
        if not (folder / "config.json").is_file() or not weights.is_file():
            raise ModelError(f"{folder}: expected an HF folder with config.json and model.safetensors")
        try:
            hf_cfg = HFConfig.from_pretrained(str(folder))
            cfg = RoFormerConfig.from_hf(hf_cfg, causal=False)
        except (OSError, ValueError, TypeError) as exc:
            raise ModelError(f"{folder / 'config.json'}: not a valid RoFormer config ({' '.join(str(exc).split())})"
                             ) from None
        model = cls(cfg)
        try:
            sd = load_file(str(weights))
        except Exception as exc:  # safetensors raises its own error type for a truncated or foreign file
            raise ModelError(f"{weights}: cannot be read ({' '.join(str(exc).split())}); the file is damaged"
                             ) from None
        if not any(k.startswith("cls.predictions.") for k in sd):
            raise ModelError(f"{weights}: no MLM head (cls.predictions.*); a RoFormerForMaskedLM checkpoint is needed")
        model.load_hf_state_dict(sd)
        return model

    def save_hf(self, folder: str | os.PathLike) -> None:
        """config.json + model.safetensors readable by ``transformers.RoFormerForMaskedLM.from_pretrained``."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        cfg = {"architectures": ["RoFormerForMaskedLM"], "model_type": "roformer", **hf_config_dict(self.config)}
        (folder / "config.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
        sd = {k: v.detach().contiguous().cpu() for k, v in self.hf_state_dict().items()}
        save_file(sd, str(folder / "model.safetensors"), metadata={"format": "pt"})
