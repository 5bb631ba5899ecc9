"""What moves a fresh CLUE head in a short run: the ``short`` recipe's learning rates against the 8739 recipe, on a
fixture task (issue 22 item 3; docs/clue.md "Recipes").

The task: AFQMC-format pairs whose label shows in their words (label 1 pairs use one half of the tiny test
vocabulary, label 0 pairs the other; a 70/30 prior), so even a random backbone separates them and what a short run
has to do is move the head. The model: a random 2-layer BERT of e5-small's width (hidden 384, :func:`fixture_bert`):
the logits move per step by about the learning rate times the summed size of the features, so the width decides
what "a few dozen steps" can do (at hidden 32 no setting leaves the majority class in 50 steps). Its raw [CLS]
vector barely varies between inputs (std 0.004 per dimension at hidden 32), its mean token vector separates the
classes (a linear probe scores 100 % on dev), so the runs pool with ``last-avg``.

Each setting trains ``--steps`` optimizer steps at batch 8 and reports, on 200 dev pairs: how far the head moved
(‖W − W0‖ / ‖W0‖, and the mean |ΔW| per entry per step), the dev cross-entropy against the entropy of the label
prior, the share of dev predictions that are the majority class, and dev accuracy against the majority floor.

    python -m experiments.clue_head_lr --steps 50            # the table in docs/clue.md
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
from pathlib import Path

POSITIVE = "猫 坐 在 上 大 红 cat sat on mat big red".split()  # label 1 texts draw from these words,
NEGATIVE = "狗 跑 小 蓝 dog ran fast slow small blue the a".split()  # label 0 texts from these


def fixture_task(folder: Path, n_train: int = 400, n_dev: int = 200, seed: int = 11, prior: float = 0.3):
    """(train, dev) AFQMC-format files whose label shows in the words: a pair of label 1 is drawn from
    :data:`POSITIVE`, one of label 0 from :data:`NEGATIVE` (``prior`` of the rows have label 1). Even a random
    backbone separates the two word sets, so what a short run has to do is move the head."""
    rng = random.Random(seed)

    def rows(n):
        out = []
        for _ in range(n):
            label = int(rng.random() < prior)
            words = POSITIVE if label else NEGATIVE
            a, b = (" ".join(rng.choices(words, k=rng.randint(2, 8))) for _ in range(2))
            out.append(f"{a}\t{b}\t{label}\n")
        return "".join(out)

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text(rows(n_train), encoding="utf-8")
    (folder / "dev.txt").write_text(rows(n_dev), encoding="utf-8")
    return folder / "train.txt", folder / "dev.txt"


def fixture_bert(folder: Path, hidden: int = 384, seed: int = 0) -> Path:
    """A random 2-layer BERT of width ``hidden`` with the tiny test tokenizer (:func:`simlab.testing.make_tiny_bert`).
    Its pooled features have a real encoder's scale (per dimension about 1, ``hidden`` of them), which is what
    decides how far a learning rate moves the logits per step."""
    import torch
    from transformers import BertConfig, BertModel

    from simlab.testing import make_tiny_bert

    make_tiny_bert(folder, with_pooler=False)
    torch.manual_seed(seed)
    vocab = json.loads((folder / "config.json").read_text(encoding="utf-8"))["vocab_size"]
    cfg = BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=2 * hidden, max_position_embeddings=64)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(folder)
    return folder


def head_run(model_dir, train, dev, out, steps: int, **overrides) -> dict:
    """Train ``steps`` steps with a :class:`~simlab.clue.config.ClueConfig` (``overrides``) and measure the head."""
    import numpy as np
    import torch

    from simlab.clue.batching import predict
    from simlab.clue.config import ClueConfig, resolved
    from simlab.clue.data import load_data
    from simlab.clue.recipes import build_clue_trainer
    from simlab.clue.runner import build_parts
    from simlab.clue.tasks import get_task

    cfg = resolved(ClueConfig(task="afqmc", model=str(model_dir), train_file=str(train), dev_file=str(dev),
                              max_steps=steps, batch_size=8, max_length=32, precision="fp32", save_steps=10**6,
                              tests="none", pooling="last-avg", **overrides))
    task, devnull = get_task("afqmc"), open(os.devnull, "w")
    data = load_data(cfg, task, devnull)
    parts = build_parts(cfg, task, data)
    w0 = parts.model.head.weight.detach().clone()
    build_clue_trainer(parts.model, parts.train_feats, parts.collator, out, cfg, stream=devnull).train()
    delta = parts.model.head.weight.detach() - w0
    moved = float(delta.norm() / w0.norm())
    logits = torch.tensor(np.stack(predict(parts.model, parts.dev_feats, parts.collator, 64)))
    labels = torch.tensor([ex.label for ex in data.dev])
    prior = float(torch.tensor([ex.label for ex in data.train]).float().mean())
    h_prior = -(prior * math.log(prior) + (1 - prior) * math.log(1 - prior))
    majority = int(prior >= 0.5)
    pred = logits.argmax(1)
    return {"head_moved": moved, "per_step": float(delta.abs().mean()) / steps, "rms0": float(w0.pow(2).mean().sqrt()),
            "dev_ce": float(torch.nn.functional.cross_entropy(logits, labels)),
            "h_prior": h_prior, "majority_share": float((pred == majority).float().mean()),
            "dev_acc": float((pred == labels).float().mean()), "floor": float((labels == majority).float().mean())}


SETTINGS = [("8739", {"recipe": "8739"}),
            ("short lr 5e-5 head x1", {"recipe": "short", "lr": 5e-5, "head_lr_ratio": 1.0}),
            ("short lr 5e-5 head x3", {"recipe": "short", "lr": 5e-5, "head_lr_ratio": 3.0}),
            ("short lr 5e-5 head x10", {"recipe": "short", "lr": 5e-5, "head_lr_ratio": 10.0}),
            ("short lr 5e-5 head x30", {"recipe": "short", "lr": 5e-5, "head_lr_ratio": 30.0}),
            ("short lr 2e-5 head x10", {"recipe": "short", "lr": 2e-5, "head_lr_ratio": 10.0}),
            ("short lr 1e-4 head x10", {"recipe": "short", "lr": 1e-4, "head_lr_ratio": 10.0}),
            ("short lr 1e-4 head x30 (default)", {"recipe": "short"}),
            ("short lr 1e-4 head x30, no warmup", {"recipe": "short", "warmup": 0.0})]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=384, help="width of the random fixture BERT (e5-small: 384)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = fixture_bert(tmp / "bert", args.hidden)
        train, dev = fixture_task(tmp / "data")
        print(f"{args.steps} steps, batch 8, random 2-layer BERT (hidden {args.hidden}), mean of {args.seeds} seeds",
              file=sys.stderr)
        print("| setting | head moved ‖ΔW‖/‖W0‖ | mean \\|ΔW\\| per step | dev CE (prior entropy) | majority share | "
              "dev acc (floor) |")
        print("|---|---|---|---|---|---|")
        for name, kw in SETTINGS:
            rs = [head_run(model, train, dev, tmp / f"run-{name}-{s}", args.steps, seed=s, **kw)
                  for s in range(args.seeds)]
            mean = {k: sum(r[k] for r in rs) / len(rs) for k in rs[0]}
            print(f"| {name} | {mean['head_moved']:.4f} | {mean['per_step']:.1e} | {mean['dev_ce']:.3f} "
                  f"({mean['h_prior']:.3f}) | {mean['majority_share']:.2f} | {mean['dev_acc']:.3f} "
                  f"({mean['floor']:.3f}) |", flush=True)


if __name__ == "__main__":
    main()
