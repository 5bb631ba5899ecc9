"""``ClueConfig``: every option of ``simlab clue run``, with its range on the field, checked before anything loads
(issue 21). ``None`` means "the task's or the recipe's value", filled in by :func:`resolved`, so the run, the
settings compared on ``--resume`` and the card all state the numbers actually used.

Two recipes (issue 22 item 3):

- ``short`` (default): AdamW, linear warmup then linear decay, weight decay 0.01, gradient-norm clip 1, and a head
  learning rate ``head_lr_ratio`` (30) times the backbone's (1e-4): it moves a freshly initialised head off the
  label prior within tens of steps, which a CPU budget allows (``tests/clue/test_recipes.py``; docs/clue.md
  "Recipes": e5-small on TNEWS, 50 steps, dev accuracy 42.5 % against 11.0 % for the majority class and 8739);
- ``8739``: the exact recipe of kexue.fm/archives/8739: AdaFactor (bert4keras), lr 5e-4 constant, no warmup, one
  learning rate. Under it an std-0.02 head moves about 1e-5 per step (AdaFactor scales each update by the RMS of
  the parameter), so a run of a few dozen steps ends at the majority class.

>>> cfg = resolved(ClueConfig(task="afqmc"))
>>> cfg.recipe, cfg.lr, cfg.head_lr_ratio, cfg.warmup, cfg.epochs, cfg.batch_size
('short', 0.0001, 30.0, 0.1, 10, 32)
>>> resolved(ClueConfig(task="cmrc2018", recipe="8739")).lr, resolved(ClueConfig(task="cmrc2018")).grad_accum
(0.0005, 2)
>>> from simlab.config import check_config
>>> check_config(ClueConfig(task="afqmc", batch_size=0))
Traceback (most recent call last):
...
simlab.errors.BadInputError: --batch-size must be ≥ 1, got 0
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from simlab.config import bounded
from simlab.encode.pooling import POOLINGS
from simlab.errors import BadInputError, MissingFileError
from simlab.train.args import PRECISIONS

__all__ = ["RECIPES", "BATCHING", "ClueConfig", "resolved", "wanted_tests", "default_out", "output_folder", "SHORT"]

RECIPES = ("short", "8739")
BATCHING = ("length", "random")


@dataclass(frozen=True)
class ShortRecipe:
    """The ``short`` recipe's defaults. BERT fine-tuning practice (Devlin et al. 2019 §A.3: AdamW, 10 % warmup,
    linear decay) with a higher rate for the new head than for the pretrained layers (ULMFiT's "discriminative
    fine-tuning", Howard & Ruder 2018). The rates are measured (docs/clue.md "Recipes"): with e5-small on TNEWS,
    50 steps of batch 32 reach dev accuracy 11.0 % (the majority class) at 5e-5 / 10x, 26.7 % at 1e-4 / 10x and
    42.5 % at 1e-4 / 30x; a small model (e5-small: 12 layers of width 384) takes the higher backbone rate."""

    lr: float = 1e-4
    head_lr_ratio: float = 30.0
    warmup: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0


SHORT = ShortRecipe()


@dataclass
class ClueConfig:
    """Everything ``simlab clue run`` takes (CLI flags map 1:1: ``--batch-size`` is ``batch_size``)."""

    # may differ between a run and its --resume without changing what is trained (the data files actually read
    # are compared instead, as absolute paths: simlab.clue.runner.run_settings)
    VOLATILE: ClassVar[tuple[str, ...]] = ("out", "tests", "save_steps", "data_dir", "train_file", "dev_file")

    task: str = ""
    model: str = "e5-small"
    recipe: str = bounded("short", choices=RECIPES)
    epochs: float | None = bounded(None, gt=0, le=1000)
    max_steps: int | None = bounded(None, ge=1)
    max_length: int | None = bounded(None, ge=8, le=8192)
    batch_size: int | None = bounded(None, ge=1, le=65536)
    grad_accum: int | None = bounded(None, ge=1, le=4096)
    lr: float | None = bounded(None, gt=0, le=1)
    head_lr_ratio: float | None = bounded(None, gt=0, le=10000)
    warmup: float | None = bounded(None, ge=0, lt=1)
    pooling: str = bounded("cls", choices=POOLINGS)
    batching: str = bounded("length", choices=BATCHING)
    limit: int | None = bounded(None, ge=1)
    train_limit: int | None = bounded(None, ge=1)
    tests: str = "all"
    seed: int = bounded(0, ge=0, le=2**32 - 1)  # numpy's seed range (transformers.set_seed seeds numpy too)
    save_steps: int = bounded(500, ge=1)
    precision: str = bounded("auto", choices=PRECISIONS)
    minutes: float | None = bounded(None, gt=0)
    train_file: str | None = None
    dev_file: str | None = None
    data_dir: str | None = None
    threads: int | None = bounded(None, ge=1, le=4096)
    out: str | None = None
    resume: bool = False
    keep_checkpoints: bool = False

    def check(self) -> None:
        """Cross-field and file checks (after the ranges): a known task and test names, files that exist, and no
        option the chosen recipe does not have."""
        from simlab.clue.tasks import get_task

        if not str(self.model).strip():
            raise BadInputError("--model must not be empty")
        if self.out is not None and not str(self.out).strip():
            raise BadInputError("--out must not be empty")
        task = get_task(self.task)
        wanted_tests(self.tests, task)
        for name in ("train_file", "dev_file"):
            value = getattr(self, name)
            if value is not None and not Path(value).expanduser().is_file():
                raise MissingFileError(f"--{name.replace('_', '-')} {value}: no such file")
        if self.recipe == "8739":
            for name in ("head_lr_ratio", "warmup"):
                if getattr(self, name) is not None:
                    raise BadInputError(f"--{name.replace('_', '-')} belongs to --recipe short; the 8739 recipe "
                                        "has one constant learning rate and no warmup")


def wanted_tests(tests: str, task) -> set[str] | None:
    """The test files ``--tests`` names (None: all of them); BadInputError for a name the task does not have.

    >>> from simlab.clue.tasks import get_task
    >>> sorted(wanted_tests("test, none", get_task("afqmc"))), wanted_tests("all", get_task("afqmc"))
    (['test'], None)
    """
    if tests is None or tests.strip() == "all":
        return None
    wanted = {t.strip() for t in tests.split(",") if t.strip()} - {"none"}
    names = {t.name for t in task.tests}
    if wanted - names:
        raise BadInputError(f"--tests {tests}: task {task.name} has test files {', '.join(sorted(names))} "
                            "(or all, none)")
    return wanted


def resolved(cfg: ClueConfig) -> ClueConfig:
    """A copy of ``cfg`` with the task canonical and every ``None`` hyperparameter set to the task's 8739 value
    (length, batch, accumulation, epochs) or the recipe's (lr, head ratio, warmup)."""
    from simlab.clue.tasks import get_task

    task = get_task(cfg.task)
    r = task.recipe

    def pick(value, default):
        return default if value is None else value

    short = cfg.recipe == "short"
    return dataclasses.replace(
        cfg, task=task.name, max_length=pick(cfg.max_length, r.max_length), batch_size=pick(cfg.batch_size, r.batch_size),
        grad_accum=pick(cfg.grad_accum, r.grad_accum), epochs=pick(cfg.epochs, r.epochs),
        lr=pick(cfg.lr, SHORT.lr if short else r.lr),
        head_lr_ratio=pick(cfg.head_lr_ratio, SHORT.head_lr_ratio) if short else None,  # 8739: one lr
        warmup=pick(cfg.warmup, SHORT.warmup) if short else None,  # 8739: constant lr, no warmup
    )


def output_folder(cfg: ClueConfig) -> Path:
    """``--out``, or ``~/.cache/simlab/models/clue-<task>-<model>``."""
    from simlab.clue.tasks import get_task

    return Path(cfg.out).expanduser() if cfg.out else default_out(get_task(cfg.task).name, cfg.model)


def default_out(task_name: str, model_name: str) -> Path:
    """``~/.cache/simlab/models/clue-<task>-<model folder name>``."""
    from simlab.paths import cache_dir

    short = Path(model_name.rstrip("/")).name or model_name
    return cache_dir("models") / f"clue-{task_name}-{short}"
