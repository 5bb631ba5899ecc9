"""simlab's result records in mteb's results layout (``simlab eval --format mteb``).

    OUT/<model>/<revision>/<Task>.json      one mteb ``TaskResult`` per task: scores.<split>[{main_score,
                                            cosine_spearman, hf_subset, languages, ...}]
    OUT/<model>/<revision>/model_meta.json  mteb's ``ModelMeta`` of that model

as mteb's ``ResultCache(cache_path=P).load_results()`` reads it from ``P/results/`` (so ``--out P/results``), and
as the embeddings-benchmark/results repository lays out its ``results/`` folder. Each (model, pooling, whitening
setting) is one mteb model: ``simlab/<model>-<pooling>[-whiten<k>]``, the name :class:`simlab.export.MtebEncoder`
gives the same model; its revision is the weights hash of the record's model identity.

The files are written with mteb's own ``TaskResult`` and ``ModelMeta`` (mteb is the ``simlab[mteb]`` extra).
``main_score`` = ``cosine_spearman`` = the Spearman of cosines over all the split's pairs, mteb's definition (for
STS12-16 that is simlab's pooled ``all``, not the study's size-weighted ``wmean``, which is kept as
``simlab_wmean``). Split names are mteb's (``valid``/``dev`` -> ``validation``); ``dataset_revision`` says the data
came from the local folder, not from the hub.

>>> mteb_task_name("STS-B"), mteb_split("valid"), model_label({"name": "e5-small"}, "last-avg", None, "none")
('STSB', 'validation', 'simlab/e5-small-last-avg')
"""

from __future__ import annotations

import os
from pathlib import Path

MTEB_TASK_NAMES = {"STS-B": "STSB", "STS22-zh": "STS22"}  # simlab -> mteb; every other name is the same in both
MTEB_SUBSETS = {"STS22-zh": "zh"}  # mteb's hf_subset of the task (default: "default")
MTEB_SPLITS = {"valid": "validation", "dev": "validation"}
LOCAL_REVISION = "local-data-folder"  # dataset_revision: the files of --data-dir, not a hub revision


def mteb_task_name(task: str) -> str:
    return MTEB_TASK_NAMES.get(task, task)


def mteb_split(split: str) -> str:
    return MTEB_SPLITS.get(split, split)


def model_label(model: dict, pooling: str, k: int | None, setting: str) -> str:
    """``simlab/<model>-<pooling>[-whiten<k>[@bβgγ]]``, as :class:`simlab.export.MtebEncoder` names it."""
    label = f"simlab/{model['name'].replace('/', '_')}-{pooling}"
    if k:
        label += f"-whiten{k}" + (setting[setting.index("@"):] if "@" in setting else "")
    return label


def _entry(rec: dict, split: str) -> dict:
    s = rec["scores"][split][0]
    value = float(s.get("all", s["spearman"]))  # one Spearman over every pair of the split: mteb's cosine_spearman
    entry = {"main_score": value, "cosine_spearman": value, "hf_subset": MTEB_SUBSETS.get(rec["task_name"], "default"),
             "languages": s["languages"],
             "n_pairs": s["n_pairs"]}
    if "wmean" in s:
        entry["simlab_wmean"] = float(s["wmean"])
    return entry


def write_mteb_results(records: list[dict], out_dir: str | os.PathLike) -> list[Path]:
    """Write every record as mteb result files under ``out_dir``; returns the task files written.

    >>> write_mteb_results(json.load(open("results/eval/results.json"))["results"], "mteb/results")  # doctest: +SKIP
    """
    import json

    import mteb
    from mteb.models.model_meta import ModelMeta, ScoringFunction
    from mteb.results import TaskResult

    from simlab.io import atomic_write_json

    written: list[Path] = []
    metas: dict[Path, dict] = {}
    for rec in records:
        model, w = rec["model"], rec["whitening"]
        revision = model.get("identity", "").rsplit("@", 1)[-1] or "unknown"
        meta = ModelMeta.create_empty({
            "name": model_label(model, rec["pooling"], w["k"], w["setting"]), "revision": revision,
            "embed_dim": w["k"] or model.get("dim"), "max_tokens": rec["max_length"], "framework": ["PyTorch"],
            "similarity_fn_name": ScoringFunction.COSINE, "use_instructions": bool(rec.get("prefix"))})
        folder = Path(out_dir) / meta.model_name_as_path() / revision
        metas[folder] = json.loads(json.dumps(meta.to_dict(), default=str))
        result = TaskResult(dataset_revision=LOCAL_REVISION, task_name=mteb_task_name(rec["task_name"]),
                            mteb_version=mteb.__version__, evaluation_time=rec.get("evaluation_time"),
                            scores={mteb_split(sp): [_entry(rec, sp)] for sp in rec["scores"]})
        path = folder / f"{result.task_name}.json"
        data = result.model_dump(mode="json")
        data["date"] = None
        atomic_write_json(path, data)
        written.append(path)
    for folder, meta in metas.items():
        atomic_write_json(folder / "model_meta.json", meta)
    return written
