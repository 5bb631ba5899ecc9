"""The settings of one ``simlab pretrain`` run: :class:`PretrainConfig`, every range declared on its fields and
checked before anything loads (:func:`simlab.config.check_config`); ``None`` means "the preset's value"
(:mod:`simlab.pretrain.presets`), filled in by :func:`with_preset`.

>>> cfg = with_preset(PretrainConfig(preset="zh-tiny", corpus=["zh-default"], lr=1e-4))
>>> cfg.lr, cfg.batch_size, cfg.max_steps, cfg.eval_steps == cfg.save_steps
(0.0001, 8, 20, True)
>>> from simlab.config import check_config
>>> check_config(PretrainConfig(max_steps=0))
Traceback (most recent call last):
...
simlab.errors.BadInputError: --max-steps must be ≥ 1, got 0
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from simlab.config import bounded
from simlab.errors import BadInputError, MissingFileError
from simlab.pretrain.presets import PRESETS, get_preset
from simlab.train.args import PRECISIONS
from simlab.train.vocab import MIN_VOCAB_SIZE

DEFAULT_CORPUS = "zh-default"


@dataclass
class PretrainConfig:
    """Everything that decides the run (the model card records it). ``None``: the preset's value."""

    VOLATILE: ClassVar[tuple[str, ...]] = ("out",)  # the same folder may be named differently on --resume

    preset: str = bounded("zh-small", choices=tuple(PRESETS))
    corpus: list[str] = dataclasses.field(default_factory=lambda: [DEFAULT_CORPUS])
    text_field: str = "text"
    out: str | None = None
    init: str | None = None
    max_steps: int | None = bounded(None, ge=1)
    minutes: float | None = bounded(None, gt=0)
    batch_size: int | None = bounded(None, ge=1)
    lr: float | None = bounded(None, gt=0, le=1)
    seed: int = bounded(0, ge=0, le=2**32 - 1)  # numpy's seed range (transformers.set_seed seeds numpy too)
    wwm: bool = False
    mlm_prob: float = bounded(0.15, gt=0, lt=1)
    max_len: int | None = bounded(None, ge=8, le=512)  # RoFormer's max_position_embeddings: 512
    vocab_size: int = bounded(8021, ge=MIN_VOCAB_SIZE)
    min_freq: int = bounded(3, ge=1)
    heldout_permille: int = bounded(5, ge=1, le=999)
    heldout_max: int = bounded(512, ge=1)
    save_steps: int | None = bounded(None, ge=1)
    eval_steps: int | None = bounded(None, ge=1)
    precision: str = bounded("auto", choices=PRECISIONS)
    data_dir: str | None = None
    limit_texts: int | None = bounded(None, ge=1)  # read at most this many texts per source (tests, quick looks)
    threads: int | None = bounded(None, ge=1)
    resume: bool = False

    def check(self) -> None:
        """Cross-field and file checks (after the ranges): a corpus to read, each named file present."""
        if not self.corpus:
            raise BadInputError("--corpus: give at least one file or zh-default")
        if not self.text_field.strip():
            raise BadInputError("--text-field must not be empty")
        for item in self.corpus:
            if item != DEFAULT_CORPUS and not Path(item).expanduser().is_file():
                raise MissingFileError(f"--corpus {item}: no such file")
        for name in ("out", "init"):
            value = getattr(self, name)
            if value is not None and not str(value).strip():
                raise BadInputError(f"--{name} must not be empty")


def with_preset(cfg: PretrainConfig) -> PretrainConfig:
    """A copy of ``cfg`` with every ``None`` recipe field set to the preset's value (``eval_steps``: the save
    interval), so the run, its saved settings and its card all state the numbers actually used."""
    p = get_preset(cfg.preset)

    def pick(value, default):
        return default if value is None else value

    save_steps = pick(cfg.save_steps, p.save_steps)
    return dataclasses.replace(
        cfg, max_steps=pick(cfg.max_steps, p.max_steps), batch_size=pick(cfg.batch_size, p.batch_size),
        lr=pick(cfg.lr, p.lr), max_len=pick(cfg.max_len, p.max_len), save_steps=save_steps,
        eval_steps=pick(cfg.eval_steps, p.eval_steps or save_steps),
    )


def default_out(preset: str) -> Path:
    """``~/.cache/simlab/models/roformer-<preset>`` (``roformer-zh-small`` is then a model short name)."""
    from simlab.paths import cache_dir

    return cache_dir("models") / f"roformer-{preset}"
