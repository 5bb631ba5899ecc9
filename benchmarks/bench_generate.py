"""Generation speed: the KV-cached UniLM decoder vs the same decoder re-running the whole sequence each step.

    .venv/bin/python benchmarks/bench_generate.py --threads 1 [--model sim-zh-small]

Workload (RoFormer-Sim style): one prompt ``[CLS] x [SEP]`` of 16 characters, ``--candidates`` rows decoded
together, exactly ``--steps`` new tokens each (no early stop, so both sides do the same number of steps),
greedy, fp32 on CPU, inference mode. Peer: the same weights and masks without the cache: each step runs
``[CLS] x [SEP] y_<t`` through all layers under the UniLM mask and keeps the last position's logits
(quadratic in the steps). Both produce the same tokens (checked). Time: median of ``--repeats`` runs.
Target (issue 13): cached / uncached tokens/s >= 1.0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from simlab.generate.backbone import UniLMBackbone  # noqa: E402
from simlab.generate.cached_step import make_step, start  # noqa: E402
from simlab.generate.decoding import greedy  # noqa: E402
from simlab.generate.masked_forward import roformer_forward  # noqa: E402
from simlab.nn.masks import unilm_mask  # noqa: E402


class FullState:
    """Uncached peer: the whole token sequence and its segments, re-run every step."""

    def __init__(self, ids, seg):
        self.ids, self.seg = ids, seg
        self.device = ids.device

    def select(self, index):
        return FullState(self.ids.index_select(0, index), self.seg.index_select(0, index))


def full_step(bb):
    @torch.no_grad()
    def step(state, tokens):
        ids = torch.cat([state.ids, tokens[:, None]], 1)
        seg = torch.cat([state.seg, torch.ones_like(tokens)[:, None]], 1)
        h, _ = roformer_forward(bb.roformer, ids, seg, masks=unilm_mask(seg))
        return bb.logits(h[:, -1]), FullState(ids, seg)

    return step


def run_cached(bb, prompt, n, steps):
    logits0, state = start(bb, prompt, torch.zeros_like(prompt))
    return greedy(make_step(bb), logits0.expand(n, -1), state.repeat_interleave(n), steps, None)


def run_full(bb, prompt, n, steps):
    with torch.no_grad():
        seg = torch.zeros_like(prompt)
        h, _ = roformer_forward(bb.roformer, prompt, seg, masks=unilm_mask(seg))
        logits0 = bb.logits(h[:, -1])
    state = FullState(prompt.repeat(n, 1), seg.repeat(n, 1))
    return greedy(full_step(bb), logits0.expand(n, -1), state, steps, None)


def timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="a trained seq2seq folder (default: random zh-small-sized model)")
    ap.add_argument("--candidates", type=int, default=10)
    ap.add_argument("--steps", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model:
        from simlab.cli.gen_common import model_folder
        from simlab.generate.folder import load_model

        bb = load_model(model_folder(args.model))[0].backbone
        what = args.model
    else:
        bb = UniLMBackbone.new(vocab_size=8021, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                               intermediate_size=1024)
        what = "random zh-small-sized RoFormer (4 layers, 256 hidden, vocab 8021)"
    bb.eval()
    prompt = torch.randint(5, bb.config.vocab_size, (1, 18))
    rows = []
    with torch.inference_mode():
        for steps in args.steps:
            run_cached(bb, prompt, args.candidates, 2)  # warm-up
            t_c, out_c = timed(lambda s=steps: run_cached(bb, prompt, args.candidates, s), args.repeats)
            t_f, out_f = timed(lambda s=steps: run_full(bb, prompt, args.candidates, s), args.repeats)
            same = out_c == out_f
            toks = args.candidates * steps
            rows.append({"steps": steps, "candidates": args.candidates, "cached_tok_s": toks / t_c,
                         "uncached_tok_s": toks / t_f, "ratio": t_f / t_c, "same_tokens": same})
    print(f"model: {what}; {args.threads} thread(s); prompt 16 chars; greedy; median of {args.repeats}")
    print("| new tokens / row | rows | cached tok/s | uncached tok/s | ratio | same tokens |")
    print("|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['steps']} | {r['candidates']} | {r['cached_tok_s']:.0f} | {r['uncached_tok_s']:.0f} | "
              f"{r['ratio']:.2f} | {r['same_tokens']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0 if all(r["same_tokens"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
