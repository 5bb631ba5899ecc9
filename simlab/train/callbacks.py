"""Callbacks simlab adds to every ``Trainer``: a progress display, ``metrics.jsonl``, a wall-clock budget.

- :class:`ProgressCallback`: loss, learning rate, tokens/s (from ``state.num_input_tokens_seen``) and ETA; a
  tqdm bar on a terminal, one line per logging step otherwise (background runs with a log file).
- :class:`MetricsJsonlCallback`: every ``Trainer`` log record appended to ``<out>/metrics.jsonl`` with step,
  epoch, wall time and tokens seen. On resume, records past the checkpoint's step (written by the killed run)
  are dropped, so the file reads as one uninterrupted run.
- :class:`TimeBudgetCallback`: stop (with a final save) after ``minutes`` of this process.
- :class:`CheckpointCompleteCallback`: checksum manifest + completion marker in each checkpoint (``on_save``).
- :class:`AlreadyDoneCallback`: a resumed run whose checkpoint is already at ``max_steps`` takes no extra step.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from transformers import TrainerCallback

from simlab.io import atomic_write_text
from simlab.train.checkpoint import mark_complete


def _fmt_seconds(s: float) -> str:
    s = max(0, int(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class ProgressCallback(TrainerCallback):
    """Loss, tokens/s and ETA while training (replaces Trainer's own tqdm bar: ``disable_tqdm=True``)."""

    def __init__(self, stream=None, tokens_per_step: int | None = None):
        self.stream = stream or sys.stderr
        self.tokens_per_step = tokens_per_step  # when the model has no input_ids to count
        self.bar = None

    def on_train_begin(self, args, state, control, **kw):
        self.t0 = time.perf_counter()
        self.step0 = state.global_step
        self.tok0 = state.num_input_tokens_seen
        self.last = {}
        if self.stream.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="train", file=self.stream,
                            dynamic_ncols=True)

    def rates(self, state) -> tuple[float, float, float]:
        """(steps/s, tokens/s, ETA seconds) over this process's part of the run."""
        dt = max(time.perf_counter() - self.t0, 1e-9)
        steps = state.global_step - self.step0
        tokens = state.num_input_tokens_seen - self.tok0
        if not tokens and self.tokens_per_step:
            tokens = steps * self.tokens_per_step
        sps = steps / dt
        eta = (state.max_steps - state.global_step) / sps if sps > 0 else float("nan")
        return sps, tokens / dt, eta

    def on_step_end(self, args, state, control, **kw):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kw):
        logs = logs or {}
        self.last.update({k: v for k, v in logs.items() if isinstance(v, (int, float))})
        sps, tps, eta = self.rates(state)
        parts = [f"step {state.global_step}/{state.max_steps}"]
        for key in ("loss", "eval_loss", "eval_masked_accuracy", "learning_rate"):
            if key in logs:
                parts.append(f"{key.replace('learning_rate', 'lr')} {logs[key]:.4g}")
        parts += [f"{tps:,.0f} tok/s", f"ETA {_fmt_seconds(eta) if eta == eta else '?'}"]
        if self.bar is not None:
            self.bar.set_postfix_str(" ".join(parts[1:]))
        else:
            print(" | ".join(parts), file=self.stream, flush=True)

    def on_train_end(self, args, state, control, **kw):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class MetricsJsonlCallback(TrainerCallback):
    """Append every log record to ``<output_dir>/metrics.jsonl`` (one JSON object a line)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else None

    def _file(self, args) -> Path:
        return self.path or Path(args.output_dir) / "metrics.jsonl"

    def on_train_begin(self, args, state, control, **kw):
        self.t0 = time.time()
        path = self._file(args)
        if path.is_file():  # resumed: keep only what the checkpoint already covers
            kept = [line for line in path.read_text(encoding="utf-8").splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= state.global_step]
            atomic_write_text(path, "".join(line + "\n" for line in kept))

    def on_log(self, args, state, control, logs=None, **kw):
        record = {"step": state.global_step, "epoch": state.epoch, "time": round(time.time(), 3),
                  "tokens_seen": state.num_input_tokens_seen, **(logs or {})}
        path = self._file(args)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


class TimeBudgetCallback(TrainerCallback):
    """Stop after ``minutes`` of wall time in this process, saving and evaluating on the way out."""

    def __init__(self, minutes: float):
        self.seconds = float(minutes) * 60.0
        self.stopped_early = False

    def on_train_begin(self, args, state, control, **kw):
        self.t0 = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        if time.perf_counter() - self.t0 >= self.seconds:
            self.stopped_early = True
            control.should_training_stop = True
            control.should_save = True  # no forced evaluation here: it would shift the RNG that --resume restores
        return control


class CheckpointCompleteCallback(TrainerCallback):
    """Marks each checkpoint complete once ``Trainer`` has written it (``on_save`` runs after the save)."""

    def on_save(self, args, state, control, **kw):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if args.should_save and folder.is_dir():
            mark_complete(folder, state.global_step)
        return control


class RunAlreadyDone(Exception):
    """Raised by :class:`AlreadyDoneCallback` before any update when the resumed state is already at max_steps."""


class AlreadyDoneCallback(TrainerCallback):
    """transformers' loop takes one more step when resumed from a checkpoint at ``max_steps`` that does not end an
    epoch ("step 41/40"); this stops it before that step's forward pass (the weights are the checkpoint's)."""

    def on_step_begin(self, args, state, control, **kw):
        if state.max_steps > 0 and state.global_step >= state.max_steps:
            raise RunAlreadyDone(state.global_step)
        return control
