"""The RoFormer-Sim-FT recipe (kexue.fm/archives/8541) on sentence-transformers' trainer and simlab's core.

``finetune(FinetuneConfig(...))`` reads top to bottom as its stages:

1. check every option (:func:`simlab.config.check_config`) and open the run folder (:func:`simlab.train.run.open_run`:
   output guard, settings compared on ``--resume``, invocation log);
2. labelled pairs (:mod:`simlab.finetune.data`);
3. the student (and teacher) as sentence-transformers models (:mod:`simlab.finetune.model`), the datasets and the
   objective's loss (:mod:`simlab.finetune.losses`, or sentence-transformers' ``CoSENTLoss``), optionally plus
   cosine-matrix distillation;
4. ``SentenceTransformerTrainer`` built by :func:`simlab.train.trainer.build_trainer` (progress, ``metrics.jsonl``,
   checksummed checkpoints, time budget), resumed from the run's newest sound checkpoint;
5. the saved folder, its record (``simlab_finetune.json``) and model card (:mod:`simlab.finetune.card`), then
   :meth:`~simlab.train.run.RunFolder.finish`.

Objectives (spec clue_sim.md §2.2):

| name   | loss                                                         | NLI labels used as  |
|--------|--------------------------------------------------------------|---------------------|
| sbert  | softmax over ``[u, v, |u−v|]``, one 5-logit head, group mask  | 3 classes (2, 3, 4) |
| cosent | sentence-transformers ``CoSENTLoss`` (scale 20, 8847)          | entailment 1, else 0 |
| cos-a  | ``t(cos−1)² + (1−t)cos²``                                      | entailment 1, else 0 |
| cos-b  | ``t(cos−1)² + (1−t)(cos+1)²``                                  | entailment 1, else 0 |
| cos-c  | ``t·max(0.9−cos,0) + (1−t)·max(cos−0.1,0)``                    | entailment 1, else 0 |
| mnrl   | in-batch negatives (+ mined hard negatives), :mod:`.mnrl`       | entailment = positive pair |

Streams: with several, batches alternate binary / NLI (/ STS) 1:1 (sentence-transformers' round-robin
multi-dataset sampler; ``supervised.py`` alternates the two streams 1:1 inside a batch), each stream reshuffled
every pass;
``mnrl`` trains one stream of (anchor, positive[, negatives]) rows from both. Batches are grouped by length
(:mod:`.sampler`).

>>> cfg = FinetuneConfig(model="e5-small", out="ft-e5", objective="sbert", max_steps=300)   # doctest: +SKIP
>>> record = finetune(cfg)                                                                  # doctest: +SKIP
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

from simlab.errors import BadInputError, TrainingError
from simlab.finetune.config import OBJECTIVES, FinetuneConfig
from simlab.train.args import precision_of

__all__ = ["OBJECTIVES", "FinetuneConfig", "Parts", "build_datasets", "build_loss", "build_parts", "finetune"]

KIND = "finetune"
CHECKPOINTS = "checkpoints"


class Parts(NamedTuple):
    """What one run trains: the student, its encoder facts, the teacher (or None), the datasets and the loss;
    for mnrl also the paraphrase groups (kept apart in a batch) and the row counts."""

    model: object
    enc: object
    teacher: object | None
    teacher_pooling: str | None
    frozen: int
    datasets: dict
    loss: object
    groups: dict | None = None
    mnrl: dict | None = None


def build_datasets(data, objective: str) -> dict:
    """``{stream: datasets.Dataset(sentence1, sentence2, label)}`` for the streams that have pairs.

    ``sbert`` keeps integer labels 0-4; the cosine objectives get floats via :func:`~simlab.finetune.data.binary_view`;
    the ``sts`` stream keeps its 0-5 scores (CoSENT only, which ranks by any real label; the config refuses others).
    """
    from datasets import Dataset

    from simlab.finetune.data import binary_view

    out = {}
    for name, pairs in data.streams():
        if len(pairs) == 0:
            continue
        if pairs.graded and objective != "cosent":
            raise BadInputError(f"--data sts: graded 0-5 scores train only --objective cosent (this run: {objective})")
        labels = list(pairs.labels) if objective == "sbert" or pairs.graded else binary_view(pairs.labels)
        out[name] = Dataset.from_dict({"sentence1": pairs.sentences1, "sentence2": pairs.sentences2,
                                       "label": labels})
    if not out:
        raise TrainingError("no training pairs left after filtering; see the counts above")
    return out


def build_loss(model, objective: str, teacher=None, distill_weight: float = 100.0, mini_batch_size=None):
    """The objective's loss on ``model``, wrapped in cosine-matrix distillation when a teacher is given."""
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss

    from simlab.finetune.losses import (
        CosALoss,
        CosBLoss,
        CosCLoss,
        CosineMatrixDistillLoss,
        MaskedSoftmaxLoss,
    )
    from simlab.finetune.mnrl import mnrl_loss

    makers = {"sbert": MaskedSoftmaxLoss, "cosent": CoSENTLoss, "cos-a": CosALoss, "cos-b": CosBLoss,
              "cos-c": CosCLoss, "mnrl": lambda m: mnrl_loss(m, mini_batch_size)}
    if objective not in makers:
        raise BadInputError(f"objective {objective!r}: choose one of {', '.join(OBJECTIVES)}")
    loss = makers[objective](model)
    if teacher is not None:
        loss = CosineMatrixDistillLoss(model, teacher, base=loss, weight=distill_weight)
    return loss


def open_finetune_run(cfg: FinetuneConfig):
    """Stage 1: the run folder for ``cfg`` (refused, with nothing written, when ``--out`` would damage a folder
    or ``--resume`` changes a setting). The folders the command reads a model from are off limits."""
    from simlab.config import settings_of
    from simlab.train.run import open_run

    return open_run(cfg.out, kind=KIND, settings=settings_of(cfg), resume=cfg.resume,
                    reads=[cfg.model, cfg.distill_from], checkpoint_dir=CHECKPOINTS)


def build_parts(cfg: FinetuneConfig, data, device: str, folder: Path, log=print) -> Parts:
    """Stage 3: student (+ frozen embeddings), teacher, datasets, loss. Seeded first: the SBERT head is initialised
    here, before the trainer seeds, so a run does not depend on what its process did before. ``folder`` keeps
    mnrl's mined negatives for ``--resume``."""
    from transformers import set_seed

    from simlab.finetune.model import build_student, freeze_input_embeddings, load_teacher, same_tokenizer

    set_seed(cfg.seed)
    model, enc = build_student(cfg.model, cfg.pooling, cfg.max_length, cfg.prefix, device)
    frozen = freeze_input_embeddings(model) if cfg.freeze_embeddings else 0
    teacher, teacher_pooling = None, None
    if cfg.distill_from:
        teacher, teacher_pooling = load_teacher(cfg.distill_from, cfg.pooling, cfg.max_length, cfg.prefix, device)
        if not same_tokenizer(model, teacher):
            raise BadInputError(f"--distill-from {cfg.distill_from}: the teacher must share the student's tokenizer "
                                "(the loss sees token ids, as in 8454/8541 where both are the same architecture)")
    groups = mnrl = None
    if cfg.objective == "mnrl":
        from simlab.finetune.mnrl import build_mnrl_rows

        rows, groups, mnrl = build_mnrl_rows(cfg, data, enc, folder, log)
        datasets = {"positive": rows}
    else:
        datasets = build_datasets(data, cfg.objective)
    loss = build_loss(model, cfg.objective, teacher, cfg.distill_weight, cfg.mini_batch_size)
    return Parts(model, enc, teacher, teacher_pooling, frozen, datasets, loss, groups, mnrl)


def _training_args(cfg: FinetuneConfig, out_dir: Path):
    """Batch samplers are :class:`~simlab.finetune.trainer.FinetuneTrainer`'s (length-grouped, round robin)."""
    from sentence_transformers import SentenceTransformerTrainingArguments

    from simlab.train.args import training_args

    return training_args(out_dir, seed=cfg.seed, max_steps=cfg.max_steps, epochs=1.0, batch_size=cfg.batch_size,
                         lr=cfg.lr, save_steps=cfg.save_steps, logging_steps=cfg.logging_steps,
                         precision=cfg.precision, warmup_ratio=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
                         scheduler=cfg.scheduler, args_cls=SentenceTransformerTrainingArguments, eval_strategy="no")


def train_parts(cfg: FinetuneConfig, parts: Parts, run, log) -> tuple[object, dict]:
    """Stage 4: build the trainer and train, resuming from the run's newest sound checkpoint."""
    from simlab.finetune.trainer import FinetuneTrainer
    from simlab.train.trainer import build_trainer
    from simlab.train.trainer import run as run_trainer

    args = _training_args(cfg, run.checkpoint_dir)
    train = parts.datasets if len(parts.datasets) > 1 else next(iter(parts.datasets.values()))
    log(f"training {parts.enc.name} ({cfg.pooling}) with {cfg.objective}"
        f"{' + distillation' if parts.teacher else ''} on "
        f"{', '.join(f'{k}: {len(v)}' for k, v in parts.datasets.items())} pairs, batch {cfg.batch_size}, "
        f"max {cfg.max_steps} steps, {precision_of(args)}"
        + (f", {parts.frozen:,} embedding weights frozen" if parts.frozen else ""))
    trainer = build_trainer(parts.model, args, train, trainer_cls=FinetuneTrainer, loss=parts.loss,
                            minutes=cfg.minutes, group_by_length=cfg.group_by_length, text_groups=parts.groups)
    metrics = run_trainer(trainer, evaluate=False, run_folder=run)
    return trainer, metrics


def finetune(cfg: FinetuneConfig, log=None) -> dict:
    """Run the recipe; returns the run record (also written to ``<out>/simlab_finetune.json``).

    >>> record = finetune(FinetuneConfig(model="e5-small", out="ft", max_steps=10))   # doctest: +SKIP
    >>> record["training"]["global_step"]                                             # doctest: +SKIP
    10
    """
    from simlab.config import check_config
    from simlab.finetune.card import card_sections, run_record, run_summary
    from simlab.finetune.data import load_training_pairs
    from simlab.machine import set_threads
    from simlab.train.args import device_kind

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    check_config(cfg)
    set_threads(cfg.threads)
    run = open_finetune_run(cfg)  # nothing is written before this passes
    data = load_training_pairs(cfg.data_dir, cfg.data)
    log(data.summary())
    parts = build_parts(cfg, data, device_kind(), run.checkpoint_dir, log)
    trainer, metrics = train_parts(cfg, parts, run, log)
    record = run_record(cfg, data, parts, trainer, metrics)
    _save(parts.model, run.out, record)
    if cfg.interpolate is not None:
        from simlab.finetune.interpolate import interpolate_run
        from simlab.models.registry import resolve_model

        record["interpolation"] = interpolate_run(cfg, run.out, Path(resolve_model(cfg.model).path_or_id),
                                                  parts.enc.prefix, log)
        _save_record(run.out, record)
    if cfg.examples or cfg.eval_tasks:
        _score_saved(cfg, run.out, parts.enc.prefix, record, log)
        _save_record(run.out, record)
    run.finish(run_summary(record, metrics), keep_checkpoints=cfg.keep_checkpoints)
    run.write_card(*card_sections(record))
    log(f"wrote {run.out} ({record['training']['global_step']} steps, {record['training']['wall_seconds']} s)")
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
