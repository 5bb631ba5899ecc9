"""Training of the two generators (seq2seq paraphraser, UniVAE) through simlab's training core.

One function, :func:`train_generator`: data (:mod:`simlab.generate.data`), backbone (the pretrained
``roformer-zh-small`` from the simlab cache when present, else a small char RoFormer from scratch), the
model, then :func:`simlab.train.trainer.build_trainer` / :func:`~simlab.train.trainer.run` (transformers'
Trainer: resumable, atomic checkpoints under ``<out>/run``). The final model folder is ``<out>``
(:mod:`simlab.generate.folder`) with a model card.

>>> train_generator("univae", "/tmp/vae", max_steps=2000, batch_size=64)      # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import platform
import random
import shlex
import sys
import time
from pathlib import Path

from simlab.errors import BadInputError, TrainingError

__all__ = ["train_generator", "resolve_base", "SCRATCH_CONFIG", "DEFAULT_BASE"]

DEFAULT_BASE = "roformer-zh-small"
# C.8 of the UniVAE spec: a char Transformer of 4-6 layers, d = 256, 4 heads, FFN 1024
SCRATCH_CONFIG = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
                      max_position_embeddings=512, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)


def resolve_base(base: str | None) -> Path | None:
    """A folder for ``base``: an existing path, or a name under the simlab model cache; None for ``scratch``
    or a default that is not in the cache yet (then the caller trains from scratch and says so)."""
    from simlab.paths import cache_dir

    if base in (None, "", "scratch"):
        return None
    p = Path(base).expanduser()
    if p.is_dir():
        return p
    cached = cache_dir("models") / base
    if (cached / "config.json").is_file():
        return cached
    if base == DEFAULT_BASE:
        return None
    raise BadInputError(f"--base {base!r}: neither a folder nor a model in {cache_dir('models')}")


def _backbone(base: str | None, texts: list[str], scratch_overrides: dict | None):
    from simlab.generate.backbone import UniLMBackbone
    from simlab.generate.folder import load_tokenizer

    folder = resolve_base(base)
    if folder is not None:
        return UniLMBackbone.from_pretrained(folder), load_tokenizer(folder), str(folder)
    from simlab.pretrain.vocab import build_tokenizer

    tok = build_tokenizer(texts, vocab_size=6000, min_freq=2, n_unused=10, merges_budget=300)
    cfg = {**SCRATCH_CONFIG, **(scratch_overrides or {}), "vocab_size": len(tok), "pad_token_id": tok.pad_token_id}
    why = "requested" if base in (None, "", "scratch") else f"{base} not in the cache"
    return UniLMBackbone.new(**cfg), tok, f"scratch ({why}): char vocab of {len(tok)} built from the train text"


def _model(kind: str, backbone, settings: dict, max_chars: int):
    if kind == "seq2seq":
        from simlab.generate.seq2seq import Seq2SeqSim

        return Seq2SeqSim(backbone, **settings)
    if kind == "univae":
        from simlab.generate.univae import UniVAE

        return UniVAE(backbone, enc_len=max_chars + 2, **settings)
    raise BadInputError(f"unknown generator kind {kind!r}")


def train_generator(kind: str, out: str | os.PathLike, *, base: str | None = DEFAULT_BASE,
                    data_dir: str | None = None, max_chars: int = 32, max_steps: int = 2000, batch_size: int = 64,
                    lr: float = 2e-4, warmup_ratio: float = 0.05, seed: int = 0, resume: bool = False,
                    minutes: float | None = None, save_steps: int = 250, eval_size: int = 256,
                    limit: int | None = None, settings: dict | None = None, scratch_overrides: dict | None = None,
                    threads: int | None = None, precision: str = "auto", progress_stream=None) -> dict:
    """Train ``kind`` (``seq2seq`` or ``univae``) and write the model folder ``out``; returns the metrics.

    ``limit`` caps the training items (tiny runs and tests). ``batch_size`` counts pairs for seq2seq (each
    gives two rows) and sentences for UniVAE. ``minutes`` stops early with a final save.
    """
    import torch

    from simlab.generate.data import load_generation_data
    from simlab.generate.folder import save_model
    from simlab.train.args import training_args
    from simlab.train.trainer import build_trainer, run

    if threads:
        torch.set_num_threads(threads)
    out = Path(out).expanduser()
    run_dir = out / "run"
    t0 = time.time()
    data = load_generation_data(data_dir, max_chars=max_chars)
    rng = random.Random(seed)
    if kind == "seq2seq":
        items = [{"a": a, "b": b} for a, b in data.pairs]
        texts = [s for a, b in data.pairs for s in (a, b)]
    else:
        items = [{"text": s} for s in data.sentences]
        texts = data.sentences
    rng.shuffle(items)
    if limit:
        items = items[:limit]
    if not items:
        raise TrainingError("no training items (is the data folder complete?)")
    tok_file = out / "run" / "tokenizer-source.json"
    if resume and (run_dir / "tokenizer").is_dir():  # a resumed scratch run must keep its vocabulary
        from simlab.generate.backbone import UniLMBackbone
        from simlab.generate.folder import load_tokenizer

        info = json.loads(tok_file.read_text(encoding="utf-8"))
        tokenizer = load_tokenizer(run_dir / "tokenizer")
        backbone = (UniLMBackbone.from_pretrained(info["base_folder"]) if info.get("base_folder") else
                    UniLMBackbone.new(**info["config"]))
        source = info["source"]
    else:
        backbone, tokenizer, source = _backbone(base, texts if not limit else [t for i in items for t in i.values()],
                                                scratch_overrides)
        run_dir.mkdir(parents=True, exist_ok=True)
        tokenizer.save_pretrained(str(run_dir / "tokenizer"))
        base_folder = source if Path(source).is_dir() else None
        tok_file.write_text(json.dumps({"source": source, "base_folder": base_folder,
                                        "config": backbone.config.to_dict()}, ensure_ascii=False), encoding="utf-8")
    model = _model(kind, backbone, settings or {}, max_chars)

    if kind == "seq2seq":
        from simlab.generate.seq2seq import Seq2SeqCollator

        collator = Seq2SeqCollator(tokenizer, max_chars)
        eval_items = _heldout_pairs(data_dir, max_chars, eval_size, seed)
    else:
        from simlab.generate.univae import UniVAECollator

        collator = UniVAECollator(tokenizer, max_chars)
        eval_items = [{"text": s} for s in data.heldout_sample(eval_size, seed)]
    args = training_args(run_dir, seed=seed, max_steps=max_steps, batch_size=batch_size, lr=lr,
                         warmup_ratio=warmup_ratio, weight_decay=0.01, save_steps=save_steps,
                         logging_steps=max(1, min(25, max_steps // 10)), precision=precision,
                         prediction_loss_only=True)
    trainer = build_trainer(model, args, items, eval_items or None, data_collator=collator, minutes=minutes,
                            progress_stream=progress_stream)
    _log_invocation(run_dir, {"kind": kind, "max_steps": max_steps, "batch_size": batch_size, "lr": lr,
                              "warmup_ratio": warmup_ratio, "seed": seed, "eval_size": eval_size, "limit": limit,
                              "resume": resume, "minutes": minutes, "base": source})
    metrics = run(trainer, resume=resume)
    meta = {"base": source, "data": data.counts, "train_items": len(items), "eval_items": len(eval_items),
            "steps": trainer.state.global_step, "batch_size": batch_size, "lr": lr, "seed": seed,
            "wall_seconds": round(time.time() - t0, 1), "threads": torch.get_num_threads(),
            "machine": f"{platform.machine()} {os.cpu_count()} cpus", "command": " ".join(map(shlex.quote, sys.argv)),
            "eval_loss": metrics.get("eval_loss")}
    model.cpu()
    save_model(model, tokenizer, out, max_chars, {"training": meta})
    _write_card(out, kind, model, meta)
    return {**metrics, **{k: meta[k] for k in ("base", "train_items", "steps", "wall_seconds")}}


def _log_invocation(run_dir: Path, settings: dict) -> None:
    """Append this process's command and settings to ``run/invocations.json`` before training starts, so a run
    killed before its model card is written still records how it was started (and each resume)."""
    from simlab.io import atomic_write_json

    path = run_dir / "invocations.json"
    runs = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    runs.append({"command": " ".join(map(shlex.quote, sys.argv)), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                 **settings})
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, runs)


def _heldout_pairs(data_dir, max_chars: int, n: int, seed: int) -> list[dict]:
    """n positive LCQMC *test* pairs (evaluation only) for the seq2seq eval loss."""
    from simlab.data import load_split

    ps = load_split("LCQMC", "test", data_dir)
    pairs = [{"a": a, "b": b} for a, b, y in zip(ps.sentences1, ps.sentences2, ps.scores)
             if y == 1 and len(a) <= max_chars and len(b) <= max_chars]
    return random.Random(seed).sample(pairs, min(n, len(pairs)))


def _write_card(out: Path, kind: str, model, meta: dict) -> None:
    from simlab.io import atomic_write_text

    what = {"seq2seq": "UniLM seq2seq paraphraser + linear-pooler encoder (SimBERT / RoFormer-Sim, kexue.fm 7427/8454)",
            "univae": "UniVAE multi-scale vMF-VAE (kexue.fm 8475)"}[kind]
    cfg = model.backbone.config
    lines = [f"# {out.name}", "", what + ".", "",
             f"- backbone: {meta['base']}",
             f"- size: {cfg.num_hidden_layers} layers, hidden {cfg.hidden_size}, {cfg.num_attention_heads} heads, "
             f"vocab {cfg.vocab_size}; {sum(p.numel() for p in model.parameters()):,} parameters",
             f"- settings: {json.dumps(model.settings())}",
             f"- data: {meta['train_items']} training items; counts {json.dumps(meta['data'], ensure_ascii=False)}",
             f"- steps {meta['steps']}, batch {meta['batch_size']}, lr {meta['lr']}, seed {meta['seed']}",
             f"- wall time {meta['wall_seconds']} s on {meta['machine']} ({meta['threads']} torch threads)",
             f"- held-out eval loss (test sentences, never trained on): {meta['eval_loss']}",
             f"- command: `{meta['command']}`", ""]
    atomic_write_text(out / "README.md", "\n".join(lines))
