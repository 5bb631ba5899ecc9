"""The unsupervised STS study on a model pretrained here, with its controls, in one table.

Variants scored with the same scorer as ``simlab eval`` (test split, Spearman ×100, whitening fitted on every
sentence of every split): the pretrained model, the same architecture at step 0, checkpoints along the run,
and the bag-of-characters baseline. The findings that count are the gains of pretraining over the controls per
task and pooling, and whether whitening adds on top (kexue.fm/archives/8321; whitening spec §3).

>>> records = run_study("~/.cache/simlab/models/roformer-zh-small")      # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from simlab.errors import MissingFileError

ZH_TASKS = ["ATEC", "BQ", "LCQMC", "PAWSX", "STS-B"]


def checkpoint_folder(model_dir: Path, step: int) -> Path:
    """A loadable folder for ``train/checkpoint-<step>``: its weights + the model's tokenizer (symlinks)."""
    from simlab.paths import cache_dir

    ckpt = model_dir / "train" / f"checkpoint-{step}"
    if not (ckpt / "config.json").is_file():
        raise MissingFileError(f"{ckpt} is not a checkpoint folder")
    if (ckpt / "tokenizer.json").is_file():
        return ckpt
    view = cache_dir("study-views") / f"{model_dir.name}-{abs(hash(str(model_dir.resolve()))) % 10**8}-{step}"
    view.mkdir(parents=True, exist_ok=True)
    for f in list(ckpt.glob("*.json")) + list(ckpt.glob("*.safetensors")):
        _link(f, view / f.name)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (model_dir / name).is_file():
            _link(model_dir / name, view / name)
    return view


def _link(src: Path, dst: Path) -> None:
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    dst.symlink_to(src.resolve())


def available_steps(model_dir: Path) -> list[int]:
    return sorted(int(m.group(1)) for p in (model_dir / "train").glob("checkpoint-*")
                  if (m := re.match(r"checkpoint-(\d+)$", p.name)) and (p / "simlab-complete").is_file())


def _score_encoder(path: str, label: str, tasks, poolings, settings, data_dir, batch_size, progress) -> list[dict]:
    from simlab.encode import load_encoder
    from simlab.encode.cache import cached_embed
    from simlab.evaluate.runner import embed_task, model_info, score_task

    enc = load_encoder(path)
    info = {**model_info(enc), "name": label}
    settings = [s for s in settings if s.k is None or s.k <= enc.dim]  # a 256 cut needs d >= 256
    out = []
    for i, task in enumerate(tasks, 1):
        use = [p for p in poolings if p in enc.poolings]
        tv = embed_task(enc, task, use, data_dir=data_dir, batch_size=batch_size, embed=cached_embed,
                        show_progress_bar=f"{label} {task} ({i}/{len(tasks)})" if progress else False)
        for p in use:
            out += score_task(tv, p, settings, info)
    return out


def _score_boc(tokenizer_dir: str, tasks, settings, data_dir, weighting: str) -> list[dict]:
    from transformers import AutoTokenizer

    from simlab.evaluate.runner import prepare_task, score_task
    from simlab.pretrain.controls import bag_of_chars, boc_model_info

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    out = []
    for task in tasks:
        tv, texts = prepare_task(task, data_dir)
        X = bag_of_chars(texts, tok, weighting)
        tv.vectors = {"counts": X}
        usable = [s for s in settings if s.k is None or s.k <= X.shape[1]]
        out += score_task(tv, "counts", usable, boc_model_info(tokenizer_dir, weighting, X.shape[1]))
    return out


def run_study(model_dir: str | os.PathLike, tasks=None, poolings=None, whiten: str = "none,full,256",
              steps: list[int] | None = None, step_tasks=None, step_poolings=("cls", "first-last-avg"),
              data_dir=None, batch_size: int = 128, progress: bool = True, name: str | None = None) -> list[dict]:
    """Records (eval-shaped) for the model, ``step0``, bag-of-chars (counts, tf-idf) and ``steps`` checkpoints.

    ``name``: the short name the model is loaded by (``roformer-zh-small``), so its vectors share the vector cache
    with ``simlab eval --model NAME --engine torch --precision fp32``."""
    from simlab.encode import POOLINGS
    from simlab.evaluate.settings import parse_whiten

    model_dir = Path(model_dir).expanduser()
    if not (model_dir / "config.json").is_file():
        raise MissingFileError(f"{model_dir} holds no finished model (run `simlab pretrain` first)")
    tasks = list(tasks or ZH_TASKS)
    poolings = list(poolings or POOLINGS)
    settings = parse_whiten(whiten, None)
    records = _score_encoder(name or str(model_dir), "pretrained", tasks, poolings, settings, data_dir, batch_size, progress)
    if (model_dir / "step0" / "config.json").is_file():
        records += _score_encoder(str(model_dir / "step0"), "step 0", tasks, poolings, settings, data_dir,
                                  batch_size, progress)
    for weighting in ("count", "tfidf"):
        records += _score_boc(str(model_dir), tasks, settings, data_dir, weighting)
    for step in steps or []:
        records += _score_encoder(str(checkpoint_folder(model_dir, step)), f"step {step}", list(step_tasks or tasks),
                                  list(step_poolings), settings, data_dir, batch_size, progress)
    return records


def heldout_by_step(model_dir: Path) -> dict[int, float]:
    """Held-out masked accuracy at each evaluation of the run (from ``train/metrics.jsonl``)."""
    path = Path(model_dir) / "train" / "metrics.jsonl"
    if not path.is_file():
        return {}
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return {r["step"]: r["eval_masked_accuracy"] for r in rows if "eval_masked_accuracy" in r}
