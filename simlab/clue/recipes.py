"""The two training recipes of ``simlab clue run`` and the ``Trainer`` they build (issue 22 item 3).

| recipe  | optimizer | learning rate                                   | schedule                     | clip | decay |
|---------|-----------|-------------------------------------------------|------------------------------|------|-------|
| `short` | AdamW     | backbone ``lr`` (1e-4), head ``lr·head_lr_ratio`` (30x) | linear warmup (10 %), linear decay | 1.0  | 0.01  |
| `8739`  | AdaFactor | ``lr`` (5e-4) for every weight                  | constant, no warmup          | none | none  |

AdaFactor multiplies each update by the parameter's RMS (``multiply_by_parameter_scale``, Shazeer & Stern 2018),
so a dense head initialised with std 0.02 moves about lr·0.02 = 1e-5 per step: it leaves the label prior only
after hundreds of steps, which the 8739 runs (10 epochs of the full data) have and a CPU-budget run does not.
AdamW's step is about lr per weight whatever the weight's scale, and the head gets 30x the backbone's rate, as in
ULMFiT's discriminative fine-tuning (Howard & Ruder 2018). Weight decay skips biases and normalisation weights
(every tensor of fewer than two dimensions), as BERT's ``AdamWeightDecay`` excludes LayerNorm and bias.

>>> import torch
>>> from types import SimpleNamespace
>>> model = torch.nn.ModuleDict({"backbone": torch.nn.Linear(4, 4), "head": torch.nn.Linear(4, 2)})
>>> cfg = SimpleNamespace(recipe="short", lr=5e-5, head_lr_ratio=10.0)
>>> [(g["lr"], g["weight_decay"], len(g["params"])) for g in build_optimizer(model, cfg).param_groups]
[(5e-05, 0.01, 1), (5e-05, 0.0, 1), (0.0005, 0.01, 1), (0.0005, 0.0, 1)]
"""

from __future__ import annotations

from simlab.clue.config import SHORT

__all__ = ["build_optimizer", "build_clue_trainer", "param_groups"]


def param_groups(model, lr: float, head_lr: float, weight_decay: float) -> list[dict]:
    """AdamW groups: backbone and head (``model.head``), each split into decayed matrices and undecayed vectors
    (biases, LayerNorm); empty groups are left out."""
    head = {id(p) for p in model.head.parameters()}
    groups = []
    for is_head, rate in ((False, lr), (True, head_lr)):
        params = [p for p in model.parameters() if p.requires_grad and (id(p) in head) == is_head]
        for decay in (True, False):
            chosen = [p for p in params if (p.ndim >= 2) == decay]
            if chosen:
                groups.append({"params": chosen, "lr": rate, "weight_decay": weight_decay if decay else 0.0})
    return groups


def build_optimizer(model, cfg):
    """The optimizer of ``cfg.recipe`` over ``model`` (a :class:`~simlab.clue.model.ClueModel`)."""
    import torch

    if cfg.recipe == "8739":
        from simlab.train.optim import AdaFactor

        return AdaFactor([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    groups = param_groups(model, cfg.lr, cfg.lr * cfg.head_lr_ratio, SHORT.weight_decay)
    # fused: one kernel for all tensors, as Trainer's adamw_torch_fused; the default per-tensor loop made a step
    # 1.10 s against 0.26-0.38 s (0.73x of a plain Trainer, docs/training-speed.md)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8, fused=True)


def build_clue_trainer(model, features: list[dict], collator, out, cfg, callbacks=(), stream=None):
    """The ``Trainer`` of a CLUE run with ``cfg`` (a resolved :class:`~simlab.clue.config.ClueConfig`), through
    :func:`simlab.train.trainer.build_trainer`: the recipe's optimizer and schedule, and (``batching="length"``)
    training batches grouped by length (:mod:`simlab.train.length_groups`). Dev evaluation is the callbacks' job
    (``eval_strategy="no"``). Checkpoints go to ``out`` itself (the run contract's ``checkpoint_dir="."``).
    """
    from simlab.clue.batching import feature_length
    from simlab.train.args import training_args
    from simlab.train.trainer import build_trainer

    if cfg.recipe == "8739":  # bert4keras: no gradient clipping (AdaFactor clips its own update)
        sched = {"scheduler": "constant", "warmup_ratio": 0.0, "max_grad_norm": 0.0, "weight_decay": 0.0}
    else:
        sched = {"scheduler": "linear", "warmup_ratio": cfg.warmup, "max_grad_norm": SHORT.max_grad_norm,
                 "weight_decay": SHORT.weight_decay}
    args = training_args(out, seed=cfg.seed, epochs=cfg.epochs, max_steps=cfg.max_steps or -1,
                         batch_size=cfg.batch_size, lr=cfg.lr, grad_accum=cfg.grad_accum, save_steps=cfg.save_steps,
                         precision=cfg.precision, eval_strategy="no", **sched)
    extra = {}
    if cfg.batching == "length":
        from simlab.train.length_groups import LengthGroupedTrainer

        extra = {"trainer_cls": LengthGroupedTrainer, "lengths": [feature_length(f) for f in features]}
    return build_trainer(model, args, features, data_collator=collator, callbacks=list(callbacks),
                         minutes=cfg.minutes, progress_stream=stream,
                         optimizers=(build_optimizer(model, cfg), None), **extra)
