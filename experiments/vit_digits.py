"""Tiny ViT on scikit-learn's digits (8x8): 2D RoPE vs learned absolute positions vs no positions.

    .venv/bin/python experiments/vit_digits.py --seeds 5 --epochs 30 --threads 1

Each seed draws its own stratified 75/25 train/test split, initialisation and batch order; the same seed
gives every position mode the same split. Prints a markdown table (mean ± std test accuracy over seeds).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from simlab.models.vit import POSITIONS, ViT, ViTConfig  # noqa: E402


def load_digits_split(seed: int):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0  # (1797, 1, 8, 8) in [0, 1]
    y = torch.tensor(digits.target)
    tr, te = train_test_split(np.arange(len(y)), test_size=0.25, stratify=digits.target, random_state=seed)
    mean, std = x[tr].mean(), x[tr].std()
    x = (x - mean) / std
    return x[tr], y[tr], x[te], y[te]


def train_one(pos: str, seed: int, epochs: int, batch_size: int = 64, lr: float = 3e-3, rope_base: float = 10000.0) -> float:
    xtr, ytr, xte, yte = load_digits_split(seed)
    torch.manual_seed(seed)
    model = ViT(ViTConfig(pos=pos, rope_base=rope_base))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    steps = epochs * -(-len(ytr) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(ytr), generator=g).split(batch_size):
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        return (model(xte).argmax(-1) == yte).float().mean().item()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--rope-base", type=float, default=10000.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pos", nargs="+", default=list(POSITIONS), choices=POSITIONS)
    ap.add_argument("--out", help="optional JSON file for the per-seed accuracies")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    results: dict[str, list[float]] = {}
    t0 = time.time()
    for pos in args.pos:
        results[pos] = []
        for seed in range(args.seeds):
            acc = train_one(pos, seed, args.epochs, rope_base=args.rope_base)
            results[pos].append(acc)
            print(f"# {pos:8s} seed {seed}: test acc {acc:.4f}  ({time.time() - t0:.0f}s)", flush=True)
    print(f"\n| positions | test accuracy (mean ± std over {args.seeds} seeds) | per seed |")
    print("|---|---|---|")
    for pos, accs in results.items():
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f"| {pos} | {100 * statistics.mean(accs):.2f} ± {100 * std:.2f} | {' '.join(f'{100 * a:.1f}' for a in accs)} |")
    print(f"\n{args.epochs} epochs per run, rope base {args.rope_base:g}, {args.threads} thread(s), "
          f"total {time.time() - t0:.0f} s")
    if args.out:
        from simlab.io import atomic_write_json

        atomic_write_json(args.out, {"epochs": args.epochs, "seeds": args.seeds, "rope_base": args.rope_base,
                                     "accuracy": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
