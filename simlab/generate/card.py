"""The generators' own model-card sections; the run contract's skeleton (:meth:`simlab.train.run.RunFolder.write_card`)
adds the title, "Run" (steps, wall time, machine, precision) and "Command" (every invocation, resumes included).

>>> intro, sections = card_sections(cfg, model, summary)          # doctest: +SKIP
>>> list(sections)                                                 # doctest: +SKIP
['Model', 'Data', 'Training', 'Held-out evaluation']
"""

from __future__ import annotations

import json

__all__ = ["card_sections", "WHAT"]

WHAT = {"seq2seq": "UniLM seq2seq paraphraser + linear-pooler encoder (SimBERT / RoFormer-Sim, kexue.fm 7427/8454)",
        "univae": "UniVAE multi-scale vMF-VAE (kexue.fm 8475)"}


def card_sections(cfg, model, summary: dict) -> tuple[str, dict[str, list[str]]]:
    """(intro, sections) of the card of a generator trained with ``cfg``; ``summary`` from the training run."""
    c = model.backbone.config
    n_params = sum(p.numel() for p in model.parameters())
    sections = {
        "Model": [f"- backbone: {summary['base']}",
                  f"- size: {c.num_hidden_layers} layers, hidden {c.hidden_size}, {c.num_attention_heads} heads, "
                  f"vocab {c.vocab_size}; {n_params:,} parameters",
                  f"- settings: {json.dumps(model.settings())}"],
        "Data": [f"- {summary['train_items']} training items (max {cfg.max_chars} characters); counts "
                 f"{json.dumps(summary['data'], ensure_ascii=False)}"],
        "Training": [f"- batch {cfg.batch_size}, lr {cfg.lr}, warmup {cfg.warmup_ratio}, seed {cfg.seed}, "
                     f"{cfg.max_steps} steps planned"],
        "Held-out evaluation": [f"- eval loss on {summary['eval_items']} test items, never trained on: "
                                f"{summary['eval_loss']}"],
    }
    return WHAT[cfg.kind] + ".", sections
