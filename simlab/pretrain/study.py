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
from dataclasses import dataclass
from pathlib import Path

from simlab.config import bounded
from simlab.errors import BadInputError, MissingFileError

ZH_TASKS = ["ATEC", "BQ", "LCQMC", "PAWSX", "STS-B"]


@dataclass
class StudyConfig:
    """The options of ``simlab study`` (comma lists stay strings; :meth:`check` parses each once, before any model
    loads).

    >>> from simlab.config import check_config
    >>> check_config(StudyConfig(steps="abc"))
    Traceback (most recent call last):
    ...
    simlab.errors.BadInputError: --steps 'abc': give checkpoint steps as a comma list of whole numbers ≥ 1 (e.g. 100,200) or all
    """

    model: str = "roformer-zh-small"
    tasks: str = "zh"
    pooling: str = "all"
    whiten: str = "none,full,256"
    steps: str = ""
    step_tasks: str | None = None
    step_pooling: str = "cls,first-last-avg"
    batch_size: int = bounded(128, ge=1)
    threads: int | None = bounded(None, ge=1)
    data_dir: str | None = None
    out: str = "results/study"
    no_progress: bool = False

    def check(self) -> None:
        from simlab.data import resolve_tasks
        from simlab.evaluate.settings import parse_whiten

        resolve_tasks(self.tasks)
        if self.step_tasks is not None:
            resolve_tasks(self.step_tasks)
        parse_poolings(self.pooling, "--pooling")
        parse_poolings(self.step_pooling, "--step-pooling", allow_all=False)
        parse_whiten(self.whiten, None)
        parse_steps(self.steps)
        if not self.out.strip():
            raise BadInputError("--out must not be empty")


def parse_steps(spec: str) -> list[int] | str:
    """``"all"``, or the checkpoint steps of a comma list (``""``: none).

    >>> parse_steps("200, 100,200"), parse_steps(""), parse_steps("all")
    ([100, 200], [], 'all')
    """
    if spec.strip().lower() == "all":
        return "all"
    items = [x.strip() for x in spec.split(",") if x.strip()]
    if not all(x.isdigit() and int(x) >= 1 for x in items):
        raise BadInputError(f"--steps {spec!r}: give checkpoint steps as a comma list of whole numbers ≥ 1 "
                            "(e.g. 100,200) or all")
    return sorted({int(x) for x in items})


def parse_poolings(spec: str, flag: str, allow_all: bool = True) -> list[str] | None:
    """The poolings of a comma list (None for ``all``: every pooling the model supports); unknown names refused.

    >>> parse_poolings("cls, last-avg", "--pooling"), parse_poolings("all", "--pooling")
    (['cls', 'last-avg'], None)
    """
    from simlab.encode.pooling import POOLINGS

    if allow_all and spec.strip().lower() == "all":
        return None
    items = [x.strip() for x in spec.split(",") if x.strip()]
    bad = [x for x in items if x not in POOLINGS]
    if bad or not items:
        raise BadInputError(f"{flag} {spec!r}: choose from {', '.join(POOLINGS)}" + (" or all" if allow_all else ""))
    return list(dict.fromkeys(items))


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
    """The steps of the complete checkpoints under ``model_dir/train`` (``simlab.train.checkpoint``'s marker; that
    module imports transformers, which a missing ``--steps`` should not wait 5 s for)."""
    return sorted(int(m.group(1)) for p in (Path(model_dir) / "train").glob("checkpoint-*")
                  if (m := re.match(r"checkpoint-(\d+)$", p.name)) and (p / "simlab-complete").is_file())


def study_steps(model_dir: Path, spec: str) -> list[int]:
    """The steps ``--steps`` asks for, each checked to be a complete checkpoint of ``model_dir`` (before any model
    loads: a missing one is one error line listing those that exist)."""
    have = available_steps(model_dir)
    want = parse_steps(spec)
    if want == "all":
        return have
    missing = [s for s in want if s not in have]
    if missing:
        raise MissingFileError(f"--steps: {model_dir}/train holds no complete checkpoint at step "
                               f"{', '.join(map(str, missing))} (complete: {', '.join(map(str, have)) or 'none'})")
    return want


def _score_encoder(path: str, label: str, tasks, poolings, settings, data_dir, batch_size, progress,
                   flag: str = "--pooling") -> list[dict]:
    """Records of one encoder; ``poolings`` None = all it supports, else each must be supported (never dropped)."""
    from simlab.encode import load_encoder
    from simlab.encode.cache import cached_embed
    from simlab.encode.pooling import POOLINGS
    from simlab.evaluate.runner import embed_task, score_task

    enc = load_encoder(path)
    info = {**enc.info(), "name": label}
    settings = [s for s in settings if s.k is None or s.k <= enc.dim]  # a 256 cut needs d >= 256
    if poolings is None:  # "all": every pooling this model supports
        use = [p for p in POOLINGS if p in enc.poolings]
    elif missing := [p for p in poolings if p not in enc.poolings]:
        raise BadInputError(f"{flag} {','.join(missing)}: {label} ({path}) does not support it "
                            f"(it supports {', '.join(enc.poolings)})")
    else:
        use = list(poolings)
    out = []
    for i, task in enumerate(tasks, 1):
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
    from simlab.evaluate.settings import parse_whiten

    model_dir = Path(model_dir).expanduser()
    if not (model_dir / "config.json").is_file():
        raise MissingFileError(f"{model_dir} holds no finished model (run `simlab pretrain` first)")
    views = {step: checkpoint_folder(model_dir, step) for step in steps or []}  # all checked before any scoring
    tasks = list(tasks or ZH_TASKS)
    poolings = None if poolings is None else list(poolings)
    settings = parse_whiten(whiten, None)
    records = _score_encoder(name or str(model_dir), "pretrained", tasks, poolings, settings, data_dir, batch_size, progress)
    if (model_dir / "step0" / "config.json").is_file():
        records += _score_encoder(str(model_dir / "step0"), "step 0", tasks, poolings, settings, data_dir,
                                  batch_size, progress)
    for weighting in ("count", "tfidf"):
        records += _score_boc(str(model_dir), tasks, settings, data_dir, weighting)
    for step, view in views.items():
        records += _score_encoder(str(view), f"step {step}", list(step_tasks or tasks), list(step_poolings),
                                  settings, data_dir, batch_size, progress, flag="--step-pooling")
    return records


def heldout_by_step(model_dir: Path) -> dict[int, float]:
    """Held-out masked accuracy at each evaluation of the run (from ``train/metrics.jsonl``)."""
    path = Path(model_dir) / "train" / "metrics.jsonl"
    if not path.is_file():
        return {}
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return {r["step"]: r["eval_masked_accuracy"] for r in rows if "eval_masked_accuracy" in r}
