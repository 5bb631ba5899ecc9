"""``simlab pretrain``, top to bottom: corpus -> vocabulary -> packed sequences -> RoFormer MLM -> model card.

Every stage writes into the output folder and is reused on a rerun with the same settings, so ``--resume``
after a kill redoes nothing but the training steps after the last complete checkpoint. Layout of ``--out``:

    config.json, model.safetensors, tokenizer files, README.md   the final model (AutoModel / load_encoder)
    data/    pieces (train / held-out), packed sequences, corpus_stats.json
    step0/   the same architecture at step 0 (random init, same tokenizer): the control of the study
    train/   Trainer checkpoints, metrics.jsonl, curves.png
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from simlab.errors import BadInputError, MissingFileError, TrainingError
from simlab.io import atomic_write_json
from simlab.pretrain.corpus import (
    CorpusStats,
    clean_pieces,
    default_sources,
    is_heldout,
    read_texts,
    sts_sentence_keys,
)
from simlab.pretrain.presets import get_preset
from simlab.pretrain.vocab import save_tokenizer


@dataclass
class PretrainConfig:
    """Everything that decides the run (the model card records it)."""

    preset: str = "zh-small"
    corpus: list[str] = field(default_factory=lambda: ["zh-default"])
    text_field: str = "text"
    out: str | None = None
    init: str | None = None
    max_steps: int | None = None
    minutes: float | None = None
    batch_size: int | None = None
    lr: float | None = None
    seed: int = 0
    wwm: bool = False
    mlm_prob: float = 0.15
    max_len: int | None = None
    vocab_size: int = 8021
    min_freq: int = 3
    heldout_permille: int = 5
    heldout_max: int = 512
    save_steps: int | None = None
    eval_steps: int | None = None
    precision: str = "auto"
    data_dir: str | None = None
    limit_texts: int | None = None  # read at most this many texts per source (tests, quick looks)


def default_out(preset: str) -> Path:
    """``~/.cache/simlab/models/roformer-<preset>`` (``roformer-zh-small`` is then a model short name)."""
    from simlab.paths import cache_dir

    return cache_dir("models") / f"roformer-{preset}"


def _fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prepare_pieces(cfg: PretrainConfig, data: Path, max_chars: int) -> dict:
    """Stage 1: clean corpus pieces into ``data/train.txt`` and ``data/heldout.txt`` (+ corpus_stats.json)."""
    key = _fingerprint([cfg.corpus, cfg.text_field, max_chars, cfg.heldout_permille, cfg.limit_texts,
                        cfg.data_dir if "zh-default" in cfg.corpus else None])
    stats_path = data / "corpus_stats.json"
    if stats_path.is_file() and json.loads(stats_path.read_text())["fingerprint"] == key:
        return json.loads(stats_path.read_text())
    from simlab.paths import data_dir as resolve_data

    sources = []
    for item in cfg.corpus:
        if item == "zh-default":
            root = resolve_data(cfg.data_dir)
            for path, fmt, fields in default_sources(root):
                if path.is_file():
                    sources.append((str(path.relative_to(root)), path, fmt, fields))
        else:
            path = Path(item)
            if not path.is_file():
                raise MissingFileError(f"--corpus {item}: no such file")
            sources.append((str(path), path, "auto", (cfg.text_field,)))
    try:
        sts_keys = sts_sentence_keys(cfg.data_dir)
    except FileNotFoundError:
        if "zh-default" in cfg.corpus:
            raise
        sts_keys = set()  # no STS data to leak into a user's own corpus
        print("simlab: STS data not found; corpus not filtered against STS sentences", file=sys.stderr)
    stats = CorpusStats()
    for rel, _, _, _ in sources:
        stats.read[rel] += 0
    streams = ((rel, _limited(read_texts(p, fmt, fields), cfg.limit_texts)) for rel, p, fmt, fields in sources)
    data.mkdir(parents=True, exist_ok=True)
    tmp_train, tmp_held = data / ".train.txt.tmp", data / ".heldout.txt.tmp"
    with open(tmp_train, "w", encoding="utf-8") as ft, open(tmp_held, "w", encoding="utf-8") as fh:
        for _, piece in clean_pieces(streams, sts_keys, max_chars, stats):
            if is_heldout(piece, cfg.heldout_permille):
                stats.heldout_pieces += 1
                fh.write(piece + "\n")
            else:
                ft.write(piece + "\n")
    if sum(stats.pieces.values()) == 0:
        raise TrainingError(f"the corpus {' '.join(cfg.corpus)} gave no text to train on")
    os.replace(tmp_train, data / "train.txt")
    os.replace(tmp_held, data / "heldout.txt")
    result = {"fingerprint": key, "sts_sentences_filtered_against": len(sts_keys), **stats.as_dict()}
    atomic_write_json(stats_path, result)
    return result


def _limited(texts, n):
    for i, t in enumerate(texts):
        if n is not None and i >= n:
            return
        yield t


def _lines(path: Path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield line.rstrip("\n")


def prepare_tokenizer(cfg: PretrainConfig, out: Path, data: Path):
    """Stage 2: the tokenizer: the ``--init`` checkpoint's own, or a char vocabulary built on train pieces."""
    from transformers import AutoTokenizer

    if cfg.init:
        return AutoTokenizer.from_pretrained(_init_path(cfg.init))
    folder = data / "tokenizer"
    key = _fingerprint([cfg.vocab_size, cfg.min_freq, json.loads((data / "corpus_stats.json").read_text())["fingerprint"]])
    if (folder / "simlab_vocab.json").is_file() and json.loads((folder / "simlab_vocab.json").read_text())["key"] == key:
        return AutoTokenizer.from_pretrained(folder)
    from simlab.pretrain.vocab import build_tokenizer, char_counts

    counts = char_counts(_lines(data / "train.txt"))
    tok = build_tokenizer(_lines(data / "train.txt"), vocab_size=cfg.vocab_size, min_freq=cfg.min_freq, counts=counts)
    tmp = data / ".tokenizer.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    save_tokenizer(tok, tmp)
    atomic_write_json(tmp / "simlab_vocab.json", {"key": key, "vocab_size": len(tok), "min_freq": cfg.min_freq,
                                                  "distinct_chars": len(counts)})
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return AutoTokenizer.from_pretrained(folder)


def tokenizer_coverage(tokenizer, data_dir=None) -> dict | None:
    """Share of the characters of the 5 STS tasks' test sentences that map to ``[UNK]`` (None without data)."""
    from simlab.data import load_split
    from simlab.pretrain.corpus import STS_TASKS
    from simlab.pretrain.vocab import unk_share

    try:
        sents = [s for t in STS_TASKS for ps in [load_split(t, "test", data_dir)] for s in ps.sentences1 + ps.sentences2]
    except FileNotFoundError:
        return None
    return unk_share(tokenizer, sents)


def _init_path(name: str) -> str:
    from simlab.models.registry import resolve_model

    return resolve_model(name).path_or_id


def prepare_packed(cfg: PretrainConfig, data: Path, tokenizer, max_len: int) -> dict:
    """Stage 3: tokenise and pack train and held-out pieces (``data/{train,heldout}.*.npy``)."""
    from simlab.pretrain.packing import write_packed

    key = _fingerprint([max_len, cfg.wwm, len(tokenizer), tokenizer.convert_ids_to_tokens(list(range(min(200, len(tokenizer))))),
                        json.loads((data / "corpus_stats.json").read_text())["fingerprint"]])
    meta_path = data / "packed.json"
    if meta_path.is_file() and json.loads(meta_path.read_text())["key"] == key:
        return json.loads(meta_path.read_text())
    meta = {"key": key, "max_len": max_len, "wwm": cfg.wwm}
    for split in ("train", "heldout"):
        meta[split] = write_packed(data / split, tokenizer, _lines(data / f"{split}.txt"), max_len, wwm=cfg.wwm)
    atomic_write_json(meta_path, meta)
    return meta


def heldout_set(data: Path, collator, n: int, seed: int) -> list[dict]:
    """The fixed held-out set: the first ``n`` held-out sequences, masked once with a fixed generator."""
    import torch

    from simlab.pretrain.mlm import mask_tokens
    from simlab.pretrain.packing import PackedDataset

    ds = PackedDataset(data / "heldout", limit=n)
    g = torch.Generator().manual_seed(10_000 + seed)
    items = []
    for i in range(len(ds)):
        ids = ds[i]["input_ids"][None]  # (1, T)
        special = torch.isin(ids, collator.special_ids)
        starts = ds[i]["word_starts"][None] if collator.wwm and "word_starts" in ds[i] else None
        while True:  # every held-out sequence carries at least one masked token
            inputs, labels = mask_tokens(ids, special, collator.mask_id, collator.vocab_size, collator.mlm_prob,
                                         starts, generator=g)
            if (labels != -100).any() or special.all():
                break
        items.append({"input_ids": inputs[0], "labels": labels[0]})
    return items


def build_model(cfg: PretrainConfig, tokenizer, preset):
    """A fresh seeded RoFormerForMaskedLM of the preset, or the ``--init`` masked-LM checkpoint."""
    import torch
    from transformers import AutoModelForMaskedLM, RoFormerForMaskedLM

    if cfg.init:
        return AutoModelForMaskedLM.from_pretrained(_init_path(cfg.init))
    torch.manual_seed(cfg.seed)
    return RoFormerForMaskedLM(preset.config(len(tokenizer), tokenizer.pad_token_id))


def save_model_atomically(model, tokenizer, out: Path) -> None:
    """Write the model + tokenizer into a temp folder, then move each file into ``out`` (no half model)."""
    tmp = out / ".final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    save_tokenizer(tokenizer, tmp)
    for f in tmp.iterdir():
        os.replace(f, out / f.name)
    tmp.rmdir()


def pretrain(cfg: PretrainConfig, resume: bool = False, command: str | None = None) -> dict:
    """Run the whole recipe; returns the summary that the model card reports."""
    from simlab.pretrain.card import write_card
    from simlab.pretrain.mlm import MLMCollator, masked_accuracy
    from simlab.train.args import training_args
    from simlab.train.trainer import build_trainer, run

    t_start = time.time()
    preset = get_preset(cfg.preset)
    max_len = cfg.max_len or preset.max_len
    if not 8 <= max_len <= 512:
        raise BadInputError(f"--max-len {max_len}: choose 8..512")
    out = Path(cfg.out) if cfg.out else default_out(cfg.preset)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    cfg_path = out / "simlab_pretrain.json"
    if resume and cfg_path.is_file():
        saved = json.loads(cfg_path.read_text())
        if saved != json.loads(json.dumps(asdict(cfg))):
            raise TrainingError(f"--resume: the settings differ from the run in {out} ({cfg_path}); "
                                "rerun with the same options or choose another --out")
    atomic_write_json(cfg_path, asdict(cfg))

    corpus_stats = prepare_pieces(cfg, data, max_chars=max_len - 2)
    tokenizer = prepare_tokenizer(cfg, out, data)
    coverage = tokenizer_coverage(tokenizer, cfg.data_dir)
    packed = prepare_packed(cfg, data, tokenizer, max_len)

    from simlab.pretrain.packing import PackedDataset

    train_ds = PackedDataset(data / "train")
    collator = MLMCollator(tokenizer, cfg.mlm_prob, cfg.wwm, seed=cfg.seed)
    eval_ds = heldout_set(data, collator, cfg.heldout_max, cfg.seed)
    model = build_model(cfg, tokenizer, preset)
    if not (out / "step0" / "config.json").is_file():  # the study's control: same architecture at step 0
        save_model_atomically_to(model, tokenizer, out / "step0")

    batch = cfg.batch_size or preset.batch_size
    save_steps = cfg.save_steps or preset.save_steps
    args = training_args(
        out / "train", seed=cfg.seed, max_steps=cfg.max_steps or preset.max_steps, batch_size=batch,
        lr=cfg.lr or preset.lr, warmup_ratio=preset.warmup_ratio, weight_decay=0.01, save_steps=save_steps,
        eval_steps=cfg.eval_steps or preset.eval_steps or save_steps, precision=cfg.precision,
        logging_steps=max(1, min(20, save_steps // 5)),
        save_total_limit=None,  # keep every checkpoint: the study scores the model along the run
    )
    trainer = build_trainer(
        model, args, train_ds, eval_ds, data_collator=collator, minutes=cfg.minutes,
        processing_class=tokenizer,  # checkpoints carry the tokenizer: each one loads as a model folder
        compute_metrics=lambda p: masked_accuracy(p.predictions, p.label_ids),
        preprocess_logits_for_metrics=lambda logits, labels: logits.argmax(-1),
    )
    collator.epoch_fn = lambda: int(trainer.state.epoch or 0)  # masks = f(seed, epoch, sequence): resume-exact
    metrics = run(trainer, resume=resume)
    save_model_atomically(trainer.model, tokenizer, out)
    summary = {
        "config": asdict(cfg), "preset": preset.as_dict(), "corpus": corpus_stats, "packed": packed,
        "tokenizer": {"vocab_size": len(tokenizer), "sts_test_coverage": coverage},
        "metrics": metrics, "wall_seconds": round(time.time() - t_start, 1),
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "device": args.device.type, "bf16": bool(args.bf16)},
        "command": command,
    }
    atomic_write_json(out / "simlab_pretrain_summary.json", summary)
    write_card(out, summary)
    return summary


def save_model_atomically_to(model, tokenizer, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_model_atomically(model, tokenizer, folder)
