"""``run_task``: one CLUE task end to end, in stages that read top to bottom: read the data
(:func:`simlab.clue.data.load_data`) -> open the run folder (the run contract, :mod:`simlab.train.run`) -> build the
model and features (:func:`build_parts`) -> train, keeping the best dev weights (:func:`train`) -> predict dev and
the test files with them (:func:`predict_tests`) -> summary, card and finish (:func:`finish`).

The run folder (``--out``, default ``~/.cache/simlab/models/clue-<task>-<model>``) holds:

- ``simlab_run.json``: the run record (kind ``clue``, the settings compared on ``--resume``, every invocation);
- ``best/``: the best-dev weights (``backbone/`` is an ordinary HF folder with the tokenizer; ``head.safetensors``;
  ``clue.json``; ``score.json``);
- ``checkpoint-N/``: ``Trainer`` checkpoints for ``--resume`` (every ``save_steps``), directly in the run folder
  (``checkpoint_dir="."``); removed once the run has finished unless ``keep_checkpoints``;
- ``metrics.jsonl`` (training log, dev scores per epoch), ``metrics.json`` (final summary; ``simlab clue submit``
  checks the predict files against it), ``README.md`` (model card), and the task's submission files.

>>> from simlab.clue.config import ClueConfig
>>> summary = run_task(ClueConfig(task="afqmc", model="e5-small", epochs=1, limit=200))   # doctest: +SKIP
>>> summary["dev"]["accuracy"]                                                             # doctest: +SKIP
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from simlab.clue import classify
from simlab.clue.card import card_intro, card_sections, card_title, summary_line
from simlab.clue.common import ClueTask, special_ids
from simlab.clue.config import ClueConfig, output_folder, resolved
from simlab.clue.data import TaskData, load_data, skip_report
from simlab.config import check_config, settings_of
from simlab.errors import BadInputError, SimlabError, TrainingError
from simlab.io import atomic_write_json
from simlab.train.args import precision_of

__all__ = ["run_task", "task_hooks", "load_backbone", "build_parts", "train", "predict_tests", "finish",
           "summary_line"]


def task_hooks(task: ClueTask) -> tuple:
    """(featurize, decode, score, write) of a task, the classification defaults where it defines none."""
    def write_cls(path, examples, predictions, t):
        from simlab.clue.submit import write_jsonl

        write_jsonl(path, classify.submission_rows(examples, predictions, t))

    return (task.featurize or classify.featurize, task.decode or classify.decode,
            task.score or classify.accuracy, task.write or write_cls)


def load_backbone(model_name: str):
    """(backbone, tokenizer, model ref) via the simlab registry (short names, folders, hub ids)."""
    from simlab.models.hf_loading import load_hf_model
    from simlab.models.registry import resolve_model

    ref = resolve_model(model_name)
    backbone, tokenizer, _ = load_hf_model(ref.path_or_id)
    if not getattr(tokenizer, "is_fast", False):
        raise BadInputError(f"{model_name}: simlab clue needs a fast tokenizer (character offsets)")
    return backbone, tokenizer, ref


@dataclass
class Parts:
    """The model of a run and what feeds and scores it."""

    model: object
    tokenizer: object
    ref: object
    collator: object  # simlab.clue.batching.Collator
    hooks: tuple  # (featurize, decode, score, write)
    train_feats: list
    dev_feats: list
    eval_bs: int

    def evaluate(self, model, task, examples, feats) -> dict:
        from simlab.clue.batching import predict

        _, decode, score, _ = self.hooks
        return score(examples, decode(examples, feats, predict(model, feats, self.collator, self.eval_bs), task), task)


def build_parts(cfg: ClueConfig, task: ClueTask, data: TaskData) -> Parts:
    """Load the backbone, put the task's head on it (seeded) and featurize train and dev."""
    from transformers import set_seed

    from simlab.clue.batching import Collator
    from simlab.clue.model import ClueModel

    set_seed(cfg.seed)
    backbone, tokenizer, ref = load_backbone(cfg.model)
    positions = getattr(backbone.config, "max_position_embeddings", None)
    if positions and cfg.max_length > positions:
        raise BadInputError(f"--max-length {cfg.max_length}: {ref.name} has {positions} positions")
    model = ClueModel(backbone, task.kind, num_labels=len(task.labels), pooling=cfg.pooling, heads=len(task.labels))
    hooks = task_hooks(task)
    collator = Collator(pad_id=special_ids(tokenizer)[2], kind=task.kind, heads=max(1, len(task.labels)))
    featurize = hooks[0]
    return Parts(model=model, tokenizer=tokenizer, ref=ref, collator=collator, hooks=hooks,
                 train_feats=featurize(data.train, tokenizer, cfg.max_length, task),
                 dev_feats=featurize(data.dev, tokenizer, cfg.max_length, task),
                 eval_bs=max(cfg.batch_size, 32) if task.kind == "classify" else cfg.batch_size)


def train(cfg: ClueConfig, task: ClueTask, data: TaskData, parts: Parts, run, stream) -> tuple[dict, object]:
    """Train with the recipe of ``cfg``, scoring dev at every epoch end and keeping the best weights in ``best/``;
    resumes from the run's last sound checkpoint. Returns (train metrics, the best-dev callback)."""
    from simlab.clue.recipes import build_clue_trainer
    from simlab.clue.selection import BestDevCallback
    from simlab.train.trainer import run as run_trainer

    def save(m, folder):
        m.save(folder, parts.tokenizer, {"task": task.name, "labels": list(task.labels), "backbone": parts.ref.name,
                                         "max_length": cfg.max_length})

    callback = BestDevCallback(lambda m: parts.evaluate(m, task, data.dev, parts.dev_feats), save, run.out / "best",
                               task.metric, stream)
    trainer = build_clue_trainer(parts.model, parts.train_feats, parts.collator, run.out, cfg, [callback], stream)
    callback.trainer = trainer
    metrics = run_trainer(trainer, evaluate=False, run_folder=run)
    metrics["stopped_early"] = trainer.state.global_step < trainer.state.max_steps
    metrics["precision"] = precision_of(trainer.args)
    return metrics, callback


def predict_tests(cfg: ClueConfig, task: ClueTask, data: TaskData, parts: Parts, out: Path) -> dict:
    """Reload the best-dev weights, score dev with them, predict every test file and write its submission."""
    from simlab.clue.batching import predict
    from simlab.clue.selection import best_score

    best = best_score(out / "best")
    if best is None:
        raise TrainingError(f"{out}: training ended before any dev evaluation, so there are no best weights")
    model = parts.model
    model.load_weights_from(out / "best")
    featurize, decode, score, write = parts.hooks
    result = {"best": best, "dev": parts.evaluate(model, task, data.dev, parts.dev_feats), "test": {},
              "submissions": []}
    for ts in data.tests:
        feats = featurize(ts.examples, parts.tokenizer, cfg.max_length, task)
        preds = decode(ts.examples, feats, predict(model, feats, parts.collator, parts.eval_bs), task)
        if any(getattr(ex, "label", None) is not None for ex in ts.examples) or task.kind in ("span", "ner"):
            labelled = score(ts.examples, preds, task)
            if labelled.get("n"):
                result["test"][ts.test.name] = labelled
        if ts.test.submission:
            write(out / ts.test.submission, ts.examples, preds, task)
            result["submissions"].append({"file": ts.test.submission, "test": ts.test.name,
                                          "source": [str(f) for f in ts.files], "rows": len(ts.examples),
                                          "complete": cfg.limit is None, "skipped": len(ts.skipped)})
    return result


def dev_history(metrics_jsonl: Path) -> list[dict]:
    """The per-epoch dev records of ``metrics.jsonl`` (the whole run, across resumes)."""
    from simlab.clue.common import text_lines
    from simlab.data.jsonl import json_object_line

    if not metrics_jsonl.is_file():
        return []
    rows = [json_object_line(metrics_jsonl, n, line) for n, line in text_lines(metrics_jsonl) if line.strip()]
    return [{k: v for k, v in r.items() if k.startswith("dev_") or k in ("epoch", "step")}
            for r in rows if any(k.startswith("dev_") for k in r)]


def _unaligned(features: list[dict]) -> int:
    """Gold spans that no token boundary can express (CMRC answers, CLUENER entities); counted, not hidden."""
    return sum(int(not f.get("aligned", True)) + int(f.get("unaligned", 0)) for f in features)


def summarize(cfg: ClueConfig, task: ClueTask, data: TaskData, parts: Parts, trained: tuple, result: dict,
              out: Path, stream) -> dict:
    """The run's ``metrics.json``: settings, counts, rows left out, dev history, scores and submission records."""
    train_metrics, callback = trained
    fields = ("recipe", "pooling", "lr", "head_lr_ratio", "warmup", "epochs", "max_steps", "max_length",
              "batch_size", "grad_accum", "batching", "seed", "limit", "train_limit")
    return {
        "task": task.name, "title": task.title, "model": parts.ref.name, "model_path": parts.ref.path_or_id,
        **{k: getattr(cfg, k) for k in fields},
        "optimizer": "AdaFactor" if cfg.recipe == "8739" else "AdamW",
        "files": {k: [str(f) for f in v] for k, v in data.files.items()},
        "counts": {"train": len(data.train), "train_available": data.train_available, "dev": len(data.dev),
                   "train_features": len(parts.train_feats), "dev_features": len(parts.dev_feats),
                   **{t.test.name: len(t.examples) for t in data.tests}},
        "skipped": {k: skip_report(v, k, stream) for k, v in data.skipped.items()},
        "unaligned": {"train": _unaligned(parts.train_feats), "dev": _unaligned(parts.dev_feats)},
        "best_epoch": result["best"].get("epoch"), "metric": task.metric, "dev": result["dev"],
        "dev_history": dev_history(out / "metrics.jsonl") or callback.history, "test": result["test"],
        "submissions": result["submissions"], "missing_tests": data.missing_tests,
        "train_metrics": {k: v for k, v in train_metrics.items() if isinstance(v, (int, float))},
        "stopped_early": bool(train_metrics["stopped_early"]), "precision": train_metrics["precision"],
        "dev_eval_seconds": round(callback.eval_seconds, 1),
    }


def finish(run, cfg: ClueConfig, summary: dict) -> dict:
    """Write ``metrics.json`` (predictions are complete from here on), mark the run finished in its record (or
    stopped, when ``--minutes`` ended it early: its checkpoints stay for ``--resume``), and write the card."""
    done = sum(i.get("wall_seconds", 0) for i in run.record["invocations"][:-1])
    summary["wall_seconds"] = round(done + time.time() - run.t0, 1)
    atomic_write_json(run.out / "metrics.json", summary)
    tm = summary["train_metrics"]
    record = {"global_step": tm.get("global_step"), "tokens_seen": tm.get("tokens_seen"),
              "train_loss": tm.get("train_loss"), "precision": summary["precision"], "metric": summary["metric"],
              "dev": summary["dev"].get(summary["metric"])}
    if summary["stopped_early"]:
        run.pause(record)  # --minutes stopped it before its last step: the checkpoints stay for --resume
    else:
        run.finish(record, keep_checkpoints=cfg.keep_checkpoints)
    run.write_card(card_title(summary), card_intro(summary), card_sections(summary))
    return summary


def run_settings(cfg: ClueConfig, data: TaskData) -> dict:
    """What ``--resume`` must find unchanged: the resolved config and the data files read."""
    return {**settings_of(cfg), "data_files": {k: [str(Path(f).resolve()) for f in v] for k, v in data.files.items()}}


def _forget_fresh_run(run) -> None:
    """Remove the record a first start has just written (nothing else is there yet), so fixing the command and
    running it again is not refused as "an unfinished run"."""
    from simlab.outdir import RUN_FILE

    if not run.resume and len(run.record["invocations"]) == 1:
        (run.out / RUN_FILE).unlink(missing_ok=True)
        if not any(run.out.iterdir()):
            run.out.rmdir()


def run_task(cfg: ClueConfig, stream=None) -> dict:
    """Train ``cfg.task`` on ``cfg.model`` with ``cfg.recipe`` and return the summary (also ``OUT/metrics.json``)."""
    from simlab.clue.tasks import get_task
    from simlab.machine import set_threads

    check_config(cfg)
    cfg, stream = resolved(cfg), stream or sys.stderr
    task = get_task(cfg.task)
    data = load_data(cfg, task, stream)  # a damaged data file fails here, before torch loads
    from simlab.train.run import open_run

    model_dir = Path(cfg.model).expanduser()
    run = open_run(output_folder(cfg), kind="clue", settings=run_settings(cfg, data), resume=cfg.resume,
                   reads=[model_dir] if model_dir.exists() else [], checkpoint_dir=".")
    set_threads(cfg.threads)
    try:
        parts = build_parts(cfg, task, data)
    except SimlabError:  # e.g. a model that does not load: a fresh run folder must not be left behind
        _forget_fresh_run(run)
        raise
    trained = train(cfg, task, data, parts, run, stream)
    result = predict_tests(cfg, task, data, parts, run.out)
    return finish(run, cfg, summarize(cfg, task, data, parts, trained, result, run.out, stream))
