"""``simlab pretrain``, top to bottom: options -> run folder -> corpus, vocabulary, packed sequences -> RoFormer MLM
-> model + card.

The run folder follows the run contract (:mod:`simlab.train.run`): refused before anything loads when it holds
another run, the ``--init`` model, or someone else's files; on ``--resume`` the settings must match (each differing
one is named) and the newest checksummed checkpoint is used. Every data stage is reused on a rerun with the same
inputs, so ``--resume`` after a kill redoes nothing but the training steps after the last complete checkpoint.
Layout of ``--out``:

    config.json, model.safetensors, tokenizer files, README.md   the final model (AutoModel / load_encoder)
    simlab_run.json   the run record: settings, every invocation (command, machine, wall time), the summary
    data/    pieces (train / held-out), packed sequences, corpus_stats.json
    step0/   the same architecture at step 0 (random init, same tokenizer): the control of the study
    train/   Trainer checkpoints (all kept: ``simlab study --steps`` scores them), metrics.jsonl, curves.png

>>> summary = pretrain(PretrainConfig(preset="zh-tiny", corpus=["my.txt"], out="m"))   # doctest: +SKIP
>>> summary["metrics"]["eval_masked_accuracy"]                                         # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from simlab.config import check_config, settings_of
from simlab.pretrain.config import PretrainConfig, default_out, with_preset
from simlab.pretrain.prepare import DataStages, init_path, prepare_data
from simlab.pretrain.presets import get_preset
from simlab.train.args import precision_of
from simlab.train.vocab import save_tokenizer

KIND = "pretrain"
CHECKPOINT_DIR = "train"


def output_folder(cfg: PretrainConfig) -> Path:
    """``--out``, or the preset's default folder in the simlab cache."""
    return Path(cfg.out).expanduser() if cfg.out else default_out(cfg.preset)


def pretrain(cfg: PretrainConfig) -> dict:
    """Run the whole recipe; returns the summary (also recorded in ``OUT/simlab_run.json``)."""
    from simlab.machine import set_threads
    from simlab.train.trainer import run as train

    check_config(cfg)
    cfg = with_preset(cfg)
    set_threads(cfg.threads)
    run = open_pretrain_run(cfg)
    stages = prepare_data(cfg, run.out / "data")
    trainer = build_mlm_trainer(cfg, run.out, stages)
    metrics = train(trainer, run_folder=run)
    return finish(cfg, run, stages, trainer, metrics)


def open_pretrain_run(cfg: PretrainConfig):
    """The run folder (:func:`simlab.train.run.open_run`): checked, then recorded; nothing written when refused."""
    from simlab.train.run import open_run

    reads = [init_path(cfg.init)] if cfg.init else []
    return open_run(output_folder(cfg), kind=KIND, settings=settings_of(cfg), resume=cfg.resume, reads=reads,
                    checkpoint_dir=CHECKPOINT_DIR)


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


def build_model(cfg: PretrainConfig, tokenizer):
    """A fresh seeded RoFormerForMaskedLM of the preset, or the ``--init`` masked-LM checkpoint."""
    import torch
    from transformers import AutoModelForMaskedLM, RoFormerForMaskedLM

    if cfg.init:
        return AutoModelForMaskedLM.from_pretrained(init_path(cfg.init))
    torch.manual_seed(cfg.seed)
    return RoFormerForMaskedLM(get_preset(cfg.preset).config(len(tokenizer), tokenizer.pad_token_id))


def build_mlm_trainer(cfg: PretrainConfig, out: Path, stages: DataStages):
    """The model (and its ``step0`` copy, the study's control), the collator, the fixed held-out set and the
    ``Trainer`` that trains on ``data/train``; checkpoints carry the tokenizer so each loads as a model folder."""
    from simlab.pretrain.mlm import MLMCollator, masked_accuracy
    from simlab.pretrain.packing import PackedDataset
    from simlab.train.args import training_args
    from simlab.train.trainer import build_trainer

    tokenizer, data = stages.tokenizer, out / "data"
    collator = MLMCollator(tokenizer, cfg.mlm_prob, cfg.wwm, seed=cfg.seed)
    model = build_model(cfg, tokenizer)
    if not (out / "step0" / "config.json").is_file():
        save_model_atomically(model, tokenizer, out / "step0")
    args = training_args(
        out / CHECKPOINT_DIR, seed=cfg.seed, max_steps=cfg.max_steps, batch_size=cfg.batch_size, lr=cfg.lr,
        warmup_ratio=get_preset(cfg.preset).warmup_ratio, weight_decay=0.01, save_steps=cfg.save_steps,
        eval_steps=cfg.eval_steps, precision=cfg.precision, logging_steps=max(1, min(20, cfg.save_steps // 5)),
        save_total_limit=None,  # keep every checkpoint: the study scores the model along the run
    )
    trainer = build_trainer(
        model, args, PackedDataset(data / "train"), heldout_set(data, collator, cfg.heldout_max, cfg.seed),
        data_collator=collator, minutes=cfg.minutes, processing_class=tokenizer,
        compute_metrics=lambda p: masked_accuracy(p.predictions, p.label_ids),
        preprocess_logits_for_metrics=lambda logits, labels: logits.argmax(-1),
    )
    collator.epoch_fn = lambda: int(trainer.state.epoch or 0)  # masks = f(seed, epoch, sequence): resume-exact
    return trainer


def finish(cfg: PretrainConfig, run, stages: DataStages, trainer, metrics: dict) -> dict:
    """Save the final model into ``OUT``, close the run record (checkpoints kept; a run that ``--minutes`` stopped
    before its last step stays open for ``--resume``) and write the model card."""
    from simlab.pretrain.card import INTRO, card_sections

    save_model_atomically(trainer.model, stages.tokenizer, run.out)
    summary = {
        "global_step": metrics.get("global_step"), "tokens_seen": metrics.get("tokens_seen"),
        "train_loss": metrics.get("train_loss"), "precision": precision_of(trainer.args),
        "device": trainer.args.device.type, "config": asdict(cfg),
        "preset": get_preset(cfg.preset).as_dict(), "corpus": stages.corpus, "packed": stages.packed,
        "tokenizer": {"vocab_size": len(stages.tokenizer), "sts_test_coverage": stages.coverage},
        "parameters": sum(p.numel() for p in trainer.model.parameters()), "metrics": metrics,
    }
    stopped_early = summary["global_step"] < cfg.max_steps
    if stopped_early:  # --minutes ran out: the model so far is saved, the run stays open for --resume
        _record_pause(run, summary)
    else:
        run.finish(summary, keep_checkpoints=True)
    run.write_card(run.out.name, INTRO, card_sections(summary))
    return {**summary, "out": str(run.out), "wall_seconds": run.record["invocations"][-1]["wall_seconds"],
            "stopped_early": stopped_early}


def _record_pause(run, summary: dict) -> None:
    """This invocation's wall time and summary in the run record, whose status stays "running"."""
    run.record["invocations"][-1]["wall_seconds"] = round(time.time() - run.t0, 1)
    run.record["summary"] = summary
    run.save()


def save_model_atomically(model, tokenizer, folder: Path) -> None:
    """Write the model + tokenizer into a temp folder, then move each file into ``folder`` (no half model)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / ".final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    save_tokenizer(tokenizer, tmp)
    for f in tmp.iterdir():
        os.replace(f, folder / f.name)
    tmp.rmdir()
