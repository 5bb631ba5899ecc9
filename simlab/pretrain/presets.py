"""RoFormer MLM presets (HF ``RoFormerForMaskedLM``: RoPE built in, kexue.fm/archives/8265).

- ``zh-tiny``: seconds, for tests.
- ``zh-small``: what trains well within about 60 minutes on 2 CPU cores (measured: see docs/pretrain.md).
- ``zh-base``: 12 × 768, bert-base size, for a GPU.

>>> PRESETS["zh-base"].layers, PRESETS["zh-base"].hidden
(12, 768)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from simlab.errors import BadInputError


@dataclass(frozen=True)
class Preset:
    """Architecture and default recipe of one preset."""

    name: str
    layers: int
    hidden: int
    heads: int
    intermediate: int
    max_len: int  # tokens per packed sequence
    batch_size: int
    lr: float
    max_steps: int
    warmup_ratio: float = 0.05
    save_steps: int = 200
    eval_steps: int | None = None

    def config(self, vocab_size: int, pad_token_id: int = 0):
        """The ``RoFormerConfig`` of this preset for a vocabulary of ``vocab_size``."""
        from transformers import RoFormerConfig

        return RoFormerConfig(
            vocab_size=vocab_size, embedding_size=self.hidden, hidden_size=self.hidden,
            num_hidden_layers=self.layers, num_attention_heads=self.heads, intermediate_size=self.intermediate,
            max_position_embeddings=512, type_vocab_size=2, pad_token_id=pad_token_id, rotary_value=False,
            hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
        )

    def as_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    "zh-tiny": Preset("zh-tiny", layers=2, hidden=64, heads=2, intermediate=128, max_len=64, batch_size=8,
                      lr=1e-3, max_steps=20, warmup_ratio=0.0, save_steps=10),
    "zh-small": Preset("zh-small", layers=4, hidden=256, heads=4, intermediate=1024, max_len=128, batch_size=64,
                       lr=5e-4, max_steps=3000, save_steps=250),
    "zh-base": Preset("zh-base", layers=12, hidden=768, heads=12, intermediate=3072, max_len=512, batch_size=128,
                      lr=1e-4, max_steps=100_000, warmup_ratio=0.01, save_steps=2000),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise BadInputError(f"--preset {name!r}: choose one of {', '.join(PRESETS)}") from None
