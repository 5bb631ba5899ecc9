"""``build_trainer``: any ``transformers.Trainer`` (sub)class plus simlab's callbacks and atomic checkpoints;
``run``: train, resuming from the last complete checkpoint when asked.

The loop, gradient accumulation, bf16 autocast, resume (optimizer, scheduler, RNG, data position) and
multi-GPU through ``torchrun`` / ``accelerate`` are all transformers'. simlab adds only what it lacks.

>>> trainer = build_trainer(model, training_args(out, max_steps=100), train_ds, eval_ds,
...                         data_collator=collate)                     # doctest: +SKIP
>>> metrics = run(trainer, resume=True)                                # doctest: +SKIP
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from simlab.errors import TrainingError
from simlab.train.callbacks import (
    AlreadyDoneCallback,
    CheckpointCompleteCallback,
    MetricsJsonlCallback,
    ProgressCallback,
    RunAlreadyDone,
    TimeBudgetCallback,
)
from simlab.train.checkpoint import last_complete_checkpoint, set_aside_incomplete
from simlab.train.plots import plot_metrics
from simlab.train.precision import precision_callbacks


def build_trainer(model, args, train_dataset, eval_dataset=None, data_collator=None, compute_metrics=None,
                  trainer_cls=None, tokens_per_step: int | None = None, minutes: float | None = None,
                  progress_stream=None, **kw):
    """A ``trainer_cls`` (default ``transformers.Trainer``) with progress, metrics.jsonl, a time budget and
    atomic checkpoints. Extra keywords go to the trainer (``preprocess_logits_for_metrics``, ``loss``, ...)."""
    from transformers import Trainer

    cls = trainer_cls or Trainer
    callbacks = [ProgressCallback(progress_stream, tokens_per_step), MetricsJsonlCallback(),
                 CheckpointCompleteCallback(), AlreadyDoneCallback()]
    if minutes:
        callbacks.append(TimeBudgetCallback(minutes))
    callbacks += precision_callbacks(args)  # bf16-master: bf16 compute on float32 master weights
    callbacks += list(kw.pop("callbacks", []) or [])
    from transformers.trainer_callback import PrinterCallback
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Writing model shards" bars at every save
    trainer = cls(model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset,
                  data_collator=data_collator, compute_metrics=compute_metrics, callbacks=callbacks, **kw)
    trainer.remove_callback(PrinterCallback)  # the raw log dicts; ProgressCallback prints a readable line
    return trainer


def resume_point(out_dir, resume: bool) -> Path | None:
    """The checkpoint to resume from (None = start fresh); refuses to silently restart over an old run."""
    out_dir = Path(out_dir)
    set_aside_incomplete(out_dir) if resume else None
    last = last_complete_checkpoint(out_dir)
    if resume:
        if last is None:
            print(f"simlab: no complete checkpoint in {out_dir}; starting from step 0", file=sys.stderr)
        return last
    if last is not None:
        raise TrainingError(f"{out_dir} already holds checkpoints (newest {last.name}); pass --resume to "
                            "continue that run, or choose another --out")
    return None


def run(trainer, resume: bool = False, evaluate: bool = True, run_folder=None) -> dict:
    """Train, then evaluate once more; returns train + final eval metrics. With ``run_folder`` (the run contract,
    :func:`simlab.train.run.open_run`) it resumes from ``run_folder.resume_from()`` (checksums verified, a damaged
    newest checkpoint set aside); without, from the last complete checkpoint when ``resume``.

    Also writes ``curves.png`` beside ``metrics.jsonl``.
    """
    out_dir = Path(trainer.args.output_dir)
    ckpt = run_folder.resume_from() if run_folder is not None else resume_point(out_dir, resume)
    t0 = time.perf_counter()
    try:
        metrics = dict(trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None).metrics)
    except RunAlreadyDone:  # killed after its last checkpoint: the weights are that checkpoint's, no extra step
        metrics = {"train_loss": _last_train_loss(out_dir)}
    metrics["wall_seconds_this_process"] = round(time.perf_counter() - t0, 1)
    metrics["resumed_from_step"] = int(ckpt.name.split("-")[1]) if ckpt else 0
    metrics["global_step"] = trainer.state.global_step
    metrics["tokens_seen"] = trainer.state.num_input_tokens_seen
    if evaluate and trainer.eval_dataset is not None:
        metrics.update(trainer.evaluate())
    plot_metrics(out_dir / "metrics.jsonl", out_dir / "curves.png")
    return metrics


def _last_train_loss(out_dir: Path) -> float | None:
    """The last logged training loss in ``metrics.jsonl`` (what a finished ``train()`` would have reported)."""
    from simlab.train.plots import read_metrics

    losses = [r["loss"] for r in read_metrics(out_dir / "metrics.jsonl") if "loss" in r]
    return losses[-1] if losses else None
