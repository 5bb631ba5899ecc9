"""Trimmed vs untrimmed e5-small, in one run: parameters, file size, load time, encode sentences/s, training
tokens/s with the embedding trainable (and frozen, for reference), and the share of STS test texts whose tokens
change (issue 22 item 1).

    SIMLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_trim.py [--base e5-small] [--trimmed e5-small-zh]
        [--threads 2] [--rounds 3] [--steps 4] [--heldout] [--json out.json]

- **load**: ``AutoModel.from_pretrained`` + ``AutoTokenizer.from_pretrained`` of the folder, median of
  ``--rounds`` (the page cache is warm after the first round for both);
- **encode**: ``simlab.encode.load_encoder(NAME).encode`` of 1,024 STS-B test sentences, pooling last-avg, max
  length 64, batch 64; median of ``--rounds``;
- **training**: one forward + backward + ``torch.optim.AdamW`` (defaults) step on a batch of 32 × 48 tokens
  (random ids from the model's own vocabulary, full attention), loss = mean square of the last hidden state,
  fp32; both models are in memory and their steps interleave (base, trimmed, base, ...); after one warm-up step
  each, the median of ``--steps`` timed steps. With ``frozen``, the embedding matrix has ``requires_grad=False``;
- **token changes**: the STS test texts (every STS task's test split) tokenised by both tokenizers; ``--heldout``
  also trims the tokenizer alone to news + clue (no STS text) and reports the share of STS test texts that then
  change, which is what an unseen corpus would see.

Every measurement alternates base, trimmed, base, trimmed, ... and reports medians, so that load from other
processes on a shared machine hits both alike; ratios compare numbers from the same run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def _folder(name: str):
    from simlab.models.registry import resolve_model

    return resolve_model(name).path_or_id


def load_seconds(folder: str) -> float:
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    t0 = time.perf_counter()
    AutoModel.from_pretrained(folder)
    AutoTokenizer.from_pretrained(folder)
    return time.perf_counter() - t0


def encode_rate(name: str, texts: list[str]) -> float:
    from simlab.encode import load_encoder

    enc = load_encoder(name, max_length=64)
    enc.encode(texts[:64], pooling="last-avg", batch_size=64)  # warm-up
    t0 = time.perf_counter()
    enc.encode(texts, pooling="last-avg", batch_size=64)
    return len(texts) / (time.perf_counter() - t0)


def train_step_times(folders: dict, steps: int, frozen: bool, batch: int = 32, length: int = 48) -> dict:
    """(wall, CPU) seconds of each timed training step per model, the models' steps interleaved (a, b, a, b, ...).

    CPU seconds (``time.process_time``, all threads) are what the step costs the cores it ran on; with one thread
    they are the least disturbed by other processes on a shared machine (no spinning while a peer thread waits)."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    runs = {}
    for key, folder in folders.items():
        torch.manual_seed(0)
        model = AutoModel.from_pretrained(folder, add_pooling_layer=False).train()
        if frozen:
            model.get_input_embeddings().weight.requires_grad_(False)
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
        runs[key] = (model, opt, torch.randint(5, model.config.vocab_size, (batch, length)))

    def step(model, opt, ids) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        loss = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state.pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return time.perf_counter() - t0, time.process_time() - c0

    for run in runs.values():
        step(*run)  # warm-up: allocates the optimizer state
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
    for _ in range(steps):
        for key, run in runs.items():
            times[key].append(step(*run))
    return times


def size_facts(folder: str) -> dict:
    from safetensors import safe_open

    path = Path(folder) / "model.safetensors"
    with safe_open(str(path), framework="numpy") as f:
        params = sum(int(np.prod(f.get_slice(k).get_shape())) for k in f.keys())
    return {"params": params, "bytes": path.stat().st_size}


def token_changes(base: str, trimmed: str, texts: list[str]) -> dict:
    from transformers import AutoTokenizer

    a, b = AutoTokenizer.from_pretrained(base), AutoTokenizer.from_pretrained(trimmed)
    ta = a(texts, add_special_tokens=False)["input_ids"]
    tb = b(texts, add_special_tokens=False)["input_ids"]
    changed = sum(a.convert_ids_to_tokens(x) != b.convert_ids_to_tokens(y) for x, y in zip(ta, tb))
    return {"texts": len(texts), "changed": int(changed)}


def heldout_changes(base: str, texts: list[str]) -> dict:
    """Trim the tokenizer alone to news + clue (no STS text) and count the STS test texts whose tokens change."""
    from tokenizers import Tokenizer

    from simlab.trim.corpus import iter_sources
    from simlab.trim.count import count_corpus, encode_ids
    from simlab.trim.tokenizer import required_ids, trim_tokenizer, vocab_size
    from simlab.trim.vocab import kept_ids, remap

    tj = json.loads((Path(base) / "tokenizer.json").read_text(encoding="utf-8"))
    n = vocab_size(tj)
    tok = Tokenizer.from_str(json.dumps(tj))
    counts, _ = count_corpus(tok, [("prefixes", iter(["query: ", "passage: "])), *iter_sources(("news", "clue"))], n)
    keep = kept_ids(counts, required_ids(tj))
    table = remap(keep, n)
    new = Tokenizer.from_str(json.dumps(trim_tokenizer(tj, keep)))
    old_ids, new_ids = encode_ids(tok, texts), encode_ids(new, texts)
    changed = sum([int(table[i]) for i in o] != list(m) for o, m in zip(old_ids, new_ids))
    covered = [all(table[i] >= 0 for i in o) for o in old_ids]
    bad = sum(c and [int(table[i]) for i in o] != list(m) for c, o, m in zip(covered, old_ids, new_ids))
    return {"kept": int(len(keep)), "texts": len(texts), "changed": int(changed), "covered": int(sum(covered)),
            "covered_changed": int(bad)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="e5-small")
    ap.add_argument("--trimmed", default="e5-small-zh")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8, help="timed training steps per model, interleaved")
    ap.add_argument("--heldout", action="store_true")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: load, encode")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import torch

    from simlab.data import load_split
    from simlab.machine import describe
    from simlab.trim.check import sts_test_texts

    torch.set_num_threads(args.threads)
    names = {"base": args.base, "trimmed": args.trimmed}
    folders = {k: _folder(v) for k, v in names.items()}
    sts_b = load_split("STS-B", "test")
    texts = list(dict.fromkeys(sts_b.sentences1 + sts_b.sentences2))[:1024]
    res = {k: size_facts(f) | {"load_s": [], "encode": []} for k, f in folders.items()}
    skip = set(args.skip.split(","))
    for _ in range(args.rounds):
        for k in names:
            res[k]["load_s"].append(float("nan") if "load" in skip else load_seconds(folders[k]))
        for k in names:
            res[k]["encode"].append(float("nan") if "encode" in skip else encode_rate(names[k], texts))
    tokens = 32 * 48
    for frozen in (False, True):
        for k, t in train_step_times(folders, args.steps, frozen).items():
            res[k]["train_frozen_step_s" if frozen else "train_step_s"] = t
    def rate(steps, col):
        return tokens / float(np.median([s[col] for s in steps]))

    best = {k: {"params": v["params"], "bytes": v["bytes"], "load_s": float(np.median(v["load_s"])),
                "encode_per_s": float(np.median(v["encode"])),
                "train_tokens_per_s": rate(v["train_step_s"], 0), "train_frozen_tokens_per_s":
                rate(v["train_frozen_step_s"], 0), "train_tokens_per_cpu_s": rate(v["train_step_s"], 1),
                "train_frozen_tokens_per_cpu_s": rate(v["train_frozen_step_s"], 1), "raw": v}
            for k, v in res.items()}
    sts_texts = sts_test_texts()
    report = {"cpu": describe(), "threads": args.threads, "names": names, "results": best,
              "token_changes": token_changes(folders["base"], folders["trimmed"], sts_texts)}
    if args.heldout:
        report["heldout"] = heldout_changes(folders["base"], sts_texts)
    b, t = best["base"], best["trimmed"]
    print(f"# {report['cpu']}, {args.threads} threads; medians of {args.rounds} alternating rounds (load, encode) "
          f"and of {args.steps} interleaved training steps")
    print(f"| | {names['base']} | {names['trimmed']} | ratio |")
    print("|---|---:|---:|---:|")
    for key, label, fmt in (("params", "parameters", "{:,}"), ("bytes", "model.safetensors (MiB)", "{:,.1f}"),
                            ("load_s", "load time (s)", "{:.2f}"), ("encode_per_s", "encode sentences/s", "{:.1f}"),
                            ("train_tokens_per_s", "train tokens/s, embedding trainable", "{:,.0f}"),
                            ("train_frozen_tokens_per_s", "train tokens/s, embedding frozen", "{:,.0f}"),
                            ("train_tokens_per_cpu_s", "train tokens per CPU-second, embedding trainable", "{:,.0f}"),
                            ("train_frozen_tokens_per_cpu_s", "train tokens per CPU-second, embedding frozen",
                             "{:,.0f}")):
        scale = 2**20 if key == "bytes" else 1
        print(f"| {label} | {fmt.format(b[key] / scale)} | {fmt.format(t[key] / scale)} | {t[key] / b[key]:.2f}x |")
    tc = report["token_changes"]
    print(f"STS test texts whose tokens change: {tc['changed']:,} of {tc['texts']:,} "
          f"({100 * tc['changed'] / tc['texts']:.2f} %)")
    if args.heldout:
        h = report["heldout"]
        print(f"held-out (tokenizer trimmed to news + clue, {h['kept']:,} pieces): {h['changed']:,} of {h['texts']:,} "
              f"STS test texts change ({100 * h['changed'] / h['texts']:.2f} %); covered {h['covered']:,}, of which "
              f"{h['covered_changed']} changed")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    main()
