"""Summary, markdown table and the ``auto`` precision record of ``bench_train.py`` (its numbers: see there)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

B, T = 32, 48
PATHS = ("core", "pretrain", "finetune", "clue")


def summarize(results: list[tuple[dict, dict]]) -> dict:
    import statistics

    by = {}
    for cfg, res in results:
        by.setdefault(cfg["name"], []).append(res)
    best = {k: max((r.get("tokens_per_s") or r.get("flops") or 0) for r in v) for k, v in by.items()}
    cpu = {k: max(r.get("tokens_per_cpu_s") or r.get("flops_per_cpu_s") or 0 for r in v) for k, v in by.items()}
    s: dict = {"best": best, "best_per_cpu_second": cpu}
    for name, rs in by.items():  # quality: one run per arm
        r = rs[0]
        if r.get("heldout_after"):
            h0, h1 = r["heldout_before"], r["heldout_after"]
            s.setdefault("quality", {})[name.split()[1]] = {
                "heldout_before": statistics.mean(h0), "heldout_after": statistics.mean(h1),
                "heldout_after_se": statistics.stdev(h1) / len(h1) ** 0.5, "tokens_per_s": r["tokens_per_s"]}
        if "non_embedding_params" in r and name.startswith("full"):
            s["non_embedding_params"] = r["non_embedding_params"]
    n = s.get("non_embedding_params")
    for rates, suffix in ((best, ""), (cpu, "_per_cpu_second")):  # achieved FLOP/s over GEMM FLOP/s
        for name, v in rates.items():
            for dt in ("fp32", "bf16"):
                peak = rates.get(f"gemm {dt}")
                if n and peak and not name.startswith(("gemm", "quality") + PATHS):
                    s.setdefault(f"share_of_{dt}_gemm{suffix}", {})[name] = 6 * n * v / peak
    for rates, suffix in ((best, ""), (cpu, "_per_cpu_second")):
        rates["clue plain"] = rates.get("core plain")  # the same plain script (train_peers.build_clue)
        s["simlab_over_plain" + suffix] = {k: rates[f"{k} simlab"] / rates[f"{k} plain"] for k in PATHS
                                           if rates.get(f"{k} simlab") and rates.get(f"{k} plain")}
        for label in ("full", "frozen", "trimmed"):
            if rates.get(f"{label} fp32") and rates.get(f"{label} bf16-master"):
                ratio = rates[f"{label} bf16-master"] / rates[f"{label} fp32"]
                s.setdefault("bf16_master_over_fp32" + suffix, {})[label] = ratio
    q = s.get("quality", {})
    for p in q:
        q[p]["tokens_per_cpu_s"] = cpu[f"quality {p}"]
    if "fp32" in q and "bf16-master" in q:  # paired over the same held-out batches
        for key in ("tokens_per_s", "tokens_per_cpu_s"):
            q[f"bf16_master_over_fp32_{key}"] = q["bf16-master"][key] / q["fp32"][key]
        d = [b - f for f, b in zip(by["quality fp32"][0]["heldout_after"], by["quality bf16-master"][0]["heldout_after"])]
        q["bf16_master_minus_fp32"] = statistics.mean(d)
        q["bf16_master_minus_fp32_se"] = statistics.stdev(d) / len(d) ** 0.5
    return s


def markdown(s: dict, info: dict, a) -> str:
    lines = [f"Machine: {info['cpu']} ({info['cpu_kind']}), {info['cores']} cores, {a.threads} torch threads, "
             f"torch {info.get('torch')}; batch {B} x {T}; {a.warmup} warm-up + {a.steps} timed steps"
             + (f" ({a.quality_steps} steps in the quality part)." if s.get("quality") else "."), "",
             "Wall: tokens/s; CPU: tokens per second of the process's CPU time (at 1 thread, what a quiet core "
             "would give). Share = 6 x non-embedding params x tokens/s over the GEMM's FLOP/s, both wall or both CPU."]
    lines += [] if "share_of_fp32_gemm" not in s else ["", "| configuration | wall tokens/s | x fp32 | share fp32 / bf16 GEMM | CPU tokens/s | x fp32 "
             "| share fp32 / bf16 GEMM |", "|---|---:|---:|---:|---:|---:|---:|"]
    cpu = s["best_per_cpu_second"]
    for name, v in s["best"].items():
        if name.startswith(("gemm", "quality") + PATHS) or "share_of_fp32_gemm" not in s:
            continue
        ref, cref = s["best"].get(name.split()[0] + " fp32"), cpu.get(name.split()[0] + " fp32")

        def share(suffix, name=name):
            f32 = s.get(f"share_of_fp32_gemm{suffix}", {}).get(name)
            b16 = s.get(f"share_of_bf16_gemm{suffix}", {}).get(name)
            return (f"{f32:.0%}" if f32 else "-") + " / " + (f"{b16:.0%}" if b16 else "-")

        lines.append(f"| {name} | {v:,.0f} | {v / ref:.2f} | {share('')} | {cpu[name]:,.0f} | {cpu[name] / cref:.2f} "
                     f"| {share('_per_cpu_second')} |")
    for dt in ("fp32", "bf16"):
        if s["best"].get(f"gemm {dt}"):
            lines.append(f"\n{dt} GEMM (torch.mm 2048 x 2048): {s['best'][f'gemm {dt}'] / 1e9:,.0f} GFLOP/s wall, "
                         f"{cpu[f'gemm {dt}'] / 1e9:,.0f} per CPU-second")
    if s["simlab_over_plain"]:
        lines += ["", "| trainer path | simlab tokens/s | plain tokens/s | simlab / plain | per CPU-s: simlab / plain |",
                  "|---|---:|---:|---:|---:|"]
        for k, r in s["simlab_over_plain"].items():
            lines.append(f"| {k} | {s['best'][k + ' simlab']:,.0f} | {s['best'][k + ' plain']:,.0f} | {r:.3f} | "
                         f"{s['simlab_over_plain_per_cpu_second'].get(k, float('nan')):.3f} |")
    for p, q in s.get("quality", {}).items():
        if isinstance(q, dict):
            lines.append(f"\nquality {p}: held-out CoSENT loss {q['heldout_before']:.4f} -> {q['heldout_after']:.4f} "
                         f"(± {q['heldout_after_se']:.4f} s.e. over batches), {q['tokens_per_s']:,.0f} tokens/s, "
                         f"{cpu['quality ' + p]:,.0f} per CPU-s")
    if "bf16_master_minus_fp32" in s.get("quality", {}):
        q = s["quality"]
        lines.append(f"\nheld-out loss bf16-master - fp32 (paired over batches): {q['bf16_master_minus_fp32']:+.4f} "
                     f"± {q['bf16_master_minus_fp32_se']:.4f} s.e.")
    return "\n".join(lines) + "\n"


def record(s: dict, info: dict, a) -> None:
    """Store under this CPU kind in simlab/resources/train_precision.json the precision ``auto`` trains in:
    ``bf16-master`` where it was faster than fp32 in every configuration measured (tokens per CPU-second at one
    thread, wall tokens/s otherwise) and its held-out loss was not worse by more than 2 paired standard errors."""
    q, basis = s.get("quality", {}), "tokens_per_cpu_s" if a.threads == 1 else "tokens_per_s"
    ratios = dict(s.get("bf16_master_over_fp32" + ("_per_cpu_second" if a.threads == 1 else ""), {}))
    if f"bf16_master_over_fp32_{basis}" in q:
        ratios["quality run"] = q[f"bf16_master_over_fp32_{basis}"]
    same = "bf16_master_minus_fp32" in q and q["bf16_master_minus_fp32"] <= 2 * q["bf16_master_minus_fp32_se"]
    faster = bool(ratios) and min(ratios.values()) > 1.0
    path = Path(__file__).resolve().parents[1] / "simlab" / "resources" / "train_precision.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["kinds"][info["cpu_kind"]] = {
        "auto": "bf16-master" if same and faster else "fp32",
        "bf16_master_over_fp32": {k: round(v, 3) for k, v in ratios.items()}, "basis": basis,
        "heldout_loss_after": {k: round(v["heldout_after"], 4) for k, v in q.items() if isinstance(v, dict)},
        "heldout_bf16_master_minus_fp32": [round(q.get("bf16_master_minus_fp32", float("nan")), 4),
                                           round(q.get("bf16_master_minus_fp32_se", float("nan")), 4)],
        "cpu": info["cpu"], "threads": a.threads, "date": time.strftime("%Y-%m-%d"),
        "command": "benchmarks/bench_train.py " + " ".join(sys.argv[1:])}
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
