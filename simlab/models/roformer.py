"""RoFormer encoder (Su et al. 2021, kexue.fm/archives/8265) built from simlab.nn parts.

A BERT-style post-LayerNorm encoder whose self-attention rotates q and k with interleaved 1D RoPE.
Module names mirror ``transformers.RoFormerModel`` so its state dict loads with
``RoFormer.from_hf`` / ``convert_hf_state_dict`` (the only HF key without a counterpart is the
sinusoidal table ``encoder.embed_positions.weight``, which is checked against ours and dropped).

``attention="linear"`` swaps softmax attention for linear attention (``feature_map`` elu/relu/exp/softmax/
favor) with RoPE on the numerator only (8265, "linear scenario"); a checkpoint trained with softmax
attention then needs fine-tuning (7921 notes this for Performer).

>>> import torch
>>> cfg = RoFormerConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
...                      intermediate_size=64)
>>> model = RoFormer(cfg).eval()
>>> model(torch.randint(0, 100, (2, 7))).shape
torch.Size([2, 7, 32])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from simlab.nn.linear_attention import LinearAttention
from simlab.nn.rope import RotaryEmbedding, rope_cos_sin

ACTIVATIONS = {
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
}


@dataclass
class RoFormerConfig:
    """Hyper-parameters; the first block has the names and defaults of ``transformers.RoFormerConfig``."""

    vocab_size: int = 50000
    embedding_size: int | None = None  # None: = hidden_size (else an extra projection, as in HF)
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 1536  # only used to check the HF sinusoidal table; RoPE has no limit
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    rotary_value: bool = False  # HF option: rotate v as well
    # simlab additions
    rope_base: float = 10000.0
    causal: bool = False
    attention: str = "softmax"  # "softmax" | "linear"
    feature_map: str = "elu"  # linear attention: elu | relu | exp | softmax | favor
    num_features: int | None = None  # favor only (default d·ln d)
    redraw_interval: int | None = None  # favor only: redraw ω every that many training forward calls
    chunk_size: int = 64  # causal linear attention

    def __post_init__(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size {self.hidden_size} not divisible by num_attention_heads {self.num_attention_heads}")
        if (self.hidden_size // self.num_attention_heads) % 2:
            raise ValueError(f"head dim {self.hidden_size // self.num_attention_heads} must be even for RoPE")
        if self.attention not in ("softmax", "linear"):
            raise ValueError(f"attention must be 'softmax' or 'linear', got {self.attention!r}")
        if self.rotary_value and self.attention != "softmax":
            raise ValueError("rotary_value is only supported with attention='softmax'")
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(f"hidden_act {self.hidden_act!r} not supported; choose from {sorted(ACTIVATIONS)}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_hf(cls, hf_config: Any, **overrides) -> RoFormerConfig:
        """Copy the shared fields of a ``transformers.RoFormerConfig``; ``overrides`` set simlab fields."""
        names = {f.name for f in fields(cls)}
        kw = {n: getattr(hf_config, n) for n in names if hasattr(hf_config, n)}
        kw["causal"] = bool(getattr(hf_config, "is_decoder", False))
        kw.update(overrides)
        return cls(**kw)

    def to_dict(self) -> dict:
        return asdict(self)


class RoFormerEmbeddings(nn.Module):
    """Token + token-type embeddings, LayerNorm, dropout (no absolute positions: RoPE supplies them)."""

    def __init__(self, cfg: RoFormerConfig):
        super().__init__()
        emb = cfg.embedding_size or cfg.hidden_size
        self.word_embeddings = nn.Embedding(cfg.vocab_size, emb, padding_idx=cfg.pad_token_id)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, emb)
        self.LayerNorm = nn.LayerNorm(emb, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)  # (B, T, E)
        return self.dropout(self.LayerNorm(x))


class RoFormerSelfAttention(nn.Module):
    """Multi-head self-attention with RoPE on q and k (8265); softmax or linear."""

    def __init__(self, cfg: RoFormerConfig):
        super().__init__()
        self.cfg = cfg
        self.n_head, self.head_dim = cfg.num_attention_heads, cfg.head_dim
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.rope = RotaryEmbedding(cfg.head_dim, cfg.rope_base, layout="interleaved")
        self.linear = None
        if cfg.attention == "linear":
            self.linear = LinearAttention(
                cfg.head_dim, cfg.feature_map, causal=cfg.causal, chunk_size=cfg.chunk_size,
                num_features=cfg.num_features if cfg.feature_map == "favor" else None,
                redraw_interval=cfg.redraw_interval,
            )
            feat_dim = self.linear.favor.num_features if cfg.feature_map == "favor" else cfg.head_dim
            self.feature_rope = RotaryEmbedding(feat_dim, cfg.rope_base, layout="interleaved")  # rotates φ(q), φ(k)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        B, T, C = x.shape
        split = lambda t: t.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # noqa: E731  (B, H, T, d)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        if self.linear is not None:
            y = self.linear(q, k, v, rope=self.feature_rope.rotate, key_padding_mask=mask)  # RoPE on the numerator only (8265)
        else:
            q, k = self.rope(q, k)  # (B, H, T, d)
            if self.cfg.rotary_value:
                v = self.rope.rotate(v)
            attn_mask = None if mask is None else mask[:, None, None, :].bool()  # (B, 1, 1, T)
            drop = self.cfg.attention_probs_dropout_prob if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=drop, is_causal=self.cfg.causal)
        return y.transpose(1, 2).reshape(B, T, C)  # (B, T, C)


class RoFormerOutput(nn.Module):
    """dense -> dropout -> residual add -> LayerNorm (post-LN, as BERT/RoFormer)."""

    def __init__(self, cfg: RoFormerConfig, in_features: int):
        super().__init__()
        self.dense = nn.Linear(in_features, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(y)) + x)  # post-LN residual


class RoFormerAttention(nn.Module):
    def __init__(self, cfg: RoFormerConfig):
        super().__init__()
        self.self = RoFormerSelfAttention(cfg)
        self.output = RoFormerOutput(cfg, cfg.hidden_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(x, mask), x)


class RoFormerIntermediate(nn.Module):
    def __init__(self, cfg: RoFormerConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.act = ACTIVATIONS[cfg.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.dense(x))


class RoFormerLayer(nn.Module):
    """attention -> add & norm -> feed-forward -> add & norm."""

    def __init__(self, cfg: RoFormerConfig):
        super().__init__()
        self.attention = RoFormerAttention(cfg)
        self.intermediate = RoFormerIntermediate(cfg)
        self.output = RoFormerOutput(cfg, cfg.intermediate_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = self.attention(x, mask)  # (B, T, C)
        return self.output(self.intermediate(x), x)  # (B, T, C)


class RoFormerEncoder(nn.Module):
    def __init__(self, cfg: RoFormerConfig):
        super().__init__()
        self.layer = nn.ModuleList([RoFormerLayer(cfg) for _ in range(cfg.num_hidden_layers)])

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        for block in self.layer:
            x = block(x, mask)
        return x


class RoFormer(nn.Module):
    """RoFormer encoder: ``forward(input_ids, attention_mask=None, token_type_ids=None) -> (B, T, hidden)``."""

    def __init__(self, cfg: RoFormerConfig):
        super().__init__()
        self.config = cfg
        self.embeddings = RoFormerEmbeddings(cfg)
        if cfg.embedding_size is not None and cfg.embedding_size != cfg.hidden_size:
            self.embeddings_project = nn.Linear(cfg.embedding_size, cfg.hidden_size)
        self.encoder = RoFormerEncoder(cfg)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module, std: float = 0.02) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=std)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)
            if module.padding_idx is not None:
                nn.init.zeros_(module.weight[module.padding_idx])

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if input_ids.ndim != 2:
            raise ValueError(f"input_ids must be (B, T), got shape {tuple(input_ids.shape)}")
        if attention_mask is not None and attention_mask.shape != input_ids.shape:
            raise ValueError(f"attention_mask shape {tuple(attention_mask.shape)} != input_ids shape {tuple(input_ids.shape)}")
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.embeddings(input_ids, token_type_ids)  # (B, T, E)
        if hasattr(self, "embeddings_project"):
            x = self.embeddings_project(x)  # (B, T, C)
        return self.encoder(x, attention_mask)  # (B, T, C)

    @classmethod
    def from_hf(cls, hf_model: nn.Module, **overrides) -> RoFormer:
        """Build from a ``transformers.RoFormerModel`` (or a RoFormerFor* head model): config + weights.

        ``overrides`` change simlab fields, e.g. ``attention="linear"`` to start linear-attention fine-tuning.
        """
        cfg = RoFormerConfig.from_hf(hf_model.config, **overrides)
        model = cls(cfg)
        missing, unexpected = model.load_state_dict(convert_hf_state_dict(hf_model.state_dict(), cfg), strict=False)
        missing = [k for k in missing if not k.endswith("favor.omega")]  # FAVOR+ random features are ours
        if missing or unexpected:
            raise ValueError(f"HF state dict does not fit: missing {missing}, unexpected {unexpected}")
        return model


def convert_hf_state_dict(state_dict: dict[str, torch.Tensor], cfg: RoFormerConfig) -> dict[str, torch.Tensor]:
    """HF RoFormer keys -> simlab keys: strip ``roformer.``, drop task heads (``cls.``, ``classifier.``, ...),
    and check-then-drop the sinusoidal table ``encoder.embed_positions.weight`` (RoPE is recomputed)."""
    out = {}
    for key, value in state_dict.items():
        if key.startswith("roformer."):
            key = key[len("roformer.") :]
        elif "." in key and key.split(".")[0] not in ("embeddings", "embeddings_project", "encoder"):
            continue  # a task head
        if key == "encoder.embed_positions.weight":
            n = value.shape[0]
            cos, sin = rope_cos_sin(torch.arange(n), cfg.head_dim, cfg.rope_base, "half")
            ours = torch.cat([sin[:, : cfg.head_dim // 2], cos[:, : cfg.head_dim // 2]], -1).float()
            if value.shape != ours.shape or not torch.allclose(value.float().cpu(), ours, atol=1e-5):
                raise ValueError("checkpoint's sinusoidal table does not match RoPE with base "
                                 f"{cfg.rope_base} and head dim {cfg.head_dim}")
            continue
        out[key] = value
    return out


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["RoFormer", "RoFormerConfig", "convert_hf_state_dict", "count_parameters"]
