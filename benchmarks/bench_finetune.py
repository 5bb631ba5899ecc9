"""Training speed: ``simlab finetune --objective sbert`` vs a plain sentence-transformers script
(``SentenceTransformerTrainer`` + ``SoftmaxLoss``) on the same model, data, batch and steps, in one run.

    SIMLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_finetune.py [--model e5-small] [--steps 4]
        [--rounds 2] [--batch-size 32] [--threads 2] [--freeze-embeddings]

Both sides train on the same labelled pairs (binary + NLI, test-filtered, round-robin batches), max length 64,
AdamW lr 2e-5, no checkpoints inside the timed part. The sides alternate (simlab, plain, simlab, plain, ...) so
that load from other processes on a shared machine hits both alike; pairs/s = pairs trained / seconds inside
``trainer.train()`` (simlab: the recorded training wall time, which includes its progress / metrics callbacks).
Target: ratio ≥ 1.0 (simlab adds the group-masked head and callbacks, nothing per token).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def plain_pairs_per_second(model_name: str, datasets, steps: int, batch: int, freeze: bool, out: Path) -> float:
    """The plain script: Transformer + mean Pooling, SoftmaxLoss(num_labels=5), default trainer."""
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import SoftmaxLoss
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    from simlab.models.registry import resolve_model

    ref = resolve_model(model_name)
    kwargs = {"add_pooling_layer": False} if ref.has_pooler is False else None
    backbone = Transformer(ref.path_or_id, max_seq_length=64, model_kwargs=kwargs)
    model = SentenceTransformer(modules=[backbone, Pooling(backbone.get_embedding_dimension(), "mean")], device="cpu")
    if freeze:
        backbone.auto_model.get_input_embeddings().weight.requires_grad_(False)
    loss = SoftmaxLoss(model, model.get_embedding_dimension(), num_labels=5)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out), per_device_train_batch_size=batch, max_steps=steps, learning_rate=2e-5,
        weight_decay=0.01, save_strategy="no", report_to="none", disable_tqdm=True, use_cpu=True, seed=0,
        logging_steps=10**6, multi_dataset_batch_sampler="round_robin", dataloader_num_workers=0)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=datasets, loss=loss)
    t0 = time.perf_counter()
    trainer.train()
    return steps * batch / (time.perf_counter() - t0)


def simlab_pairs_per_second(model_name: str, steps: int, batch: int, freeze: bool, out: Path) -> float:
    from simlab.finetune.recipe import FinetuneConfig, finetune

    record = finetune(FinetuneConfig(model=model_name, out=str(out), objective="sbert", max_steps=steps,
                                     batch_size=batch, save_steps=10**6, logging_steps=10**6, examples=False,
                                     freeze_embeddings=freeze, precision="fp32"), log=lambda msg: None)
    return record["training"]["pairs_per_second"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="e5-small")
    ap.add_argument("--steps", type=int, default=4, help="training steps per side per round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--freeze-embeddings", action="store_true")
    args = ap.parse_args()

    import torch
    from rich.console import Console
    from rich.table import Table

    from simlab.finetune.data import load_training_pairs
    from simlab.finetune.recipe import build_datasets

    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    datasets = build_datasets(load_training_pairs(None, ["binary", "nli"]), "sbert")
    ours, plain = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            ours.append(simlab_pairs_per_second(args.model, args.steps, args.batch_size, args.freeze_embeddings,
                                                Path(tmp) / f"simlab-{r}"))
            plain.append(plain_pairs_per_second(args.model, datasets, args.steps, args.batch_size,
                                                args.freeze_embeddings, Path(tmp) / f"plain-{r}"))
            print(f"round {r + 1}: simlab {ours[-1]:.3f} pairs/s, plain {plain[-1]:.3f} pairs/s", flush=True)

    def total(rates):  # pairs / total seconds over the rounds
        pairs = args.steps * args.batch_size
        return len(rates) * pairs / sum(pairs / x for x in rates)

    table = Table(title=f"Fine-tuning {args.model}: batch {args.batch_size} pairs, {args.steps} steps × "
                        f"{args.rounds} rounds per side, {args.threads} threads"
                        + (", token embeddings frozen" if args.freeze_embeddings else ""))
    for col in ("trainer", "pairs/s", "× plain"):
        table.add_column(col, justify="right" if col != "trainer" else "left")
    table.add_row("plain SentenceTransformerTrainer + SoftmaxLoss", f"{total(plain):.3f}", "1.00")
    table.add_row("simlab finetune --objective sbert", f"{total(ours):.3f}", f"{total(ours) / total(plain):.2f}")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
