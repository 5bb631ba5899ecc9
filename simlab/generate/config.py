"""The training config of the two generators (``simlab generate train``, ``simlab univae train``): every option with
its range, checked in one place before anything loads (issue 21).

``kind`` picks the model: ``seq2seq`` (SimBERT / RoFormer-Sim paraphraser, kexue.fm 7427 / 8454: ``sim_scale``,
``sim_weight``) or ``univae`` (multi-scale vMF-VAE, kexue.fm 8475: ``latent_layers``, ``z_dim``, ``kappa``). The
scratch backbone (``hidden``, ``layers``, ``heads``, ``ffn``) is used with ``--base scratch`` or when the default
base is not in the cache. The CLI builds the config by field name (:func:`simlab.config.config_from_args`).

>>> cfg = GeneratorTrainConfig.preset("univae", max_steps=10)
>>> cfg.batch_size, cfg.model_settings()
(64, {'num_latent_layers': 2, 'z_dim': 16, 'kappa': 32.0})
>>> check_config(GeneratorTrainConfig(kind="univae", z_dim=1))
Traceback (most recent call last):
...
simlab.errors.BadInputError: --z-dim must be ≥ 2, got 1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from simlab.config import bounded, check_config, settings_of
from simlab.errors import BadInputError
from simlab.train.args import PRECISIONS

__all__ = ["GeneratorTrainConfig", "KINDS", "RUN_KIND", "DEFAULT_BASE", "MAX_CHARS", "SCRATCH_CONFIG"]

KINDS = ("seq2seq", "univae")
RUN_KIND = {"seq2seq": "generate", "univae": "univae"}  # the run contract's kind: the command that trains it
DEFAULT_BASE = "roformer-zh-small"
# rows are [CLS] a [SEP] b [SEP] (seq2seq) or [CLS] x [SEP] + [CLS] x [SEP] at positions from max_chars + 2
# (univae): 2·max_chars + 4 positions at most, within the scratch backbone's 512
MAX_CHARS = 254
# C.8 of the UniVAE spec: a char Transformer of 4-6 layers, d = 256, 4 heads, FFN 1024
SCRATCH_CONFIG = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
                      max_position_embeddings=512, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
# per-kind defaults of the CLI (the dataclass defaults are seq2seq's)
PRESETS = {"seq2seq": dict(out="sim-zh-small", max_steps=3000, batch_size=32, lr=2e-4),
           "univae": dict(out="univae-zh-small", max_steps=3000, batch_size=64, lr=3e-4)}
_MODEL_FIELDS = {"seq2seq": ("sim_scale", "sim_weight"), "univae": ("latent_layers", "z_dim", "kappa")}


@dataclass
class GeneratorTrainConfig:
    """Everything a generator training run depends on; fields after ``resume`` may change on ``--resume``."""

    VOLATILE: ClassVar[tuple[str, ...]] = ("out", "data_dir")  # where, not what, is trained

    kind: str = bounded("seq2seq", choices=KINDS)
    out: str = "sim-zh-small"  # the model folder (the CLI resolves a bare name under the simlab model cache)
    base: str = DEFAULT_BASE  # HF RoFormerForMaskedLM folder or cached name; "scratch" for a new char model
    data_dir: str | None = None  # default $SIMLAB_DATA
    max_chars: int = bounded(32, ge=1, le=MAX_CHARS, help="characters per sentence (the encoder length is +2)")
    max_steps: int = bounded(3000, ge=1)
    batch_size: int = bounded(32, ge=1, help="pairs (seq2seq: two rows each) or sentences (univae)")
    lr: float = bounded(2e-4, gt=0)
    warmup_ratio: float = bounded(0.05, ge=0, lt=1, flag="--warmup")
    save_steps: int = bounded(250, ge=1)
    eval_size: int = bounded(256, ge=1, help="held-out items for the eval loss")
    limit: int | None = bounded(None, ge=1, help="use only N training items (smoke runs)")
    seed: int = bounded(0, ge=0, le=2**32 - 1)
    precision: str = bounded("auto", choices=PRECISIONS)
    # scratch backbone (C.8: 4 layers, d = 256, 4 heads, FFN 1024)
    hidden: int = bounded(256, ge=2)
    layers: int = bounded(4, ge=1)
    heads: int = bounded(4, ge=1)
    ffn: int = bounded(1024, ge=1)
    # seq2seq (8454: scale 20 in RoFormer-Sim's stage1.py)
    sim_scale: float = bounded(20.0, gt=0)
    sim_weight: float = bounded(1.0, ge=0, help="weight of the retrieval loss (0 = generation only)")
    # univae (8475: 4 of 12 layers, z_dim 16, κ 32)
    latent_layers: int = bounded(2, ge=1)
    z_dim: int = bounded(16, ge=2, help="latent size per layer (a vMF needs ≥ 2)")
    kappa: float = bounded(32.0, gt=0)
    # may change between a run and its --resume
    resume: bool = False
    minutes: float | None = bounded(None, gt=0)
    threads: int | None = bounded(None, ge=1)
    keep_checkpoints: bool = False

    @classmethod
    def preset(cls, kind: str, **overrides) -> GeneratorTrainConfig:
        """The CLI's defaults for ``kind`` (out, steps, batch, lr), then ``overrides``; checked."""
        if kind not in PRESETS:
            raise BadInputError(f"generator kind {kind!r}: choose one of {', '.join(KINDS)}")
        cfg = cls(kind=kind, **{**PRESETS[kind], **overrides})
        check_config(cfg)
        return cfg

    def check(self) -> None:
        """Cross-field rules (the ranges are on the fields)."""
        if self.hidden % self.heads or (self.hidden // self.heads) % 2:
            raise BadInputError(f"--hidden {self.hidden} / --heads {self.heads}: the hidden size must split into "
                                "heads of an even size (RoPE rotates pairs)")
        if self.kind == "univae" and self.base == "scratch" and self.latent_layers > self.layers:
            raise BadInputError(f"--latent-layers {self.latent_layers} exceeds --layers {self.layers}")

    def model_settings(self) -> dict:
        """Keyword arguments of the model class (Seq2SeqSim or UniVAE)."""
        if self.kind == "seq2seq":
            return {"sim_scale": self.sim_scale, "sim_weight": self.sim_weight}
        return {"num_latent_layers": self.latent_layers, "z_dim": self.z_dim, "kappa": self.kappa}

    def scratch_config(self, vocab_size: int, pad_token_id: int) -> dict:
        """``RoFormerConfig`` fields of a scratch backbone for a vocabulary of ``vocab_size``."""
        return {**SCRATCH_CONFIG, "hidden_size": self.hidden, "num_hidden_layers": self.layers,
                "num_attention_heads": self.heads, "intermediate_size": self.ffn, "vocab_size": vocab_size,
                "pad_token_id": pad_token_id}

    def settings(self) -> dict:
        """What must not change on ``--resume``: everything but the volatile fields and the other kind's model
        settings."""
        other = [f for k, names in _MODEL_FIELDS.items() if k != self.kind for f in names]
        return settings_of(self, volatile=other)
