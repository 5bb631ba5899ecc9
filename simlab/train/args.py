"""One place that turns simlab's few training knobs into ``transformers.TrainingArguments``.

Device: CUDA when present, else CPU. Precision ``auto``: bf16 where the device supports it (CUDA with bf16, or a
CPU with AVX512-BF16 / AMX), fp32 otherwise. Everything is seeded (``seed`` and ``data_seed``).

>>> args = training_args("/tmp/run", seed=1, max_steps=10, precision="fp32")   # doctest: +SKIP
>>> args.bf16, args.seed
(False, 1)
"""

from __future__ import annotations

import os

from simlab.errors import BadInputError
from simlab.machine import cpu_has_bf16

PRECISIONS = ("auto", "bf16", "fp32")


def device_kind() -> str:
    """``"cuda"`` when a CUDA device is visible, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_precision(precision: str = "auto", device: str | None = None) -> str:
    """``auto`` -> ``bf16`` where the device supports it, else ``fp32``; explicit values are checked."""
    import torch

    if precision not in PRECISIONS:
        raise BadInputError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    device = device or device_kind()
    supported = torch.cuda.is_bf16_supported() if device == "cuda" else cpu_has_bf16()
    if precision == "auto":
        return "bf16" if supported else "fp32"
    return precision


def training_args(
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    max_steps: int = -1,
    epochs: float = 1.0,
    batch_size: int = 32,
    lr: float = 5e-5,
    grad_accum: int = 1,
    save_steps: int = 500,
    eval_steps: int | None = None,
    logging_steps: int = 10,
    precision: str = "auto",
    warmup_ratio: float = 0.0,
    weight_decay: float = 0.0,
    scheduler: str = "linear",
    args_cls=None,
    **overrides,
):
    """``TrainingArguments`` with simlab's defaults: device auto, bf16 where supported, seeded, atomic saves.

    ``eval_steps=None`` evaluates at every save. Checkpoints keep the last two (``save_total_limit=2``), so a
    kill during a save always leaves the previous complete checkpoint. ``args_cls`` lets a trainer pass a
    subclass (e.g. sentence-transformers' ``SentenceTransformerTrainingArguments``); ``overrides`` go straight
    to it.

    >>> a = training_args("/tmp/x", max_steps=5, precision="fp32", batch_size=4)   # doctest: +SKIP
    >>> a.per_device_train_batch_size, a.max_steps
    (4, 5)
    """
    from transformers import TrainingArguments

    args_cls = args_cls or TrainingArguments
    device = device_kind()
    prec = resolve_precision(precision, device)
    eval_steps = eval_steps or save_steps
    kw = dict(
        output_dir=str(out_dir),
        seed=seed,
        data_seed=seed,
        max_steps=max_steps,
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        gradient_accumulation_steps=grad_accum,
        learning_rate=lr,
        warmup_steps=float(warmup_ratio),  # transformers 5: a float in [0, 1) is a ratio of the total steps
        weight_decay=weight_decay,
        lr_scheduler_type=scheduler,
        bf16=prec == "bf16",
        use_cpu=device == "cpu",
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=2,
        eval_strategy="steps",
        eval_steps=eval_steps,
        logging_strategy="steps",
        logging_steps=logging_steps,
        logging_first_step=True,
        report_to="none",
        disable_tqdm=True,  # simlab's own progress line (loss, tokens/s, ETA) replaces it
        dataloader_num_workers=0,  # deterministic data order and RNG on resume
        include_num_input_tokens_seen="non_padding",
        remove_unused_columns=False,
    )
    kw.update(overrides)
    if kw.get("eval_strategy") == "no":
        kw.pop("eval_steps", None)
    return args_cls(**kw)
