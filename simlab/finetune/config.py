"""``FinetuneConfig``: every option of ``simlab finetune``, with its range declared on the field (issue 21).

The CLI builds it by field name (argparse ``dest`` = field name, :func:`simlab.config.config_from_args`) and
:func:`simlab.finetune.recipe.finetune` checks it first thing (:func:`simlab.config.check_config`), so a bad value
is one ``simlab: error:`` line in well under a second, before any data or model loads. Pure: no torch.

>>> from simlab.config import check_config
>>> cfg = FinetuneConfig(model="e5-small", out="ft-e5", objective="cosent", data="nli,binary")
>>> check_config(cfg); cfg.data
['nli', 'binary']
>>> check_config(FinetuneConfig(model="m", out="o", lr=-1))
Traceback (most recent call last):
...
simlab.errors.BadInputError: --lr must be > 0, got -1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from simlab.config import bounded
from simlab.encode.pooling import POOLINGS
from simlab.errors import BadInputError
from simlab.finetune.data import parse_streams
from simlab.train.args import PRECISIONS

__all__ = ["MNRL_DEFAULTS", "OBJECTIVES", "SCHEDULERS", "FinetuneConfig"]

OBJECTIVES = ("sbert", "cosent", "cos-a", "cos-b", "cos-c", "mnrl")
MNRL_DEFAULTS = {"hard_negatives": 1, "mine_range": "10:50"}  # mine_range: sentence-transformers' documented band
MNRL_ONLY = ("hard_negatives", "mine_range", "mini_batch_size")
# transformers' schedules that need no extra arguments (cosine_with_min_lr, warmup_stable_decay, ... do)
SCHEDULERS = ("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial",
              "inverse_sqrt")


@dataclass
class FinetuneConfig:
    """Everything ``simlab finetune`` takes (CLI flags map 1:1: ``--batch-size`` is ``batch_size``).

    ``VOLATILE`` fields may change on ``--resume`` (where the run lives and what is scored after training);
    every other field is saved with the run and must match.
    """

    VOLATILE: ClassVar[tuple[str, ...]] = ("out", "examples", "eval_tasks", "eval_limit", "interpolate",
                                           "interpolate_guard")

    model: str
    out: str
    objective: str = bounded("cosent", choices=OBJECTIVES)  # the measured winner at CPU budgets (docs/finetune.md)
    data: list[str] = field(default_factory=lambda: ["binary", "nli"])  # or "binary,nli"; normalised on init
    distill_from: str | None = None
    distill_weight: float = bounded(100.0, gt=0)
    pooling: str = bounded("last-avg", choices=POOLINGS)
    max_length: int = bounded(64, ge=3)  # supervised.py: maxlen 64; [CLS] + one token + [SEP] at least
    prefix: str | None = None
    batch_size: int = bounded(32, ge=1)  # pairs per step (supervised.py: 96 pairs)
    max_steps: int = bounded(1000, ge=-1)  # -1: one pass over the data; 0 is refused in check()
    lr: float = bounded(2e-5, gt=0, le=1)  # supervised.py: AdamW 2e-5, weight decay 0.01
    weight_decay: float = bounded(0.01, ge=0, le=1)
    warmup_ratio: float = bounded(0.0, ge=0, lt=1)
    scheduler: str = bounded("constant", choices=SCHEDULERS)  # supervised.py: a fixed 2e-5, no warmup or decay
    seed: int = bounded(0, ge=0, le=2**32 - 1)  # numpy's seed range (transformers.set_seed seeds numpy too)
    save_steps: int = bounded(200, ge=1)
    logging_steps: int = bounded(10, ge=1)
    minutes: float | None = bounded(None, gt=0)
    freeze_embeddings: bool = False
    precision: str = bounded("auto", choices=PRECISIONS)
    threads: int | None = bounded(None, ge=1)
    data_dir: str | None = None
    resume: bool = False
    keep_checkpoints: bool = False
    examples: bool = True  # the ten 8541 example cosines in the card (--no-examples)
    eval_tasks: str | None = bounded(None, flag="--eval")  # e.g. "zh": score the saved model's test splits
    eval_limit: int | None = bounded(None, ge=1)  # pairs per task for that score (None = all)
    group_by_length: bool = True  # length-grouped batches (--no-group-by-length: random batches)
    # after training: θ = (1 − α) θ_base + α θ_tuned (WiSE-FT), α "auto" (chosen on the guard split) or a number
    interpolate: str | None = None
    interpolate_guard: str = "STS-B:valid"  # TASK:SPLIT on which auto must not fall below the base (no test split)
    # --objective mnrl only (None: MNRL_DEFAULTS with mnrl)
    hard_negatives: int | None = bounded(None, ge=0)  # mined negatives per pair; 0 = in-batch negatives only
    mine_range: str | None = None  # "LO:HI": the rank band negatives are drawn from (1 = nearest)
    mini_batch_size: int | None = bounded(None, ge=1)  # CachedMultipleNegativesRankingLoss with this mini-batch

    def __post_init__(self) -> None:
        self.data = parse_streams(self.data)  # "binary,nli" (CLI) and ["binary", "nli"] are the same setting
        if self.objective == "mnrl":
            for name, value in MNRL_DEFAULTS.items():
                if getattr(self, name) is None:
                    setattr(self, name, value)

    def check(self) -> None:
        """Cross-field rules, after the ranges (:func:`simlab.config.check_config` calls it)."""
        if self.max_steps == 0:
            raise BadInputError("--max-steps must be ≥ 1 (or -1 for one pass over the data), got 0")
        for name in ("model", "out", "distill_from", "data_dir"):
            value = getattr(self, name)
            if value is not None and not str(value).strip():
                raise BadInputError(f"--{name.replace('_', '-')} must not be empty")
        if "sts" in self.data and self.objective != "cosent":
            raise BadInputError(f"--data sts: its graded 0-5 scores train only --objective cosent "
                                f"(this run: {self.objective}); drop sts or use cosent")
        if self.objective == "mnrl":
            self._check_mnrl()
        else:
            given = [f"--{n.replace('_', '-')}" for n in MNRL_ONLY if getattr(self, n) is not None]
            if given:
                raise BadInputError(f"{', '.join(given)}: only for --objective mnrl (this run: {self.objective})")
        if self.interpolate is not None:
            from simlab.finetune.interpolate import parse_guard, parse_interpolate

            parse_interpolate(self.interpolate)
            parse_guard(self.interpolate_guard)
        if self.eval_tasks is not None:
            from simlab.data import resolve_tasks

            resolve_tasks(self.eval_tasks)  # a typo in --eval fails now, not after the training it follows

    def _check_mnrl(self) -> None:
        from simlab.finetune.mining import parse_range

        parse_range(self.mine_range)
        if self.batch_size < 2 and not self.hard_negatives:
            raise BadInputError("--objective mnrl with --batch-size 1 and no --hard-negatives has no negative to "
                                "rank against: use --batch-size ≥ 2 or --hard-negatives ≥ 1")
        if self.mini_batch_size and self.distill_from:
            raise BadInputError("--mini-batch-size (cached MNRL) runs its own forward passes and cannot be combined "
                                "with --distill-from")
