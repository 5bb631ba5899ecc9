"""Training speed of e5-small on this machine, in one run (issue 22, "No training overhead" and "Benchmarks").

    SIMLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_train.py [--parts speed,overhead,quality]
        [--threads 2] [--warmup 1] [--steps 4] [--quality-steps 60] [--repeat 1] [--out-dir DIR] [--record]

Every configuration runs in its own process (this script with ``--child``), one after the other, each with the same
``--threads`` (torch and OpenMP). Steps before ``--warmup`` are not timed. Batches are 32 sequences x 48 tokens.

- **speed**: a plain training loop (forward + backward + fused ``torch.optim.AdamW`` step, CoSENT loss on 16 LCQMC
  valid pairs a step, each text padded to 48 tokens) for e5-small with the embedding trainable, frozen, and
  trimmed (``e5-small-zh``, skipped when its folder is not built yet); in fp32, in ``bf16-master``
  (:mod:`simlab.train.precision`) and, for the full model, in autocast bf16. tokens/s counts the 32 x 48
  positions. Share of peak = 6 x non-embedding parameters x tokens/s / the FLOP/s of ``torch.mm`` of two
  2048 x 2048 matrices (fp32; bf16 too where the CPU has native bf16), timed in this run.
- **overhead**: each simlab trainer path against its plain peer, same model, data, batch and steps, fp32, timed
  per step by the same callback: ``pretrain`` (``build_trainer`` + ``training_args`` + ``MLMCollator``, vs
  ``Trainer`` + ``TrainingArguments`` defaults + ``DataCollatorForLanguageModeling``; MLM on e5-small-zh, as a
  250k-row output layer would dominate), ``finetune`` (``FinetuneTrainer`` through ``build_trainer``, vs
  ``SentenceTransformerTrainer`` defaults; CoSENT, 16 pairs a step) and ``clue`` (``build_clue_trainer``, recipe
  ``short``, vs ``AutoModelForSequenceClassification`` + ``Trainer``). Texts are LCQMC sentences joined to >= 48
  tokens and cut at 48, so every batch of both sides has the same shape.
- **quality**: ``--quality-steps`` steps of the speed loop (CoSENT, e5-small-zh, else e5-small) in fp32 and in
  bf16-master from the same weights and batches; held-out CoSENT loss (fp32 forward, 16 batches of 16 other
  LCQMC pairs) before and after, with its standard error over the batches.

Writes ``bench_train.json`` and ``bench_train.md`` to ``--out-dir``; ``--record`` stores the precision that trained
fastest on this CPU kind in ``simlab/resources/train_precision.json`` (what ``--precision auto`` reads).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

B, T = 32, 48
LCQMC = "LCQMC/LCQMC.valid.data"


# ---------------------------------------------------------------- data


def lcqmc_pairs(start: int, n: int) -> list[tuple[str, str, int]]:
    from simlab.paths import data_dir

    rows = (data_dir() / LCQMC).read_text(encoding="utf-8").splitlines()[start:start + n]
    return [(a, b, int(y)) for a, b, y in (r.split("\t") for r in rows)]


def long_texts(tok, n: int) -> list[str]:
    """``n`` texts of >= 48 tokens: consecutive LCQMC sentences joined with "，"."""
    out, cur = [], []
    for a, b, _ in lcqmc_pairs(0, 8000):
        for s in (a, b):
            cur.append(s)
            if len(tok("，".join(cur))["input_ids"]) > T:
                out.append("，".join(cur))
                cur = []
                if len(out) == n:
                    return out
    raise SystemExit(f"not enough LCQMC text for {n} texts of {T} tokens")


def folder(name: str) -> str | None:
    """The model folder of ``name``; ``None`` for e5-small-zh while it is not built (no build here)."""
    from simlab.models.registry import resolve_model
    from simlab.paths import cache_dir

    if name == "e5-small-zh" and not (cache_dir("models") / "e5-small-zh" / "config.json").is_file():
        return None
    return resolve_model(name).path_or_id


def non_embedding_params(model) -> int:
    import torch

    emb = {id(p) for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in emb)


# ---------------------------------------------------------------- children


def cosent(u, v, y, scale: float = 20.0):
    """CoSENT (Su 2022, kexue.fm/archives/8847): log(1 + sum over (pos, neg) of exp(scale (cos_neg - cos_pos)))."""
    import torch

    cos = torch.nn.functional.cosine_similarity(u, v) * scale
    diff = cos[None, :] - cos[:, None]  # [i, j] = cos_j - cos_i, kept where y_i > y_j
    diff = diff - (1 - (y[:, None] > y[None, :]).float()) * 1e12
    return torch.logsumexp(torch.cat([torch.zeros(1), diff.flatten()]), dim=0)


def pair_batches(tok, pairs, per_batch: int = B // 2):
    import torch

    for i in range(0, len(pairs) - per_batch + 1, per_batch):
        chunk = pairs[i:i + per_batch]
        enc = tok([a for a, _, _ in chunk] + [b for _, b, _ in chunk], padding="max_length", truncation=True,
                  max_length=T, return_tensors="pt")
        yield dict(enc), torch.tensor([y for _, _, y in chunk], dtype=torch.float32)


def embed(model, batch):
    h = model(**batch).last_hidden_state.float()
    m = batch["attention_mask"].unsqueeze(-1).float()
    return (h * m).sum(1) / m.sum(1)  # mean pooling, as e5


def loop_loss(model, batch, y):
    e = embed(model, batch)
    half = len(y)
    return cosent(e[:half], e[half:], y)


def child_loop(cfg: dict) -> dict:
    """The plain training loop of the speed and quality parts."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from simlab.train.precision import BF16Compute

    path = folder(cfg["model"])
    tok = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(0)
    model = AutoModel.from_pretrained(path, add_pooling_layer=False).train()
    if cfg.get("frozen"):
        model.get_input_embeddings().weight.requires_grad_(False)
    n_steps = cfg["warmup"] + cfg["steps"]
    batches = list(pair_batches(tok, lcqmc_pairs(0, n_steps * B // 2)))
    heldout = list(pair_batches(tok, lcqmc_pairs(8000, 256))) if cfg.get("heldout") else []
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.get("lr", 2e-5),
                            weight_decay=0.0, fused=True)

    def held() -> list[float]:
        model.eval()
        with torch.no_grad():
            out = [float(loop_loss(model, b, y)) for b, y in heldout]
        model.train()
        return out

    before = held()
    handle = BF16Compute(model) if cfg["precision"] == "bf16-master" else None
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg["precision"] == "bf16")
    times, cpu, losses = [], [], []
    for batch, y in batches:
        t0, c0 = time.perf_counter(), time.process_time()
        with autocast:
            loss = loop_loss(model, batch, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        losses.append(float(loss))
    if handle:
        handle.remove()
    timed, w = times[cfg["warmup"]:], cfg["warmup"]
    return {"tokens_per_s": B * T * len(timed) / sum(timed), "tokens_per_cpu_s": B * T * len(timed) / sum(cpu[w:]),
            "step_s": timed, "train_loss": losses,
            "non_embedding_params": non_embedding_params(model),
            "params": sum(p.numel() for p in model.parameters()), "heldout_before": before, "heldout_after": held()}


def child_gemm(cfg: dict) -> dict:
    import torch

    dtype = getattr(torch, cfg["dtype"])
    a, b = torch.randn(2048, 2048).to(dtype), torch.randn(2048, 2048).to(dtype)
    for _ in range(3):
        torch.mm(a, b)
    t0, c0, n = time.perf_counter(), time.process_time(), 10
    for _ in range(n):
        torch.mm(a, b)
    return {"flops": 2 * 2048 ** 3 * n / (time.perf_counter() - t0),
            "flops_per_cpu_s": 2 * 2048 ** 3 * n / (time.process_time() - c0)}


def child_trainer(cfg: dict) -> dict:
    """One side (simlab or plain) of one trainer path (train_peers.py); ``profile``: CPU seconds per step by part."""
    import cProfile
    import pstats

    import torch
    import train_peers
    from transformers import AutoTokenizer

    kind, side, steps = cfg["kind"], cfg["side"], cfg["warmup"] + cfg["steps"]
    path = folder("e5-small-zh" if kind == "pretrain" else "e5-small") or folder("e5-small")
    tok = AutoTokenizer.from_pretrained(path)
    per_step = B // 2 if kind == "finetune" else B  # finetune: 16 pairs = 32 texts
    data = train_peers.data(kind, tok, long_texts(tok, 2 * per_step * steps), per_step * steps)
    timer = train_peers.step_timer()
    torch.manual_seed(0)
    prof = cProfile.Profile(time.process_time) if cfg.get("profile") else None
    with tempfile.TemporaryDirectory() as out:
        trainer = train_peers.BUILDERS[kind](side, path, tok, data, out, per_step, steps)
        trainer.add_callback(timer)
        t0 = time.perf_counter()
        prof.enable() if prof else None
        trainer.train()
        prof.disable() if prof else None
        wall = time.perf_counter() - t0
    t, c, w = timer.times, timer.cpu, max(1, cfg["warmup"])
    seconds, cpu = t[-1] - t[w - 1], c[-1] - c[w - 1]
    res = {"tokens_per_s": B * T * (len(t) - w) / seconds, "examples_per_s": per_step * (len(t) - w) / seconds,
           "tokens_per_cpu_s": B * T * (len(t) - w) / cpu, "train_wall_s": wall, "steps": len(t)}
    if prof:
        res["cpu_s_per_step"] = train_peers.profile_breakdown(pstats.Stats(prof), len(t))
    return res


# ---------------------------------------------------------------- parent


def run_child(cfg: dict, threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(cfg)], env=env, capture_output=True,
                          text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    res = json.loads(lines[-1][7:]) if proc.returncode == 0 and lines else {"error": proc.stderr.strip()[-600:]}
    res["process_s"] = round(time.perf_counter() - t0, 1)
    rate = f"{res['flops'] / 1e9:>9.0f} GFLOP/s" if "flops" in res else f"{res.get('tokens_per_s', 0):>9.0f} tok/s"
    print(f"  {cfg['name']:<28} {rate}  ({res['process_s']} s)"
          + (f"  ERROR {res['error'][-200:]}" if "error" in res else ""), file=sys.stderr, flush=True)
    return res


def configs(a, bf16_native: bool, trimmed: bool) -> list[dict]:
    base = {"warmup": a.warmup, "steps": a.steps}
    out = []
    if "speed" in a.parts:
        out += [{"name": "gemm fp32", "child": "gemm", "dtype": "float32"}]
        out += [{"name": "gemm bf16", "child": "gemm", "dtype": "bfloat16"}] if bf16_native else []
        models = [("full", "e5-small", False), ("frozen", "e5-small", True)]
        models += [("trimmed", "e5-small-zh", False)] if trimmed else []
        for label, model, frozen in models:
            precs = ["fp32"] + (["bf16-master", "bf16"] if bf16_native else [])
            out += [{"name": f"{label} {p}", "child": "loop", "model": model, "frozen": frozen, "precision": p,
                     **base} for p in precs]
    if "overhead" in a.parts:
        for r in range(a.repeat):
            for kind in a.paths.split(","):
                sides = ("simlab", "plain") if r % 2 == 0 else ("plain", "simlab")
                out += [{"name": f"{kind} {side}", "child": "trainer", "kind": kind, "side": side,
                         "profile": a.profile, **base} for side in sides if (kind, side) != ("clue", "plain")]
    if "quality" in a.parts:
        model = "e5-small-zh" if trimmed else "e5-small"
        for p in ["fp32"] + (["bf16-master"] if bf16_native else []):
            out.append({"name": f"quality {p}", "child": "loop", "model": model, "precision": p, "warmup": a.warmup,
                        "steps": a.quality_steps - a.warmup, "heldout": True, "lr": 5e-5})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--parts", default="speed,overhead,quality", help="comma-separated: speed, overhead, quality")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=4, help="timed steps per configuration")
    ap.add_argument("--quality-steps", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=1, help="overhead pairs: rounds, sides alternating")
    ap.add_argument("--paths", default="core,pretrain,finetune,clue", help="overhead part: trainer paths")
    ap.add_argument("--out-dir", default=".")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--profile", action="store_true", help="overhead part: cProfile (CPU time) each side")
    a = ap.parse_args()
    import torch

    if a.child:
        cfg = json.loads(a.child)
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        fn = {"loop": child_loop, "gemm": child_gemm, "trainer": child_trainer}[cfg["child"]]
        print("RESULT " + json.dumps(fn(cfg)), flush=True)
        return
    import train_report

    from simlab.machine import cpu_has_bf16, machine_info

    torch.set_num_threads(a.threads)
    a.parts = a.parts.split(",")
    info = machine_info()
    trimmed = folder("e5-small-zh") is not None
    notes = [] if trimmed else ["e5-small-zh is not built yet: the trimmed rows are skipped (simlab trim)"]
    print(f"{info['cpu']} ({info['cpu_kind']}), {a.threads} threads; {'; '.join(notes)}", file=sys.stderr)
    results = [(cfg, run_child(cfg, a.threads)) for cfg in configs(a, cpu_has_bf16(), trimmed)]
    s = train_report.summarize(results)
    doc = {"machine": info, "threads": a.threads, "batch": [B, T], "warmup": a.warmup, "steps": a.steps,
           "notes": notes, "summary": s, "runs": [{**c, **r} for c, r in results], "command": sys.argv[1:]}
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_train.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    md = train_report.markdown(s, info, a) + "".join(f"\nNote: {n}\n" for n in notes)
    (out / "bench_train.md").write_text(md, encoding="utf-8")
    print(md)
    if a.record:
        train_report.record(s, info, a)


if __name__ == "__main__":
    main()
