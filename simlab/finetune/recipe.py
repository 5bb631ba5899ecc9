"""The RoFormer-Sim-FT recipe (kexue.fm/archives/8541) on sentence-transformers' trainer and simlab's core.

``finetune(FinetuneConfig(...))``: labelled pairs (:mod:`simlab.finetune.data`) → a sentence-transformers model
of the encoder + pooling (:mod:`simlab.finetune.model`) → the objective's loss (:mod:`simlab.finetune.losses`, or
sentence-transformers' ``CoSENTLoss``), optionally plus cosine-matrix distillation → ``SentenceTransformerTrainer``
built by :func:`simlab.train.trainer.build_trainer` (progress, ``metrics.jsonl``, atomic checkpoints, resume,
time budget) → the saved folder with a model card.

Objectives (spec clue_sim.md §2.2):

| name   | loss                                                         | NLI labels used as  |
|--------|--------------------------------------------------------------|---------------------|
| sbert  | softmax over ``[u, v, |u−v|]``, one 5-logit head, group mask  | 3 classes (2, 3, 4) |
| cosent | sentence-transformers ``CoSENTLoss`` (scale 20, 8847)          | entailment 1, else 0 |
| cos-a  | ``t(cos−1)² + (1−t)cos²``                                      | entailment 1, else 0 |
| cos-b  | ``t(cos−1)² + (1−t)(cos+1)²``                                  | entailment 1, else 0 |
| cos-c  | ``t·max(0.9−cos,0) + (1−t)·max(cos−0.1,0)``                    | entailment 1, else 0 |

Streams: with both, batches alternate binary / NLI 1:1 (sentence-transformers' round-robin multi-dataset
sampler; ``supervised.py`` alternates the two streams 1:1 inside a batch), each stream reshuffled every pass.

>>> cfg = FinetuneConfig(model="e5-small", out="ft-e5", objective="sbert", max_steps=300)   # doctest: +SKIP
>>> record = finetune(cfg)                                                                  # doctest: +SKIP
"""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from simlab.errors import BadInputError, TrainingError

__all__ = ["OBJECTIVES", "FinetuneConfig", "build_datasets", "build_loss", "finetune"]

OBJECTIVES = ("sbert", "cosent", "cos-a", "cos-b", "cos-c")


@dataclass
class FinetuneConfig:
    """Everything ``simlab finetune`` takes (CLI flags map 1:1)."""

    model: str
    out: str
    objective: str = "sbert"
    data: list[str] = field(default_factory=lambda: ["binary", "nli"])
    distill_from: str | None = None
    distill_weight: float = 100.0
    pooling: str = "last-avg"
    max_length: int = 64  # supervised.py: maxlen 64
    prefix: str | None = None
    batch_size: int = 32  # pairs per step (supervised.py: 96 pairs)
    max_steps: int = 1000
    lr: float = 2e-5  # supervised.py: AdamW 2e-5, weight decay 0.01
    weight_decay: float = 0.01
    warmup_ratio: float = 0.0
    scheduler: str = "constant"  # supervised.py: AdamW at a fixed 2e-5, no warmup or decay
    seed: int = 0
    save_steps: int = 200
    logging_steps: int = 10
    minutes: float | None = None
    freeze_embeddings: bool = False
    precision: str = "auto"
    threads: int | None = None
    data_dir: str | None = None
    resume: bool = False
    keep_checkpoints: bool = False
    examples: bool = True
    eval_tasks: str | None = None  # e.g. "zh": score the saved model's test splits for the card
    eval_limit: int | None = None  # pairs per task for that score (None = all)
    command: str = ""

    def check(self) -> None:
        from simlab.finetune.data import parse_streams

        if self.objective not in OBJECTIVES:
            raise BadInputError(f"--objective {self.objective!r}: choose one of {', '.join(OBJECTIVES)}")
        self.data = parse_streams(self.data)
        for name, value in (("--batch-size", self.batch_size), ("--max-length", self.max_length),
                            ("--save-steps", self.save_steps), ("--logging-steps", self.logging_steps)):
            if value < 1:
                raise BadInputError(f"{name} must be ≥ 1, got {value}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise BadInputError(f"--max-steps must be ≥ 1 (or -1 for one pass), got {self.max_steps}")
        if self.distill_weight <= 0:
            raise BadInputError(f"--distill-weight must be > 0, got {self.distill_weight}")


def build_datasets(data, objective: str) -> dict:
    """``{stream: datasets.Dataset(sentence1, sentence2, label)}`` for the streams that have pairs.

    ``sbert`` keeps integer labels 0-4; the cosine objectives get floats via :func:`~simlab.finetune.data.binary_view`.
    """
    from datasets import Dataset

    from simlab.finetune.data import binary_view

    out = {}
    for name, pairs in (("binary", data.binary), ("nli", data.nli)):
        if len(pairs) == 0:
            continue
        labels = list(pairs.labels) if objective == "sbert" else binary_view(pairs.labels)
        out[name] = Dataset.from_dict({"sentence1": pairs.sentences1, "sentence2": pairs.sentences2,
                                       "label": labels})
    if not out:
        raise TrainingError("no training pairs left after filtering; see the counts above")
    return out


def build_loss(model, objective: str, teacher=None, distill_weight: float = 100.0):
    """The objective's loss on ``model``, wrapped in cosine-matrix distillation when a teacher is given."""
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss

    from simlab.finetune.losses import (
        CosALoss,
        CosBLoss,
        CosCLoss,
        CosineMatrixDistillLoss,
        MaskedSoftmaxLoss,
    )

    makers = {"sbert": MaskedSoftmaxLoss, "cosent": CoSENTLoss, "cos-a": CosALoss, "cos-b": CosBLoss,
              "cos-c": CosCLoss}
    if objective not in makers:
        raise BadInputError(f"objective {objective!r}: choose one of {', '.join(OBJECTIVES)}")
    loss = makers[objective](model)
    if teacher is not None:
        loss = CosineMatrixDistillLoss(model, teacher, base=loss, weight=distill_weight)
    return loss


def _training_args(cfg: FinetuneConfig, out_dir: Path, streams: int):
    from sentence_transformers import SentenceTransformerTrainingArguments

    from simlab.train.args import training_args

    return training_args(out_dir, seed=cfg.seed, max_steps=cfg.max_steps, epochs=1.0, batch_size=cfg.batch_size,
                         lr=cfg.lr, save_steps=cfg.save_steps, logging_steps=cfg.logging_steps,
                         precision=cfg.precision, warmup_ratio=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
                         scheduler=cfg.scheduler,
                         args_cls=SentenceTransformerTrainingArguments, eval_strategy="no",
                         multi_dataset_batch_sampler="round_robin" if streams > 1 else "proportional")


def finetune(cfg: FinetuneConfig, log=None) -> dict:
    """Run the recipe; returns the run record (also written to ``<out>/simlab_finetune.json``)."""
    import torch

    from simlab.finetune.card import machine_info, render_card
    from simlab.finetune.data import load_training_pairs
    from simlab.finetune.model import build_student, freeze_input_embeddings, load_teacher, same_tokenizer
    from simlab.finetune.trainer import FinetuneTrainer
    from simlab.io import atomic_write_text
    from simlab.train.args import device_kind
    from simlab.train.callbacks import TimeBudgetCallback
    from simlab.train.trainer import build_trainer, run

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    cfg.check()
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    out = Path(cfg.out).expanduser()
    if (out / "modules.json").is_file():
        from simlab.train.checkpoint import last_complete_checkpoint

        if not cfg.resume:
            raise BadInputError(f"{out} already holds a model; choose another --out")
        if last_complete_checkpoint(out / "checkpoints") is None:
            raise BadInputError(f"{out} holds a finished run (no checkpoint left to resume)")
    device = device_kind()
    data = load_training_pairs(cfg.data_dir, cfg.data)
    log(data.summary())
    model, enc = build_student(cfg.model, cfg.pooling, cfg.max_length, cfg.prefix, device)
    frozen = freeze_input_embeddings(model) if cfg.freeze_embeddings else 0
    teacher, teacher_pooling = None, None
    if cfg.distill_from:
        teacher, teacher_pooling = load_teacher(cfg.distill_from, cfg.pooling, cfg.max_length, cfg.prefix, device)
        if not same_tokenizer(model, teacher):
            raise BadInputError(f"--distill-from {cfg.distill_from}: the teacher must share the student's tokenizer "
                                "(the loss sees token ids, as in 8454/8541 where both are the same architecture)")
    datasets = build_datasets(data, cfg.objective)
    loss = build_loss(model, cfg.objective, teacher, cfg.distill_weight)
    ckpt_dir = out / "checkpoints"
    args = _training_args(cfg, ckpt_dir, len(datasets))
    train = datasets if len(datasets) > 1 else next(iter(datasets.values()))
    log(f"training {enc.name} ({cfg.pooling}) with {cfg.objective}{' + distillation' if teacher else ''} on "
        f"{', '.join(f'{k}: {len(v)}' for k, v in datasets.items())} pairs, batch {cfg.batch_size}, "
        f"max {cfg.max_steps} steps, device {device}" + (f", {frozen:,} embedding weights frozen" if frozen else ""))
    trainer = build_trainer(model, args, train, trainer_cls=FinetuneTrainer, loss=loss, minutes=cfg.minutes)
    t0 = time.perf_counter()
    metrics = run(trainer, resume=cfg.resume, evaluate=False)
    wall = time.perf_counter() - t0
    budget = next((c for c in trainer.callback_handler.callbacks if isinstance(c, TimeBudgetCallback)), None)
    steps_here = trainer.state.global_step - metrics.get("resumed_from_step", 0)
    training = {
        "batch_size": cfg.batch_size, "max_steps": cfg.max_steps, "global_step": trainer.state.global_step,
        "pairs_seen": trainer.state.global_step * cfg.batch_size, "epoch": round(trainer.state.epoch or 0.0, 4),
        "lr": cfg.lr, "weight_decay": cfg.weight_decay, "warmup_ratio": cfg.warmup_ratio, "scheduler": cfg.scheduler,
        "seed": cfg.seed, "train_loss": round(float(metrics.get("train_loss", float("nan"))), 4),
        "wall_seconds": round(wall, 1), "pairs_per_second": round(steps_here * cfg.batch_size / max(wall, 1e-9), 3),
        "resumed_from_step": metrics.get("resumed_from_step", 0),
        "stopped_by_budget": bool(budget and budget.stopped_early), "precision": args.bf16 and "bf16" or "fp32",
        "sampling": "binary/NLI batches alternate 1:1 (round robin)" if len(datasets) > 1 else "one stream",
    }
    record = {
        "base_model": cfg.model, "base_identity": enc.identity, "objective": cfg.objective, "data": cfg.data,
        "pooling": cfg.pooling, "max_length": cfg.max_length, "prefix": enc.prefix,
        "distill_from": cfg.distill_from, "distill_weight": cfg.distill_weight if teacher else None,
        "teacher_pooling": teacher_pooling, "freeze_embeddings": cfg.freeze_embeddings,
        "counts": [c.as_dict() for c in data.counts], "held_out_sentences": data.held_out_sentences,
        "training": training, "machine": machine_info(), "command": cfg.command or shlex.join(sys.argv),
        "config": asdict(cfg),
    }
    _save(model, out, record)
    if cfg.examples or cfg.eval_tasks:
        _score_saved(cfg, out, enc.prefix, record, log)
        _save_record(out, record)
    atomic_write_text(out / "README.md", render_card(record))
    if not cfg.keep_checkpoints:
        for child in ckpt_dir.glob("checkpoint-*"):
            shutil.rmtree(child)
    log(f"wrote {out} ({training['global_step']} steps, {training['wall_seconds']} s)")
    return record


def _score_saved(cfg: FinetuneConfig, out: Path, prefix: str, record: dict, log) -> None:
    """The ten 8541 example cosines and (``eval_tasks``) held-out Spearman, through simlab's own loader."""
    from simlab.data import resolve_tasks
    from simlab.encode import Encoder
    from simlab.finetune.examples import EXAMPLE_PAIRS, example_cosines, heldout_scores

    enc = Encoder(out, max_length=cfg.max_length, prefix=prefix, name=out.name)
    if cfg.examples:
        cos = example_cosines(enc, cfg.pooling)
        record["examples"] = [(a, b, c, p) for (a, b, p), c in zip(EXAMPLE_PAIRS, cos)]
    if cfg.eval_tasks:
        scores = heldout_scores(enc, cfg.pooling, resolve_tasks(cfg.eval_tasks), cfg.data_dir, limit=cfg.eval_limit)
        record["heldout"] = {"split": "test", "limit": cfg.eval_limit, "scores": scores}
        log("held-out Spearman ×100: " + ", ".join(f"{k} {v['spearman']:.2f}" for k, v in scores.items()))


def _save(model, out: Path, record: dict) -> None:
    from simlab.finetune.model import save_finetuned

    save_finetuned(model, out, record)


def _save_record(out: Path, record: dict) -> None:
    from simlab.finetune.model import RECORD
    from simlab.io import atomic_write_json

    atomic_write_json(out / RECORD, {"format": "simlab-finetune", **record})
