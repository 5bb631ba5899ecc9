"""One place that turns simlab's few training knobs into ``transformers.TrainingArguments``.

Device: CUDA when present, else CPU. Everything is seeded (``seed`` and ``data_seed``). Precisions:

- ``fp32``;
- ``bf16``: ``torch.autocast`` (``TrainingArguments.bf16``): bf16 matrix products, float32 elsewhere;
- ``bf16-master``: bf16 forward and backward on copies of float32 master weights (:mod:`simlab.train.precision`);
- ``auto``: on CUDA, ``bf16`` where supported; on a CPU, what was measured fastest for *training* on this kind of
  CPU (:func:`simlab.machine.cpu_kind`), recorded in ``simlab/resources/train_precision.json`` by
  ``benchmarks/bench_train.py``; a CPU kind without a record gets ``fp32``.

>>> args = training_args("/tmp/run", seed=1, max_steps=10, precision="fp32")   # doctest: +SKIP
>>> args.bf16, args.seed
(False, 1)
"""

from __future__ import annotations

import functools
import json
import os
from importlib import resources

from simlab.errors import BadInputError
from simlab.machine import cpu_has_bf16, cpu_kind

PRECISIONS = ("auto", "bf16", "bf16-master", "fp32")
RECORD = "train_precision.json"  # in simlab/resources


def device_kind() -> str:
    """``"cuda"`` when a CUDA device is visible, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.lru_cache(maxsize=1)
def measured_precisions() -> dict:
    """``{cpu_kind: record}`` from ``simlab/resources/train_precision.json``; each record names the precision that
    trained fastest there (``"auto"``) and the measurement behind it."""
    text = resources.files("simlab").joinpath("resources", RECORD).read_text(encoding="utf-8")
    return json.loads(text)["kinds"]


def auto_training_precision(kind: str | None = None) -> str:
    """The precision ``auto`` picks for training on a CPU of ``kind`` (default: this one): the measured fastest,
    ``fp32`` where nothing was measured or bf16 is not native.

    >>> auto_training_precision("a-cpu-nobody-measured")
    'fp32'
    """
    kind = kind or cpu_kind()
    chosen = measured_precisions().get(kind, {}).get("auto", "fp32")
    return chosen if chosen in PRECISIONS and chosen != "auto" and cpu_has_bf16() else "fp32"


def resolve_precision(precision: str = "auto", device: str | None = None) -> str:
    """``auto`` -> on CUDA ``bf16`` where supported (else ``fp32``), on a CPU :func:`auto_training_precision`;
    explicit values are checked.

    >>> resolve_precision("fp32", "cpu")
    'fp32'
    """
    if precision not in PRECISIONS:
        raise BadInputError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if (device or device_kind()) == "cuda":
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return auto_training_precision()


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
    """``TrainingArguments`` with simlab's defaults: device auto, precision auto (see the module docstring), seeded,
    atomic saves. The resolved precision is also set as ``args.simlab_precision``; ``bf16-master`` needs the
    callback that :func:`simlab.train.precision.precision_callbacks` returns (``build_trainer`` adds it).

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
    args = args_cls(**kw)
    from simlab.train.precision import ARGS_ATTR

    setattr(args, ARGS_ATTR, prec)  # read by simlab.train.precision.precision_callbacks
    return args


def precision_of(args) -> str:
    """The precision a trainer runs in, for logs and cards: ``bf16-master``, ``bf16`` (autocast) or ``fp32``.

    >>> precision_of(type("A", (), {"bf16": True})())
    'bf16'
    """
    from simlab.train.precision import ARGS_ATTR

    return getattr(args, ARGS_ATTR, None) or ("bf16" if getattr(args, "bf16", False) else "fp32")
