"""The record (``simlab_finetune.json``) and model card (README.md) of a ``simlab finetune`` output folder.

The record holds what the model *is* (base, pooling, objective, data counts, training summary, example cosines,
held-out scores); the run itself (every invocation's command line, machine, wall time) lives in the run folder's
``simlab_run.json`` and the card's "Run" and "Command" sections come from there
(:meth:`simlab.train.run.RunFolder.write_card`). :func:`card_sections` is pure: the card is a function of the record.

>>> title, intro, sections = card_sections({"base_model": "m", "objective": "sbert", "pooling": "last-avg",
...     "data": ["binary"], "counts": [], "held_out_sentences": 0, "training": {}})
>>> title
'# m fine-tuned with the sbert objective (RoFormer-Sim-FT recipe, kexue.fm/archives/8541)'
>>> list(sections)
['Model', 'Data', 'Training']
"""

from __future__ import annotations

__all__ = ["card_sections", "run_record", "run_summary"]


def _training(cfg, parts, trainer, metrics) -> dict:
    from simlab.train.args import precision_of
    from simlab.train.callbacks import TimeBudgetCallback

    budget = next((c for c in trainer.callback_handler.callbacks if isinstance(c, TimeBudgetCallback)), None)
    resumed = metrics.get("resumed_from_step", 0)
    wall = float(metrics.get("wall_seconds_this_process", 0.0))
    step = trainer.state.global_step
    return {
        "batch_size": cfg.batch_size, "max_steps": cfg.max_steps, "global_step": step,
        "pairs_seen": step * cfg.batch_size, "epoch": round(trainer.state.epoch or 0.0, 4),
        "lr": cfg.lr, "weight_decay": cfg.weight_decay, "warmup_ratio": cfg.warmup_ratio, "scheduler": cfg.scheduler,
        "seed": cfg.seed, "train_loss": round(float(metrics.get("train_loss", float("nan"))), 4),
        "wall_seconds": round(wall, 1), "pairs_per_second": round((step - resumed) * cfg.batch_size / max(wall, 1e-9), 3),
        "resumed_from_step": resumed, "stopped_by_budget": bool(budget and budget.stopped_early),
        "precision": precision_of(trainer.args), "tokens_seen": metrics.get("tokens_seen"),
        "sampling": _sampling(cfg, parts),
    }


def _sampling(cfg, parts) -> str:
    if cfg.objective == "mnrl":
        text = "one stream of (anchor, positive[, negatives]) rows; no batch holds two texts of one paraphrase group"
    else:
        names = "/".join({"binary": "binary", "nli": "NLI", "sts": "STS"}.get(k, k) for k in parts.datasets)
        text = f"{names} batches alternate 1:1 (round robin)" if len(parts.datasets) > 1 else "one stream"
    grouped = "length-grouped (mega-batches of 50 batches sorted by length)" if cfg.group_by_length else "random"
    return f"{text}; {grouped} batches, reshuffled every pass"


def run_record(cfg, data, parts, trainer, metrics) -> dict:
    """What the saved model is and how it was trained (the content of ``simlab_finetune.json``)."""
    from simlab.config import settings_of

    return {
        "base_model": cfg.model, "base_identity": parts.enc.identity, "objective": cfg.objective, "data": cfg.data,
        "pooling": cfg.pooling, "max_length": cfg.max_length, "prefix": parts.enc.prefix,
        "distill_from": cfg.distill_from, "distill_weight": cfg.distill_weight if parts.teacher else None,
        "teacher_pooling": parts.teacher_pooling, "freeze_embeddings": cfg.freeze_embeddings,
        "counts": [c.as_dict() for c in data.counts], "held_out_sentences": data.held_out_sentences,
        "training": _training(cfg, parts, trainer, metrics), "config": settings_of(cfg),
        **({"mnrl": {**parts.mnrl, "hard_negatives": cfg.hard_negatives, "mine_range": cfg.mine_range,
                     "mini_batch_size": cfg.mini_batch_size}} if parts.mnrl is not None else {}),
    }


def run_summary(record: dict, metrics: dict) -> dict:
    """The summary :meth:`simlab.train.run.RunFolder.finish` stores (and the card's "Run" section shows)."""
    t = record["training"]
    return {"global_step": t["global_step"], "tokens_seen": metrics.get("tokens_seen"),
            "train_loss": t["train_loss"], "precision": t["precision"]}


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


def _model_lines(rec: dict) -> list[str]:
    distill = (f"; distilled from `{rec['distill_from']}` (λ = {rec.get('distill_weight')}, teacher pooling "
               f"{rec.get('teacher_pooling')})" if rec.get("distill_from") else "; no distillation")
    prefix = repr(rec["prefix"]) if rec.get("prefix") else "none"
    return [f"- base model: `{rec['base_model']}` ({rec.get('base_identity', '')})",
            f"- pooling: **{rec['pooling']}** (recorded in modules.json and `simlab_finetune.json`), compared by "
            "plain cosine",
            f"- max length: {rec.get('max_length')} tokens; prefix: {prefix}",
            f"- objective: **{rec['objective']}**{distill}",
            f"- token embeddings frozen: {bool(rec.get('freeze_embeddings'))}"]


def _data_lines(rec: dict) -> list[str]:
    cosine = {"sbert": "", "mnrl": " (mnrl: binary 1 and entailment pairs are the positive pairs)"}.get(
        rec["objective"], " (cosine objectives: entailment → 1, the rest → 0)")
    return [f"Streams: {', '.join(rec['data'])}. Every pair sharing a sentence with a test split of ATEC, BQ, "
            f"LCQMC, PAWSX or STS-B ({rec['held_out_sentences']} distinct sentences) was dropped. NLI labels "
            "other than entailment/neutral/contradiction were dropped. Labels: binary 0/1; NLI 2 = "
            f"contradiction, 3 = entailment, 4 = neutral{cosine}"
            + ("; sts: STS-B's 0-5 score, ranked by CoSENT as is (counts by whole point)" if "sts" in rec["data"]
               else "") + ".", "", *_counts_table(rec.get("counts", []))]


def _training_lines(t: dict) -> list[str]:
    return [f"- batch: {t.get('batch_size')} pairs per step ({t.get('sampling', '')})",
            f"- steps: {t.get('global_step')} of max {t.get('max_steps')}; pairs seen: {t.get('pairs_seen')}; "
            f"trainer epochs: {t.get('epoch')}",
            f"- optimiser: AdamW lr {t.get('lr')}, weight decay {t.get('weight_decay')}, warmup ratio "
            f"{t.get('warmup_ratio')}, {t.get('scheduler', 'linear')} schedule, seed {t.get('seed')}",
            f"- this invocation: {t.get('wall_seconds')} s ({t.get('pairs_per_second')} pairs/s, resumed from step "
            f"{t.get('resumed_from_step', 0)}); final loss {t.get('train_loss')}"
            + (" — stopped by the time budget" if t.get("stopped_by_budget") else "")]


def _mnrl_lines(m: dict) -> list[str]:
    loss = (f"CachedMultipleNegativesRankingLoss (GradCache, mini-batch {m['mini_batch_size']})"
            if m.get("mini_batch_size") else "MultipleNegativesRankingLoss")
    lines = [f"- loss: sentence-transformers' {loss}, cosine × 20, every other positive and negative in the "
             "batch as a negative",
             f"- rows: {m['positive_pairs']} positive pairs (binary label 1, NLI entailment) in "
             f"{m['paraphrase_groups']} paraphrase groups"]
    mined = m.get("mining")
    if mined:
        lines.append(f"- hard negatives: {m['hard_negatives']} per row, drawn at random from ranks "
                     f"{mined['rank_band'][0]}-{mined['rank_band'][1]} of the base model's nearest neighbours "
                     f"(faiss flat inner product over {mined['corpus']} training sentences), never the positive "
                     f"or a sentence of the anchor's paraphrase group; {mined['random_top_ups']} topped up at random")
    else:
        lines.append("- hard negatives: none (in-batch negatives only)")
    return lines


def _examples_lines(ex: list) -> list[str]:
    return ["| text1 | text2 | cosine here | RoFormer-Sim-FT (published) |", "|---|---|---:|---:|",
            *[f"| {a} | {b} | {c:.4f} | {p:.4f} |" for a, b, c, p in ex]]


def _heldout_lines(rec: dict) -> list[str]:
    held = rec["heldout"]
    tasks = list(held["scores"])
    avg = sum(v["spearman"] for v in held["scores"].values()) / len(tasks)
    subset = f", a random {held['limit']} pairs per task (seed 0)" if held.get("limit") else ""
    return [f"Spearman ×100 of plain cosine, {held['split']} split, pooling {rec['pooling']}, no whitening{subset}.",
            "", "| " + " | ".join(tasks) + " | Avg |", "|" + "---:|" * (len(tasks) + 1),
            "| " + " | ".join(f"{held['scores'][k]['spearman']:.2f}" for k in tasks) + f" | {avg:.2f} |"]


def _interpolation_lines(i: dict) -> list[str]:
    lines = [f"The saved weights are θ = (1 − α)·θ_base + α·θ_fine-tuned with **α = {i['alpha']}** ({i['method']}; "
             f"the fine-tuned weights, α = 1, are in `{i['finetuned_weights']}`)."]
    if i.get("tried"):
        lines += ["", f"α chosen ({i['chosen']}): the largest α whose {i['guard']} Spearman ×100 is not below the base "
                  f"model's ({i['base_score']:.2f}) by more than {i['tolerance']}; no test split took part.", "",
                  "| α | " + " | ".join(f"{a:.1f}" for a, _ in i["tried"]) + " |", "|---|" + "---:|" * len(i["tried"]),
                  f"| {i['guard']} | " + " | ".join(f"{v:.2f}" for _, v in i["tried"]) + " |"]
    return lines


def card_sections(rec: dict) -> tuple[str, str, dict[str, list[str]]]:
    """``(title, intro, {section: lines})`` for :meth:`simlab.train.run.RunFolder.write_card`."""
    title = (f"# {rec['base_model']} fine-tuned with the {rec['objective']} objective (RoFormer-Sim-FT recipe, "
             "kexue.fm/archives/8541)")
    intro = ("A sentence-transformers folder: `SentenceTransformer(path)` loads it offline; `simlab eval --model "
             f"PATH --pooling {rec['pooling']}` scores the same vectors.")
    sections = {"Model": _model_lines(rec), "Data": _data_lines(rec), "Training": _training_lines(rec["training"])}
    if rec.get("mnrl"):
        sections["In-batch negatives (MNRL)"] = _mnrl_lines(rec["mnrl"])
    if rec.get("interpolation"):
        sections["Weight interpolation with the base (WiSE-FT)"] = _interpolation_lines(rec["interpolation"])
    if rec.get("examples"):
        sections["The ten example pairs of 8541"] = _examples_lines(rec["examples"])
    if rec.get("heldout"):
        sections["Held-out scores"] = _heldout_lines(rec)
    return title, intro, sections
