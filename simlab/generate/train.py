"""Training of the two generators (seq2seq paraphraser, UniVAE) through simlab's training core and run contract.

:func:`train_generator` reads top to bottom: check the config, open the run folder (:func:`simlab.train.run.open_run`:
output guard, settings compared on ``--resume``, invocation log), load the data, the backbone (the pretrained
``roformer-zh-small`` from the simlab cache when present, else a small char RoFormer from scratch) and the model,
train with transformers' Trainer (resumable, checksummed checkpoints under ``OUT/run``), save the model folder
``OUT`` (:mod:`simlab.generate.folder`), finish the run and write the card.

A scratch run's vocabulary is recipe state: it is built from the training text once and kept in ``OUT/run/tokenizer``
(with ``tokenizer-source.json``) so that ``--resume`` continues with the same ids.

>>> from simlab.generate.config import GeneratorTrainConfig
>>> train_generator(GeneratorTrainConfig.preset("univae", out="/tmp/vae", max_steps=2000))   # doctest: +SKIP
"""

from __future__ import annotations

import random
from pathlib import Path

from simlab.config import check_config
from simlab.errors import BadInputError, ModelError, TrainingError
from simlab.generate.config import DEFAULT_BASE, RUN_KIND, GeneratorTrainConfig
from simlab.io import read_json
from simlab.train.args import precision_of

__all__ = ["train_generator", "resolve_base", "preflight", "training_items", "backbone_for", "DEFAULT_BASE"]

RUN_DIR = "run"  # checkpoints, metrics.jsonl and the scratch tokenizer, inside OUT
TOKENIZER_SOURCE = "tokenizer-source.json"


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


def _read_json(path: Path) -> dict:
    return read_json(path, "JSON file", ModelError)


def preflight(cfg: GeneratorTrainConfig) -> tuple[Path | None, Path]:
    """Checks that need the file system but load nothing: the base folder (its config.json against
    ``--latent-layers`` and ``--max-chars``) and the data folder. Returns (base folder or None, data folder)."""
    from simlab.paths import data_dir

    base = resolve_base(cfg.base)
    if base is not None:
        conf = base / "config.json"
        if not conf.is_file():
            raise ModelError(f"--base {base}: no config.json; expected an HF RoFormerForMaskedLM folder")
        hf = _read_json(conf)
        layers, positions = hf.get("num_hidden_layers"), hf.get("max_position_embeddings")
        if cfg.kind == "univae" and isinstance(layers, int) and cfg.latent_layers > layers:
            raise BadInputError(f"--latent-layers {cfg.latent_layers} exceeds the {layers} layers of {base}")
        if isinstance(positions, int) and 2 * cfg.max_chars + 4 > positions:
            raise BadInputError(f"--max-chars {cfg.max_chars}: rows of 2·{cfg.max_chars} + 4 positions exceed the "
                                f"{positions} of {base}")
    elif cfg.kind == "univae" and cfg.latent_layers > cfg.layers:
        raise BadInputError(f"--latent-layers {cfg.latent_layers} exceeds --layers {cfg.layers} (scratch backbone)")
    return base, data_dir(cfg.data_dir)


def training_items(cfg: GeneratorTrainConfig, data_root: Path):
    """(data, shuffled training items, held-out eval items): pairs ``{"a", "b"}`` for seq2seq, sentences
    ``{"text"}`` for UniVAE; ``limit`` caps the training items."""
    from simlab.generate.data import load_generation_data

    data = load_generation_data(data_root, max_chars=cfg.max_chars)
    if cfg.kind == "seq2seq":
        items = [{"a": a, "b": b} for a, b in data.pairs]
        eval_items = _heldout_pairs(data_root, cfg.max_chars, cfg.eval_size, cfg.seed)
    else:
        items = [{"text": s} for s in data.sentences]
        eval_items = [{"text": s} for s in data.heldout_sample(cfg.eval_size, cfg.seed)]
    random.Random(cfg.seed).shuffle(items)
    items = items[:cfg.limit] if cfg.limit else items
    if not items:
        raise TrainingError(f"no training items in {data_root} (is the data folder complete?)")
    return data, items, eval_items


def _heldout_pairs(data_root, max_chars: int, n: int, seed: int) -> list[dict]:
    """n positive LCQMC *test* pairs (evaluation only) for the seq2seq eval loss."""
    from simlab.data import load_split

    ps = load_split("LCQMC", "test", data_root)
    pairs = [{"a": a, "b": b} for a, b, y in zip(ps.sentences1, ps.sentences2, ps.scores)
             if y == 1 and len(a) <= max_chars and len(b) <= max_chars]
    return random.Random(seed).sample(pairs, min(n, len(pairs)))


def backbone_for(cfg: GeneratorTrainConfig, base: Path | None, run_dir: Path, items: list[dict]):
    """(backbone, tokenizer, source line): the base folder's, or a scratch char model whose vocabulary is built
    from the training text. Saved to ``run_dir`` on a fresh run; a resumed run reloads what it saved."""
    from simlab.generate.backbone import UniLMBackbone
    from simlab.generate.folder import load_tokenizer

    source_file, tok_dir = run_dir / TOKENIZER_SOURCE, run_dir / "tokenizer"
    if cfg.resume and source_file.is_file() and tok_dir.is_dir():  # a resumed scratch run keeps its vocabulary
        info = _read_json(source_file)
        backbone = (UniLMBackbone.from_pretrained(info["base_folder"]) if info.get("base_folder") else
                    UniLMBackbone.new(**info["config"]))
        return backbone, load_tokenizer(tok_dir), info["source"]
    if base is not None:
        backbone, tokenizer, source = UniLMBackbone.from_pretrained(base), load_tokenizer(base), str(base)
    else:
        from simlab.train.vocab import build_tokenizer

        texts = [t for item in items for t in item.values()]
        tokenizer = build_tokenizer(texts, vocab_size=6000, min_freq=2, n_unused=10, merges_budget=300)
        backbone = UniLMBackbone.new(**cfg.scratch_config(len(tokenizer), tokenizer.pad_token_id))
        why = "requested" if cfg.base == "scratch" else f"{cfg.base} not in the cache"
        source = f"scratch ({why}): char vocab of {len(tokenizer)} built from the train text"
    from simlab.io import atomic_write_json

    tokenizer.save_pretrained(str(tok_dir))
    atomic_write_json(source_file, {"source": source, "base_folder": str(base) if base else None,
                                    "config": backbone.config.to_dict()})
    return backbone, tokenizer, source


def build_model(cfg: GeneratorTrainConfig, backbone):
    """Seq2SeqSim or UniVAE on ``backbone`` with the config's model settings."""
    if cfg.kind == "seq2seq":
        from simlab.generate.seq2seq import Seq2SeqSim

        return Seq2SeqSim(backbone, **cfg.model_settings())
    from simlab.generate.univae import UniVAE

    return UniVAE(backbone, enc_len=cfg.max_chars + 2, **cfg.model_settings())


def build_generator_trainer(cfg: GeneratorTrainConfig, model, tokenizer, items, eval_items, run_dir: Path,
                            progress_stream=None):
    """transformers' Trainer (through :func:`simlab.train.trainer.build_trainer`) with the kind's collator."""
    from simlab.train.args import training_args
    from simlab.train.trainer import build_trainer

    if cfg.kind == "seq2seq":
        from simlab.generate.seq2seq import Seq2SeqCollator as Collator
    else:
        from simlab.generate.univae import UniVAECollator as Collator
    args = training_args(run_dir, seed=cfg.seed, max_steps=cfg.max_steps, batch_size=cfg.batch_size, lr=cfg.lr,
                         warmup_ratio=cfg.warmup_ratio, weight_decay=0.01, save_steps=cfg.save_steps,
                         logging_steps=max(1, min(25, cfg.max_steps // 10)), precision=cfg.precision,
                         prediction_loss_only=True)
    return build_trainer(model, args, items, eval_items or None, data_collator=Collator(tokenizer, cfg.max_chars),
                         minutes=cfg.minutes, progress_stream=progress_stream)


def train_generator(cfg: GeneratorTrainConfig, progress_stream=None) -> dict:
    """Train ``cfg.kind`` and write the model folder ``cfg.out``; returns the metrics and a summary.

    Refused before anything is written (exit 2): bad options, an ``out`` that overlaps the base or data folder or
    holds another run, ``--resume`` with changed settings or of a finished run (:func:`simlab.train.run.open_run`).
    """
    check_config(cfg)
    base, data_root = preflight(cfg)  # every check that needs no heavy import, before torch loads
    from simlab.generate.folder import save_model
    from simlab.machine import set_threads
    from simlab.train.run import open_run
    from simlab.train.trainer import run as run_trainer

    set_threads(cfg.threads)
    run = open_run(cfg.out, kind=RUN_KIND[cfg.kind], settings=cfg.settings(), resume=cfg.resume,
                   reads=[p for p in (base, data_root) if p is not None], checkpoint_dir=RUN_DIR)
    run_dir = run.out / RUN_DIR
    data, items, eval_items = training_items(cfg, data_root)
    from transformers import set_seed

    set_seed(cfg.seed)  # the scratch backbone's and the model's initial weights
    backbone, tokenizer, source = backbone_for(cfg, base, run_dir, items)
    model = build_model(cfg, backbone)
    trainer = build_generator_trainer(cfg, model, tokenizer, items, eval_items, run_dir, progress_stream)
    metrics = run_trainer(trainer, run_folder=run)
    summary = {"base": source, "data": data.counts, "train_items": len(items), "eval_items": len(eval_items),
               "global_step": trainer.state.global_step, "tokens_seen": metrics.get("tokens_seen"),
               "train_loss": metrics.get("train_loss"), "eval_loss": metrics.get("eval_loss"),
               "resumed_from_step": metrics.get("resumed_from_step"),
               "precision": precision_of(trainer.args)}
    save_model(model.cpu(), tokenizer, run.out, cfg.max_chars, {"training": summary})
    run.finish(summary, keep_checkpoints=cfg.keep_checkpoints)
    from simlab.generate.card import card_sections

    run.write_card(f"# {run.out.name}", *card_sections(cfg, model, summary))
    return {**metrics, **summary}
