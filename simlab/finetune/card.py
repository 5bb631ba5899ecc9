"""The model card (README.md) of a ``simlab finetune`` output folder: data counts, batches, steps, wall time,
machine, the exact command, and the ten 8541 example cosines (plus held-out scores when they were computed).

Rendered only from the run record (``simlab_finetune.json``), so :func:`render_card` is a pure function.

>>> text = render_card({"base_model": "m", "objective": "sbert", "pooling": "last-avg", "data": ["binary"],
...     "counts": [], "held_out_sentences": 0, "training": {}, "machine": {}, "command": "simlab finetune ..."})
>>> text.splitlines()[0]
'# m fine-tuned with the sbert objective (RoFormer-Sim-FT recipe, kexue.fm/archives/8541)'
"""

from __future__ import annotations

import os
import platform
import sys

__all__ = ["machine_info", "render_card"]


def machine_info() -> dict:
    """Where the run happened: host, CPU, cores, torch threads, versions."""
    import sentence_transformers
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="ignore") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"host": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "device": "cuda:" + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__,
            "sentence_transformers": sentence_transformers.__version__}


def _counts_table(counts: list[dict]) -> list[str]:
    lines = ["| stream | source | read | dropped: label | dropped: test overlap | kept | labels kept |",
             "|---|---|---:|---:|---:|---:|---|"]
    for c in counts:
        labels = ", ".join(f"{k}: {v}" for k, v in c.get("label_counts", {}).items())
        lines.append(f"| {c['stream']} | {c['name']} | {c['read']} | {c['dropped_label']} | "
                     f"{c['dropped_test_overlap']} | {c['kept']} | {labels} |")
    if counts:
        tot = {k: sum(c[k] for c in counts) for k in ("read", "dropped_label", "dropped_test_overlap", "kept")}
        lines.append(f"| **total** | | {tot['read']} | {tot['dropped_label']} | {tot['dropped_test_overlap']} | "
                     f"{tot['kept']} | |")
    return lines


def render_card(rec: dict) -> str:
    """Markdown model card from a run record."""
    t, m = rec.get("training", {}), rec.get("machine", {})
    lines = [f"# {rec['base_model']} fine-tuned with the {rec['objective']} objective (RoFormer-Sim-FT recipe, "
             "kexue.fm/archives/8541)", "",
             "A sentence-transformers folder: `SentenceTransformer(path)` loads it offline; `simlab eval --model "
             f"PATH --pooling {rec['pooling']}` scores the same vectors.", "",
             "## Model", "",
             f"- base model: `{rec['base_model']}` ({rec.get('base_identity', '')})",
             f"- pooling: **{rec['pooling']}** (recorded in modules.json and `simlab_finetune.json`), compared by "
             "plain cosine",
             f"- max length: {rec.get('max_length')} tokens; prefix: {repr(rec['prefix']) if rec.get('prefix') else 'none'}",
             f"- objective: **{rec['objective']}**" + (f"; distilled from `{rec['distill_from']}` "
                                                       f"(λ = {rec.get('distill_weight')}, teacher pooling "
                                                       f"{rec.get('teacher_pooling')})" if rec.get("distill_from")
                                                       else "; no distillation"),
             f"- token embeddings frozen: {bool(rec.get('freeze_embeddings'))}", "",
             "## Data", "",
             f"Streams: {', '.join(rec['data'])}. Every pair sharing a sentence with a test split of ATEC, BQ, "
             f"LCQMC, PAWSX or STS-B ({rec['held_out_sentences']} distinct sentences) was dropped. NLI labels "
             "other than entailment/neutral/contradiction were dropped. Labels: binary 0/1; NLI 2 = "
             "contradiction, 3 = entailment, 4 = neutral" + (" (cosine objectives: entailment → 1, the rest → 0)"
                                                             if rec["objective"] != "sbert" else "") + ".", "",
             *_counts_table(rec.get("counts", [])), "",
             "## Training", "",
             f"- batch: {t.get('batch_size')} pairs per step ({t.get('sampling', '')})",
             f"- steps: {t.get('global_step')} of max {t.get('max_steps')}; pairs seen: {t.get('pairs_seen')}; "
             f"trainer epochs: {t.get('epoch')}",
             f"- optimiser: AdamW lr {t.get('lr')}, weight decay {t.get('weight_decay')}, warmup ratio "
             f"{t.get('warmup_ratio')}, {t.get('scheduler', 'linear')} schedule, seed {t.get('seed')}",
             f"- wall time: {t.get('wall_seconds')} s ({t.get('pairs_per_second')} pairs/s); final loss "
             f"{t.get('train_loss')}" + (" — stopped by the time budget" if t.get("stopped_by_budget") else ""),
             f"- machine: {m.get('cpu')} ({m.get('cores')} cores, {m.get('torch_threads')} torch threads, "
             f"{m.get('device')}), torch {m.get('torch')}, transformers {m.get('transformers')}, "
             f"sentence-transformers {m.get('sentence_transformers')}", "",
             "Command:", "", "```", rec.get("command", ""), "```", ""]
    ex = rec.get("examples")
    if ex:
        lines += ["## The ten example pairs of 8541", "",
                  "| text1 | text2 | cosine here | RoFormer-Sim-FT (published) |", "|---|---|---:|---:|"]
        lines += [f"| {a} | {b} | {c:.4f} | {p:.4f} |" for a, b, c, p in ex]
        lines.append("")
    held = rec.get("heldout")
    if held:
        tasks = list(held["scores"])
        avg = sum(v["spearman"] for v in held["scores"].values()) / len(tasks)
        lines += ["## Held-out scores", "",
                  f"Spearman ×100 of plain cosine, {held['split']} split, pooling {rec['pooling']}, no whitening"
                  + (f", a random {held['limit']} pairs per task (seed 0)" if held.get("limit") else "") + ".", "",
                  "| " + " | ".join(tasks) + " | Avg |", "|" + "---:|" * (len(tasks) + 1),
                  "| " + " | ".join(f"{held['scores'][k]['spearman']:.2f}" for k in tasks) + f" | {avg:.2f} |", ""]
    return "\n".join(lines)
