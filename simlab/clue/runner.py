"""``run_task``: one CLUE task end to end — read, train on ``simlab.train``, keep best dev, predict test, submit.

The run folder (``--out``, default ``~/.cache/simlab/models/clue-<task>-<model>``) holds:

- ``best/``: the best-dev weights (``backbone/`` is an ordinary HF folder with the tokenizer; ``head.safetensors``;
  ``clue.json``; ``score.json``);
- ``checkpoint-N/``: ``Trainer`` checkpoints for ``--resume`` (every ``save_steps``, also inside an epoch); removed
  once the run has finished (weights plus optimizer state, ~3x the model each), unless ``keep_checkpoints``;
- ``metrics.jsonl`` (training log, dev scores per epoch), ``metrics.json`` (final summary), ``README.md`` (model
  card), and the task's submission files.

>>> from simlab.clue.runner import run_task
>>> summary = run_task("afqmc", "e5-small", epochs=1, limit=200)   # doctest: +SKIP
>>> summary["dev"]["accuracy"]                                      # doctest: +SKIP
"""

from __future__ import annotations

import platform
import shutil
import sys
import time
from pathlib import Path

from simlab.clue import classify
from simlab.clue.batching import Collator, predict
from simlab.clue.common import (
    DEFAULT_POOLING,
    ClueTask,
    data_root,
    expected,
    find_files,
    limit_examples,
    require_files,
    special_ids,
)
from simlab.clue.model import ClueModel
from simlab.clue.selection import BestDevCallback, best_score
from simlab.errors import BadInputError, MissingFileError, TrainingError
from simlab.io import atomic_write_json, atomic_write_text

OPTIMIZERS = ("adafactor", "adamw")


def task_hooks(task: ClueTask) -> tuple:
    """(featurize, decode, score, write) of a task, the classification defaults where it defines none."""
    def write_cls(path, examples, predictions, t):
        from simlab.clue.submit import write_jsonl

        write_jsonl(path, classify.submission_rows(examples, predictions, t))

    return (task.featurize or classify.featurize, task.decode or classify.decode,
            task.score or classify.accuracy, task.write or write_cls)


def load_split(task: ClueTask, root: Path, split: str, limit: int | None, override: str | None = None):
    """(examples, skipped, files) of a split; ``override`` is a file path replacing the task's files."""
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise MissingFileError(f"--{split}-file {path} does not exist")
        files = [path]
    else:
        files = require_files(root, task, split)
    loaded = task.read(files, split)
    return limit_examples(loaded.examples, limit), loaded.skipped, files


def load_backbone(model_name: str):
    """(backbone, tokenizer, model name for the card) via the simlab registry (short names, folders, hub ids)."""
    from simlab.encode.encoder import load_hf_model
    from simlab.models.registry import resolve_model

    ref = resolve_model(model_name)
    backbone, tokenizer, _ = load_hf_model(ref.path_or_id)
    if not getattr(tokenizer, "is_fast", False):
        raise BadInputError(f"{model_name}: simlab clue needs a fast tokenizer (character offsets)")
    return backbone, tokenizer, ref


def _skip_report(skipped: list, split: str, stream) -> dict:
    if skipped:
        first = "; ".join(f"{f}:{n}: {r}" for f, n, r in skipped[:3])
        print(f"{split}: {len(skipped)} rows left out ({first}{' ...' if len(skipped) > 3 else ''})",
              file=stream, flush=True)
    return {"count": len(skipped), "first": [f"{f}:{n}: {r}" for f, n, r in skipped[:10]]}


def _args_cls():
    """``TrainingArguments``, taking ``warmup_ratio`` as transformers 5 does (a float ``warmup_steps`` < 1)."""
    import dataclasses

    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments)}

    def make(**kw):
        if "warmup_ratio" in kw and "warmup_ratio" not in names:
            ratio = kw.pop("warmup_ratio")
            kw.setdefault("warmup_steps", ratio if ratio else 0)
        return TrainingArguments(**kw)

    return make


def sample_train(examples: list, n: int | None, seed: int = 0) -> list:
    """A seeded random ``n`` of the training examples, in file order (all when ``n`` is None): ``--train-limit``,
    which shortens training but keeps dev and test complete.

    >>> sample_train(list(range(10)), 3, seed=0) == sorted(sample_train(list(range(10)), 3, seed=0))
    True
    """
    import random

    if n is None or n >= len(examples):
        return examples
    if n < 1:
        raise BadInputError(f"--train-limit must be >= 1, got {n}")
    keep = sorted(random.Random(seed).sample(range(len(examples)), n))
    return [examples[i] for i in keep]


def _unaligned(features: list[dict]) -> int:
    """Gold spans that no token boundary can express (CMRC answers, CLUENER entities); counted, not hidden."""
    return sum(int(not f.get("aligned", True)) + int(f.get("unaligned", 0)) for f in features)


def dev_history(metrics_jsonl: Path) -> list[dict]:
    """The per-epoch dev records of ``metrics.jsonl`` (the whole run, across resumes)."""
    import json

    if not metrics_jsonl.is_file():
        return []
    rows = [json.loads(line) for line in metrics_jsonl.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{k: v for k, v in r.items() if k.startswith("dev_") or k in ("epoch", "step")}
            for r in rows if any(k.startswith("dev_") for k in r)]


def default_out(task: ClueTask, model_name: str) -> Path:
    from simlab.paths import cache_dir

    short = Path(model_name.rstrip("/")).name or model_name
    return cache_dir("models") / f"clue-{task.name}-{short}"


def build_clue_trainer(model, train_features: list[dict], collator, out, *, seed: int = 0, epochs: float = 1.0,
                       batch_size: int = 32, lr: float = 5e-4, grad_accum: int = 1, optimizer: str = "adafactor",
                       warmup: float = 0.1, save_steps: int = 500, precision: str = "auto", callbacks=(),
                       minutes: float | None = None, stream=None, max_steps: int = -1):
    """The ``Trainer`` of a CLUE run (through :func:`simlab.train.trainer.build_trainer`).

    AdaFactor: lr constant, no warmup, no weight decay, and no gradient-norm clipping (AdaFactor clips its own
    update; bert4keras clips no gradient). AdamW: linear decay after ``warmup``, weight decay 0.01, norm clip 1.
    Dev evaluation is the callbacks' job (``eval_strategy="no"``).
    """
    from simlab.train.args import training_args
    from simlab.train.optim import AdaFactor
    from simlab.train.trainer import build_trainer

    if optimizer == "adafactor":
        sched = {"scheduler": "constant", "warmup_ratio": 0.0, "max_grad_norm": 0.0}
        opt = {"optimizer_cls_and_kwargs": (AdaFactor, {"lr": lr})}
    else:
        sched, opt = {"scheduler": "linear", "warmup_ratio": warmup, "weight_decay": 0.01}, {}
    args = training_args(out, seed=seed, epochs=epochs, max_steps=max_steps, batch_size=batch_size, lr=lr,
                         grad_accum=grad_accum, save_steps=save_steps, precision=precision, eval_strategy="no",
                         args_cls=_args_cls(), **sched)
    return build_trainer(model, args, train_features, data_collator=collator, callbacks=list(callbacks),
                         minutes=minutes, progress_stream=stream, **opt)


def run_task(task_name: str, model_name: str, *, out=None, data_dir=None, epochs: float | None = None,
             max_length: int | None = None, batch_size: int | None = None, grad_accum: int | None = None,
             lr: float | None = None, optimizer: str = "adafactor", warmup: float = 0.1,
             pooling: str = DEFAULT_POOLING, limit: int | None = None, seed: int = 0, resume: bool = False,
             train_file: str | None = None, dev_file: str | None = None, save_steps: int = 500,
             train_limit: int | None = None, tests: str | None = None,
             precision: str = "auto", minutes: float | None = None, keep_checkpoints: bool = False,
             command: str = "", stream=None) -> dict:
    """Train ``task_name`` on ``model_name`` with the 8739 recipe (overridable), return the summary dict."""
    import torch
    from transformers import set_seed

    from simlab.clue.tasks import get_task
    from simlab.train.trainer import run

    stream = stream or sys.stderr
    task = get_task(task_name)
    if optimizer not in OPTIMIZERS:
        raise BadInputError(f"--optimizer {optimizer!r}: choose {' or '.join(OPTIMIZERS)}")
    r = task.recipe
    max_length, batch_size = max_length or r.max_length, batch_size or r.batch_size
    grad_accum, epochs = grad_accum or r.grad_accum, epochs if epochs is not None else r.epochs
    lr = lr or (r.lr if optimizer == "adafactor" else 2e-5)
    for name, v in (("--max-length", max_length), ("--batch-size", batch_size), ("--grad-accum", grad_accum)):
        if v < 1:
            raise BadInputError(f"{name} must be >= 1, got {v}")
    try:
        root = data_root(data_dir)
    except MissingFileError:
        if not (train_file and dev_file):
            raise
        root = None  # both files given explicitly: no data folder, so no test files either
    out = Path(out).expanduser() if out else default_out(task, model_name)
    if (out / "metrics.json").is_file() and not any(out.glob("checkpoint-*")):
        raise TrainingError(f"{out} already holds a finished run (metrics.json, best weights in best/) whose "
                            f"checkpoints were removed when it finished, so nothing can resume: use another --out")
    if (out / "metrics.json").is_file() and not resume:
        raise TrainingError(f"{out} already holds a finished run (metrics.json); pass --resume or another --out")
    if (out / "best").is_dir() and not resume:
        raise TrainingError(f"{out} holds best-dev weights of an unfinished run; pass --resume or another --out")

    # data
    train, train_skip, train_files = load_split(task, root, "train", limit, train_file)
    train_total = len(train)
    train = sample_train(train, train_limit, seed)
    dev, dev_skip, dev_files = load_split(task, root, "dev", limit, dev_file)
    if not train or not dev:
        raise BadInputError(f"task {task.name}: {'train' if not train else 'dev'} has no usable examples")
    wanted = None if tests in (None, "all") else {t.strip() for t in tests.split(",") if t.strip()} - {"none"}
    if wanted and wanted - {t.name for t in task.tests}:
        raise BadInputError(f"--tests {tests}: task {task.name} has test files {', '.join(t.name for t in task.tests)}")
    test_sets, missing_tests = [], []
    for test in task.tests:
        if wanted is not None and test.name not in wanted:
            continue
        files, _ = find_files(root, test.alternatives) if root else (None, -1)
        if files is None:
            missing_tests.append(expected(root, test.alternatives) if root else test.name)
            continue
        loaded = task.read(files, test.name)
        test_sets.append((test, limit_examples(loaded.examples, limit), loaded.skipped, files))
    for path in missing_tests:
        print(f"{task.name}: no test file {path}: no submission for it", file=stream, flush=True)

    # model
    set_seed(seed)
    backbone, tokenizer, ref = load_backbone(model_name)
    model = ClueModel(backbone, task.kind, num_labels=len(task.labels), pooling=pooling, heads=len(task.labels))
    featurize, decode, score, write = task_hooks(task)
    collator = Collator(pad_id=special_ids(tokenizer)[2], kind=task.kind, heads=max(1, len(task.labels)))
    train_feats = featurize(train, tokenizer, max_length, task)
    dev_feats = featurize(dev, tokenizer, max_length, task)
    eval_bs = max(batch_size, 32) if task.kind in ("classify",) else batch_size

    def evaluate(m, examples=dev, feats=dev_feats):
        outputs = predict(m, feats, collator, eval_bs)
        return score(examples, decode(examples, feats, outputs, task), task)

    def save(m, folder):
        m.save(folder, tokenizer, {"task": task.name, "labels": list(task.labels), "backbone": ref.name,
                                   "max_length": max_length})

    callback = BestDevCallback(evaluate, save, out / "best", task.metric, stream)
    trainer = build_clue_trainer(model, train_feats, collator, out, seed=seed, epochs=epochs, batch_size=batch_size,
                                 lr=lr, grad_accum=grad_accum, optimizer=optimizer, warmup=warmup,
                                 save_steps=save_steps, precision=precision, callbacks=[callback], minutes=minutes,
                                 stream=stream)
    callback.trainer = trainer
    t0 = time.perf_counter()
    train_metrics = run(trainer, resume=resume, evaluate=False)
    wall = time.perf_counter() - t0

    # best weights -> dev check, test predictions, submissions
    best = best_score(out / "best")
    if best is None:
        raise TrainingError(f"{out}: training ended before any epoch finished, so no dev score and no best weights")
    model.load_weights_from(out / "best")
    model.to(next(iter(trainer.model.parameters())).device)
    dev_metrics = evaluate(model)
    submissions, test_metrics = [], {}
    for test, examples, skipped, files in test_sets:
        feats = featurize(examples, tokenizer, max_length, task)
        preds = decode(examples, feats, predict(model, feats, collator, eval_bs), task)
        if any(getattr(ex, "label", None) is not None for ex in examples) or task.kind in ("span", "ner"):
            labelled = score(examples, preds, task)
            if labelled.get("n"):
                test_metrics[test.name] = labelled
        if test.submission:
            write(out / test.submission, examples, preds, task)
            submissions.append({"file": test.submission, "test": test.name, "source": [str(f) for f in files],
                                "rows": len(examples), "complete": limit is None, "skipped": len(skipped)})
    summary = {
        "task": task.name, "title": task.title, "model": ref.name, "model_path": ref.path_or_id,
        "pooling": pooling, "optimizer": optimizer, "lr": lr, "epochs": epochs, "max_length": max_length,
        "batch_size": batch_size, "grad_accum": grad_accum, "seed": seed, "limit": limit,
        "files": {"train": [str(f) for f in train_files], "dev": [str(f) for f in dev_files]},
        "train_limit": train_limit,
        "counts": {"train": len(train), "train_available": train_total, "dev": len(dev), "train_features": len(train_feats),
                   "dev_features": len(dev_feats), **{t.name: len(e) for t, e, _, _ in test_sets}},
        "skipped": {"train": _skip_report(train_skip, "train", stream), "dev": _skip_report(dev_skip, "dev", stream),
                    **{t.name: _skip_report(s, t.name, stream) for t, _, s, _ in test_sets}},
        "unaligned": {"train": _unaligned(train_feats), "dev": _unaligned(dev_feats)},
        "best_epoch": best.get("epoch"), "metric": task.metric, "dev": dev_metrics,
        "dev_history": dev_history(out / "metrics.jsonl") or callback.history, "test": test_metrics,
        "submissions": submissions, "missing_tests": missing_tests,
        "train_metrics": {k: v for k, v in train_metrics.items() if isinstance(v, (int, float))},
        "wall_seconds": round(wall, 1), "dev_eval_seconds": round(callback.eval_seconds, 1),
        "machine": f"{platform.node()} {platform.machine()}, {torch.get_num_threads()} torch threads, "
                   f"{'cuda' if torch.cuda.is_available() else 'cpu'}",
        "command": command,
    }
    summary["checkpoints"] = "kept" if keep_checkpoints else "removed after the run finished"
    atomic_write_json(out / "metrics.json", summary)
    atomic_write_text(out / "README.md", model_card(summary))
    if not keep_checkpoints:  # best/ holds what the run is for; the checkpoints only served --resume
        for ckpt in sorted(out.glob("checkpoint-*")):
            shutil.rmtree(ckpt)
    return summary


def model_card(s: dict) -> str:
    """A short model card for the run folder."""
    dev = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in s["dev"].items())
    tests = "; ".join(f"{name}: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                             for k, v in m.items()) for name, m in s["test"].items()) or "none"
    lines = [
        f"# simlab clue: {s['task']} on {s['model']}", "",
        f"{s['title']}, fine-tuned with the kexue.fm/archives/8739 recipe (simlab clue).", "",
        f"- data: train {s['counts']['train']} examples ({', '.join(s['files']['train'])}), "
        f"dev {s['counts']['dev']} ({', '.join(s['files']['dev'])}); rows left out: "
        f"train {s['skipped']['train']['count']}, dev {s['skipped']['dev']['count']}",
        f"- training: {s['epochs']} epochs, {s['train_metrics'].get('global_step', '?')} optimizer steps, batch "
        f"{s['batch_size']} x accumulation {s['grad_accum']}, max length {s['max_length']}, {s['optimizer']} lr "
        f"{s['lr']}, pooling {s['pooling']}, seed {s['seed']}" + (f", --limit {s['limit']}" if s["limit"] else "")
        + (f", --train-limit {s['train_limit']} of {s['counts']['train_available']}" if s["train_limit"] else ""),
        f"- wall time {s['wall_seconds']} s on {s['machine']}",
        f"- best dev (epoch {s['best_epoch']}): {dev}",
        f"- labelled test files: {tests}",
        f"- submission files: {', '.join(x['file'] for x in s['submissions']) or 'none (no test file)'}",
        f"- command: `{s['command']}`", "",
        "Weights: `best/backbone/` (HF folder + tokenizer) and `best/head.safetensors`.", "",
    ]
    return "\n".join(lines)


def summary_line(s: dict) -> str:
    """One line for the terminal."""
    main = s["dev"].get(s["metric"])
    return (f"{s['task']}: dev {s['metric']} {main:.4f} (best epoch {s['best_epoch']}), "
            f"{len(s['submissions'])} submission file(s), {s['wall_seconds']} s")


__all__ = ["run_task", "task_hooks", "load_split", "model_card", "summary_line", "OPTIMIZERS"]
