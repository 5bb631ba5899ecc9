"""The one training core every simlab trainer uses, on top of transformers' ``Trainer``.

- :mod:`.args`: device / precision / seed -> ``TrainingArguments`` (one place).
- :mod:`.callbacks`: progress line (loss, tokens/s, ETA), ``metrics.jsonl``, a wall-clock budget.
- :mod:`.checkpoint`: atomic checkpoints (a completion marker) and the last usable checkpoint.
- :mod:`.plots`: loss / held-out metric PNG from ``metrics.jsonl``.
- :mod:`.trainer`: :func:`build_trainer` (any ``Trainer`` subclass + the callbacks) and :func:`run`.

Trainers (pretrain, finetune, clue, generate) import from here; nothing here imports a trainer.
"""
