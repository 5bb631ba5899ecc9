"""Best-dev selection (8739's ``Evaluator``): score dev after every epoch, keep the best weights on disk.

bert4keras saves ``weights/<task>.weights`` whenever dev accuracy beats the best so far, then loads them to
predict the test files. :class:`BestDevCallback` does the same inside ``Trainer``: at each epoch end it runs the
task's prediction and metric on dev, logs ``dev_<metric>`` (so it lands in ``metrics.jsonl``), and when the score
improves writes ``<out>/best/`` atomically (a temporary folder renamed into place) with ``score.json``. A resumed
run reads ``score.json`` back, so a kill never loses the best weights or lets a worse epoch replace them.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from transformers import TrainerCallback

from simlab.errors import TrainingError
from simlab.io import atomic_write_json, read_json


def best_score(best_dir: Path) -> dict | None:
    """The ``score.json`` of a best-weights folder, or None when there is none yet; a damaged one is one error
    line naming it."""
    path = Path(best_dir) / "score.json"
    if not path.is_file():
        return None
    found = read_json(path, f"best-dev score (move {Path(best_dir).name}/ aside to select the best dev epoch again)",
                      TrainingError)
    if not isinstance(found.get("score"), (int, float)):
        raise TrainingError(f"{path}: no 'score' in it; move {Path(best_dir).name}/ aside")
    return found


def epoch_label(epoch: float | None) -> int | float:
    """The epoch a dev score belongs to: a whole number at an epoch end, else rounded to 3 places (a run that
    ``--max-steps`` or ``--minutes`` stopped inside an epoch).

    >>> epoch_label(2.0000001), epoch_label(0.41666)
    (2, 0.417)
    """
    e = float(epoch or 0)
    return int(round(e)) if abs(e - round(e)) < 1e-6 else round(e, 3)


def replace_folder(tmp: Path, dest: Path) -> None:
    """Move ``tmp`` onto ``dest``: old folder renamed aside first, so one complete copy always exists."""
    old = dest.with_name(dest.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    if old.exists():
        shutil.rmtree(old)


class BestDevCallback(TrainerCallback):
    """Evaluate on dev at every epoch end with ``evaluate(model) -> metrics`` and keep the best weights.

    ``save(model, folder)`` writes the weights; ``metric`` names the selection key in the metrics dict.
    ``trainer`` (set after the trainer is built) receives the dev metrics through ``trainer.log``.
    """

    def __init__(self, evaluate, save, best_dir: str | Path, metric: str, stream=None):
        self.evaluate, self.save, self.metric = evaluate, save, metric
        self.best_dir = Path(best_dir)
        self.stream = stream or sys.stderr
        self.trainer = None
        self.history: list[dict] = []
        self.eval_seconds = 0.0  # wall time spent scoring dev (inside Trainer's train_runtime)
        found = best_score(self.best_dir)
        self.best = found["score"] if found else float("-inf")

    def on_epoch_end(self, args, state, control, model=None, **kw):
        t0 = time.perf_counter()
        metrics = self.evaluate(model)
        score = float(metrics[self.metric])
        epoch = epoch_label(state.epoch)
        record = {"epoch": epoch, "step": state.global_step, **{f"dev_{k}": v for k, v in metrics.items()}}
        self.history.append(record)
        improved = score > self.best
        if improved:
            self.best = score
            tmp = self.best_dir.with_name(self.best_dir.name + ".tmp")
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir(parents=True)
            self.save(model, tmp)
            atomic_write_json(tmp / "score.json", {"score": score, "metric": self.metric, **record})
            replace_folder(tmp, self.best_dir)
        print(f"epoch {epoch}: dev {self.metric} {score:.5f}, best {self.best:.5f}"
              f"{' (saved)' if improved else ''}", file=self.stream, flush=True)
        self.eval_seconds += time.perf_counter() - t0
        if self.trainer is not None:
            self.trainer.log({f"dev_{k}": v for k, v in metrics.items() if isinstance(v, (int, float))})
        return control
