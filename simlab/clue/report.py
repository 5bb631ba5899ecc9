"""``simlab clue table RUNS...``: the dev scores of finished runs as markdown, next to the published anchors.

Anchors (spec clue_sim.md §1.5-1.7 and the issue; ×100). **Split matters**: CLUE leaderboard numbers are on the
hidden *test* sets; only the GAU-α post (kexue.fm/archives/9052) and the official per-task tables report *dev*.
The GAU-α CMRC2018 column is 8739's strict span match, not the official EM. FewCLUE anchors are the fine-tuning and PET
rows of the FewCLUE repository (test set), to read against a run's ``test_public`` column.

>>> rows = anchor_rows()
>>> rows[0]["split"], rows[0]["scores"]["afqmc"]
('test', 69.92)
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from simlab.errors import DataError, SimlabError

COLUMNS = ("afqmc", "tnews", "iflytek", "cmnli", "ocnli", "cluewsc2020", "csl", "cmrc2018", "c3", "chid", "cluener")

ANCHORS = (
    ("ALBERT-tiny, 4M params (CLUE baseline)", "test",
     {"afqmc": 69.92, "tnews": 53.35, "iflytek": 48.71, "cmnli": 70.61}),
    ("RoBERTa-tiny-clue, 7.5M params (CLUE baseline)", "test",
     {"afqmc": 69.52, "tnews": 54.57, "iflytek": 57.31, "cmnli": 73.10}),
    ("BERT-base, 8739 code (8739 / 8998)", "test",
     dict(zip(COLUMNS, (73.37, 56.29, 61.19, 79.37, 71.73, 73.85, 84.03, 72.10, 61.33, 85.13, 78.68)))),
    ("RoBERTa-wwm-ext base, 8739 code (8739 / 8998)", "test",
     dict(zip(COLUMNS, (73.61, 58.35, 61.12, 80.81, 74.27, 82.28, 85.33, 75.40, 67.11, 86.04, 79.38)))),
    ("BERT-base, 8739-style code (GAU-α post 9052)", "dev",
     dict(zip(COLUMNS, (72.41, 56.80, 60.06, 79.56, 73.93, 78.62, 83.93, 56.17, 60.54, 85.69, 79.45)))),
    ("RoBERTa-wwm-ext base, 8739-style code (9052)", "dev",
     dict(zip(COLUMNS, (74.05, 58.06, 60.64, 81.24, 76.00, 87.50, 84.50, 56.54, 67.66, 86.71, 79.47)))),
    ("BERT-base, official CLUE recipe (CLUE README)", "dev",
     {"afqmc": 74.16, "tnews": 56.09, "iflytek": 60.37, "cmnli": 79.47, "cluewsc2020": 59.6, "csl": 79.63,
      "cmrc2018": 64.77, "chid": 82.20, "c3": 65.70}),
    ("RoBERTa-wwm-ext, official CLUE recipe (CLUE README)", "dev",
     {"afqmc": 74.30, "tnews": 57.51, "iflytek": 60.8, "cmnli": 80.70, "cluewsc2020": 67.2, "csl": 80.67,
      "cmrc2018": 67.89, "chid": 83.78, "c3": 67.06}),
)


FEW_COLUMNS = ("eprstmt", "bustm", "ocnli", "tnews", "cluewsc", "iflytek", "csl")

# FewCLUE fine-tuning baselines (CLUEbenchmark/FewCLUE, baselines/models_pytorch/lm-bff/README.md; the FewCLUE test
# set, whose labelled public part is test_public); chance is 50 for the 2-class tasks and 33 for OCNLI.
FEW_ANCHORS = (
    ("FineTuning, BERT (FewCLUE repo)", "test", dict(zip(FEW_COLUMNS, (61.9, 54.1, 33.6, 40.5, 50.3, 22.6, 50.5)))),
    ("FineTuning, RoBERTa (FewCLUE repo)", "test", dict(zip(FEW_COLUMNS, (63.2, 55.5, 33.5, 49.3, 49.6, 32.8, 50.0)))),
    ("PET (FewCLUE repo)", "test", dict(zip(FEW_COLUMNS, (87.2, 64.0, 43.9, 53.7, 59.2, 35.1, 55.0)))),
)


def anchor_rows() -> list[dict]:
    return [{"name": n, "split": s, "scores": dict(v)} for n, s, v in ANCHORS]


def _pct(x) -> str:
    return "" if x is None else f"{100 * x:.2f}" if x <= 1.0 else f"{x:.2f}"


def majority_accuracy(s: dict) -> float | None:
    """Dev accuracy of always answering the commonest label of the run's training file: the floor a classifier
    must beat (AFQMC's dev is 69% one class). None for span, NER and multiple-choice tasks, and when the run's
    recorded files can no longer be read (the table then shows ``n/a``).

    >>> majority_accuracy({"task": "cmrc2018"}) is None
    True
    """
    from simlab.clue.common import limit_examples
    from simlab.clue.tasks import get_task

    if not _is_classify(s["task"]):
        return None
    task = get_task(s["task"])
    try:
        train, dev = ([e.label for e in limit_examples(task.read([Path(f) for f in s["files"][split]], split).examples,
                                                       s.get("limit"))] for split in ("train", "dev"))
    except (KeyError, OSError, SimlabError):
        return None
    if not train or not dev:
        return None
    top = Counter(train).most_common(1)[0][0]
    return sum(y == top for y in dev) / len(dev)


def run_row(run_dir: str | Path) -> dict:
    """What the table shows of one finished run (``metrics.json``); a damaged summary is one error line."""
    from simlab.clue.common import read_summary

    s = read_summary(run_dir)
    try:
        return _row(s)
    except (KeyError, TypeError, AttributeError, ValueError, SimlabError) as e:
        raise DataError(f"{Path(run_dir) / 'metrics.json'}: not the summary `simlab clue run` writes "
                        f"({type(e).__name__}: {e})") from None


def _row(s: dict) -> dict:
    dev = s["dev"]
    main = dev.get(s["metric"])
    extra = ""
    if s["task"] == "cmrc2018":
        extra = f"EM {dev.get('em', 0):.2f} / F1 {dev.get('f1', 0):.2f}"
    tp = s.get("test", {}).get("test_public", {})
    length = f"{s['max_steps']} steps" if s.get("max_steps") else f"{s['epochs']:g} ep"
    recipe = ""
    if s.get("recipe"):
        head = f", head {s['head_lr_ratio']:g}x" if s.get("head_lr_ratio") else ""
        recipe = f"{s['recipe']} lr {s['lr']:g}{head}, "
    setting = recipe + f"{length}, len {s['max_length']}, bs {s['batch_size']}x{s['grad_accum']}"
    if s.get("pooling") not in (None, "cls"):  # 8739's feature is the raw [CLS]; say when a run used another
        setting += f", pooling {s['pooling']}"
    train = s["counts"]["train"]
    if s.get("limit"):
        setting += f", --limit {s['limit']}"
    elif s.get("train_limit"):
        setting += f", train {train} of {s['counts'].get('train_available', train)}"
    return {"task": s["task"], "model": s["model"], "metric": s["metric"], "dev": main, "extra": extra,
            "test_public": tp.get(s["metric"]), "setting": setting, "train": train, "dev_n": s["counts"]["dev"],
            "best_epoch": s.get("best_epoch"), "minutes": s.get("wall_seconds", 0) / 60,
            "majority": majority_accuracy(s), "classify": _is_classify(s["task"])}


def _is_classify(name: str) -> bool:
    from simlab.clue.tasks import get_task

    return get_task(name).kind == "classify"


def results_table(run_dirs: list[str | Path]) -> str:
    """Markdown: one row per run (with the majority-class floor on dev for classification), then the anchors."""
    lines = ["| task | model | setting | train / dev n | dev metric | dev | majority class | FewCLUE test_public | "
             "best epoch | min |", "|---|---|---|---|---|---|---|---|---|---|"]
    for d in run_dirs:
        r = run_row(d)
        metric = r["metric"] + (f" ({r['extra']})" if r["extra"] else "")
        floor = _pct(r["majority"]) if r["majority"] is not None else ("n/a" if r["classify"] else "")
        lines.append(f"| {r['task']} | {r['model']} | {r['setting']} | {r['train']} / {r['dev_n']} | {metric} | "
                     f"{_pct(r['dev'])} | {floor} | {_pct(r['test_public'])} | {r['best_epoch']} | {r['minutes']:.0f} |")
    lines += ["", "| anchor | split | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---|" * len(COLUMNS)]
    for a in anchor_rows():
        cells = " | ".join(f"{a['scores'][c]:.2f}" if c in a["scores"] else "" for c in COLUMNS)
        lines.append(f"| {a['name']} | **{a['split']}** | {cells} |")
    lines += ["", "| FewCLUE anchor | split | " + " | ".join(FEW_COLUMNS) + " |",
              "|---|---|" + "---|" * len(FEW_COLUMNS)]
    for name, split, scores in FEW_ANCHORS:
        lines.append(f"| {name} | **{split}** | " + " | ".join(f"{scores[c]:.2f}" for c in FEW_COLUMNS) + " |")
    return "\n".join(lines) + "\n"
