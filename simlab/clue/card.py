"""The model card of a ``simlab clue run`` folder (``README.md``): the recipe's own sections, filled into the card
skeleton every trainer shares (:meth:`simlab.train.run.RunFolder.write_card` adds "Run" and "Command"), and the
one line the command prints.

>>> s = {"task": "afqmc", "metric": "accuracy", "dev": {"accuracy": 0.7}, "best_epoch": 2, "submissions": [],
...      "wall_seconds": 12.5}
>>> summary_line(s)
'afqmc: dev accuracy 0.7000 (best epoch 2), 0 submission file(s), 12.5 s'
"""

from __future__ import annotations

__all__ = ["card_title", "card_intro", "card_sections", "summary_line"]

RECIPE_WORDS = {
    "short": "the short-run recipe (AdamW, warmup, head learning rate {ratio:g}x the backbone's)",
    "8739": "the kexue.fm/archives/8739 recipe (AdaFactor, constant learning rate, no warmup)",
}


def _metrics(m: dict) -> str:
    return ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in m.items())


def card_title(s: dict) -> str:
    return f"# simlab clue: {s['task']} on {s['model']}"


def card_intro(s: dict) -> str:
    recipe = RECIPE_WORDS[s["recipe"]].format(ratio=s.get("head_lr_ratio") or 1)
    return f"{s['title']}, fine-tuned by `simlab clue run` with {recipe}."


def card_sections(s: dict) -> dict[str, list[str]]:
    """"Data", "Training", "Results" and "Weights" of the card, from the run's summary (``metrics.json``)."""
    c = s["counts"]
    data = [f"- train: {c['train']} examples ({', '.join(s['files']['train'])})"
            + (f", --train-limit {s['train_limit']} of {c['train_available']}" if s["train_limit"] else ""),
            f"- dev: {c['dev']} examples ({', '.join(s['files']['dev'])})",
            f"- rows left out: train {s['skipped']['train']['count']}, dev {s['skipped']['dev']['count']}"]
    if s["limit"]:
        data.append(f"- --limit {s['limit']}: every split cut to its first {s['limit']} rows (a smoke run)")
    steps = s["train_metrics"].get("global_step", "?")
    training = [
        f"- recipe {s['recipe']}: {s['optimizer']}, lr {s['lr']:g}"
        + (f", head lr {s['lr'] * s['head_lr_ratio']:g}, warmup {s['warmup']:g}" if s["recipe"] == "short" else ""),
        f"- {s['epochs']:g} epochs" + (f", at most {s['max_steps']} steps" if s.get("max_steps") else "")
        + f": {steps} optimizer steps" + (" (stopped by --minutes; --resume continues)" if s.get("stopped_early")
                                          else ""),
        f"- batch {s['batch_size']} x accumulation {s['grad_accum']}, batches {s['batching']}, max length "
        f"{s['max_length']}, pooling {s['pooling']}, seed {s['seed']}",
    ]
    tests = "; ".join(f"{name}: {_metrics(m)}" for name, m in s["test"].items()) or "none"
    results = [f"- best dev (epoch {s['best_epoch']}): {_metrics(s['dev'])}",
               f"- labelled test files: {tests}",
               f"- submission files: {', '.join(x['file'] for x in s['submissions']) or 'none (no test file)'}"]
    weights = ["`best/backbone/` (an HF folder with the tokenizer) and `best/head.safetensors`; `metrics.json` holds "
               "the whole summary, `metrics.jsonl` the training log."]
    return {"Data": data, "Training": training, "Results": results, "Weights": weights}


def summary_line(s: dict) -> str:
    """One line for the terminal."""
    main = s["dev"].get(s["metric"])
    return (f"{s['task']}: dev {s['metric']} {main:.4f} (best epoch {s['best_epoch']}), "
            f"{len(s['submissions'])} submission file(s), {s['wall_seconds']} s")
