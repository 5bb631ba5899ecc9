"""simlab's trainer paths and their plain peers, for ``bench_train.py --parts overhead`` (one side per process).

Each builder returns a ready ``Trainer`` for ``side`` "simlab" or "plain", on the same model, data, batch and
steps, fp32; the plain side is what a user writes with transformers / sentence-transformers alone, defaults kept:

- ``core``: ``build_trainer`` + ``training_args`` vs ``Trainer`` + ``TrainingArguments``, both with
  ``AutoModelForSequenceClassification`` (e5-small) and ``DataCollatorWithPadding``: only simlab/train differs;
- ``pretrain``: + simlab's ``MLMCollator`` (per-sequence seeded masks) vs ``DataCollatorForLanguageModeling``,
  ``AutoModelForMaskedLM`` of e5-small-zh (a 250k-row output layer would dominate e5-small's step);
- ``finetune``: ``FinetuneTrainer`` (length-grouped sampler, token counting, loss-head checkpoints) vs
  ``SentenceTransformerTrainer``; CoSENT loss on both;
- ``clue``: ``build_clue_trainer`` (recipe ``short``: its own AdamW groups, length batching) on ``ClueModel`` vs the
  ``core`` plain side.

``profile_breakdown`` turns a cProfile (CPU time) of ``trainer.train()`` into seconds per step by part.
"""

from __future__ import annotations

import os
import time

T = 48


def step_timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        """Wall and process CPU time at each step end: the same few microseconds on both sides."""

        def __init__(self):
            self.times, self.cpu = [], []

        def on_step_end(self, args, state, control, **kw):
            self.times.append(time.perf_counter())
            self.cpu.append(time.process_time())

    return StepTimer()


PARTS = {  # part: (file suffix, function name) in cProfile's keys; cumulative CPU time
    "forward+backward": ("trainer.py", "training_step"),
    "optimizer": ("optimizer.py", "_use_grad"),
    "batches (sampler + collator)": ("trainer.py", "get_batch_samples"),
    "callbacks": ("trainer_callback.py", "call_event"),
    "token counting": ("trainer.py", "_track_num_input_tokens"),
    "grad clipping": ("trainer.py", "_clip_grad_norm"),
    "saving (checkpoint)": ("trainer.py", "_save_checkpoint"),
    "saving: simlab manifest": ("checkpoint.py", "mark_complete"),
    "whole train()": ("trainer.py", "train"),
}


def profile_breakdown(stats, steps: int) -> dict:
    """CPU seconds per step of each part of :data:`PARTS` (a ``pstats.Stats``); "callbacks" includes on_save (the
    simlab manifest), and saving is the run's saves spread over its steps."""
    out = {}
    for (path, _, fn), (_, _, _, cum, _) in stats.stats.items():
        for part, (suffix, name) in PARTS.items():
            if fn == name and path.endswith(suffix):
                out[part] = max(out.get(part, 0.0), cum / steps)  # nested overrides: the outermost
    return out


def data(kind: str, tok, texts: list[str], n: int):
    if kind == "finetune":
        from datasets import Dataset

        return Dataset.from_dict({"sentence1": texts[:n], "sentence2": texts[n:2 * n],
                                  "score": [float(i % 2) for i in range(n)]})
    if kind == "pretrain":
        return [tok(t, truncation=True, max_length=T)["input_ids"] for t in texts[:n]]
    from simlab.clue.common import encode_text

    return [{"input_ids": encode_text(tok, texts[i], texts[n + i], T), "labels": i % 2} for i in range(n)]


def _quiet():
    return open(os.devnull, "w")


def build_core(side, path, tok, feats, out, per_step, steps):
    from transformers import (
        AutoModelForSequenceClassification,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    if side == "plain":
        args = TrainingArguments(out, max_steps=steps, per_device_train_batch_size=per_step, use_cpu=True,
                                 report_to="none", warmup_steps=0.1, weight_decay=0.01)
        return Trainer(model=model, args=args, train_dataset=feats, data_collator=DataCollatorWithPadding(tok))
    from simlab.train.args import training_args
    from simlab.train.trainer import build_trainer

    args = training_args(out, max_steps=steps, batch_size=per_step, precision="fp32", warmup_ratio=0.1,
                         weight_decay=0.01, eval_strategy="no")
    return build_trainer(model, args, feats, data_collator=DataCollatorWithPadding(tok), progress_stream=_quiet())


def build_pretrain(side, path, tok, seqs, out, per_step, steps):
    import torch
    from transformers import AutoModelForMaskedLM, DataCollatorForLanguageModeling, Trainer, TrainingArguments

    model = AutoModelForMaskedLM.from_pretrained(path)
    if side == "plain":
        args = TrainingArguments(out, max_steps=steps, per_device_train_batch_size=per_step, use_cpu=True,
                                 report_to="none", weight_decay=0.01)
        return Trainer(model=model, args=args, train_dataset=[{"input_ids": s} for s in seqs],
                       data_collator=DataCollatorForLanguageModeling(tok, mlm_probability=0.15))
    from simlab.pretrain.mlm import MLMCollator
    from simlab.train.args import training_args
    from simlab.train.trainer import build_trainer

    args = training_args(out, max_steps=steps, batch_size=per_step, precision="fp32", weight_decay=0.01,
                         eval_strategy="no")
    items = [{"input_ids": torch.tensor(s), "idx": i} for i, s in enumerate(seqs)]
    return build_trainer(model, args, items, data_collator=MLMCollator(tok, seed=0), processing_class=tok,
                         progress_stream=_quiet())


def build_finetune(side, path, tok, pairs, out, per_step, steps):
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss

    model = SentenceTransformer(path, device="cpu")
    model.max_seq_length = T
    loss = CoSENTLoss(model)
    if side == "plain":
        args = SentenceTransformerTrainingArguments(out, max_steps=steps, per_device_train_batch_size=per_step,
                                                    use_cpu=True, report_to="none")
        return SentenceTransformerTrainer(model=model, args=args, train_dataset=pairs, loss=loss)
    from simlab.finetune.trainer import FinetuneTrainer
    from simlab.train.args import training_args
    from simlab.train.trainer import build_trainer

    args = training_args(out, max_steps=steps, batch_size=per_step, precision="fp32",
                         args_cls=SentenceTransformerTrainingArguments, eval_strategy="no")
    return build_trainer(model, args, pairs, trainer_cls=FinetuneTrainer, loss=loss, progress_stream=_quiet())


def build_clue(side, path, tok, feats, out, per_step, steps):
    if side == "plain":
        return build_core("plain", path, tok, feats, out, per_step, steps)
    from types import SimpleNamespace

    from transformers import AutoModel

    from simlab.clue.batching import Collator
    from simlab.clue.common import special_ids
    from simlab.clue.model import ClueModel
    from simlab.clue.recipes import build_clue_trainer

    model = ClueModel(AutoModel.from_pretrained(path), "classify", num_labels=2)
    cfg = SimpleNamespace(recipe="short", lr=5e-5, head_lr_ratio=10.0, warmup=0.1, seed=0, epochs=1.0,
                          max_steps=steps, batch_size=per_step, grad_accum=1, save_steps=10 ** 6, precision="fp32",
                          minutes=None, batching="length")
    return build_clue_trainer(model, feats, Collator(pad_id=special_ids(tok)[2], kind="classify"), out, cfg,
                              stream=_quiet())


BUILDERS = {"core": build_core, "pretrain": build_pretrain, "finetune": build_finetune, "clue": build_clue}
