"""Regenerate the tables of docs/finetune.md from stored results (no model is run here).

    .venv/bin/python experiments/finetune_report.py [--write]     # prints; --write replaces the marked block

Inputs (all under docs/results/finetune/):

- ``heldout-base.json``, ``heldout-ft.json``: ``experiments/finetune_eval.py`` of the base model and of the
  fine-tuned folder (test split or a seeded subset of it, plain cosine);
- ``eval-base/results.json``, ``eval-ft/results.json`` (optional): ``simlab eval`` of both (whitening none / full /
  256), for the whitening table;
- ``main-run.json``: the fine-tuned folder's ``simlab_finetune.json`` (counts, steps, time, example cosines);
- ``ablation/<model>-<steps>x<batch>/*.json``: rows of ``experiments/finetune_ablation.py``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "finetune"
DOC = ROOT / "docs" / "finetune.md"
BEGIN, END = "<!-- finetune-report:begin -->", "<!-- finetune-report:end -->"
TASKS = ["ATEC", "BQ", "LCQMC", "PAWSX", "STS-B"]
PUBLISHED = [  # kexue.fm/archives/8541, test split, Spearman ×100; CLS + linear pooler, no whitening
    ("RoFormer-Sim (8541)", "cls+linear pooler", [39.27, 48.31, 72.30, 6.70, 71.75]),
    ("RoFormer-Sim-FT (8541)", "cls+linear pooler", [51.71, 73.48, 79.56, 62.84, 78.28]),
    ("RoFormer-Sim-small (8541)", "cls+linear pooler", [37.08, 46.83, 71.27, 5.8, 71.29]),
    ("RoFormer-Sim-FT-small (8541)", "cls+linear pooler", [51.21, 73.09, 78.88, 56.41, 76.33]),
]


def _fmt(vals: list[float | None]) -> str:
    cells = [f"{v:.2f}" if v is not None else "–" for v in vals]
    done = [v for v in vals if v is not None]
    avg = f"{sum(done) / len(done):.2f}" if len(done) == len(vals) else "–"
    return " | ".join(cells) + f" | **{avg}**"


def eval_scores(folder: Path) -> dict:
    """{(pooling, whitening): {task: ×100}} from a ``simlab eval`` results.json (test split)."""
    path = folder / "results.json"
    if not path.is_file():
        return {}
    out: dict = {}
    for r in json.loads(path.read_text(encoding="utf-8"))["results"]:
        if "test" in r["scores"]:
            out.setdefault((r["pooling"], r["whitening"]["setting"]), {})[r["task_name"]] = \
                100 * r["scores"]["test"][0]["main_score"]
    return out


def heldout_whitening(held: dict) -> dict:
    """The same {(pooling, setting): {task: ×100}} shape from a heldout JSON with ``whitened`` fields
    (``experiments/finetune_eval.py --whiten full,256``: whitening fitted on the scored test subset)."""
    pooling, out = held.get("pooling", "last-avg"), {}
    for task, v in held.get("scores", {}).items():
        if "whitened" not in v:
            continue
        out.setdefault((pooling, "none"), {})[task] = v["spearman"]
        for setting, score in v["whitened"].items():
            if score is not None:
                out.setdefault((pooling, setting), {})[task] = score
    return out


def _load(name: str) -> dict:
    path = RESULTS / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def before_after(base: dict, ft: dict, run: dict) -> list[str]:
    """Rows from the heldout JSONs (``experiments/finetune_eval.py``) next to the published 8541 rows."""
    name = f"e5-small + {run.get('objective', 'sbert')} FT"
    lines = ["| model | pooling | " + " | ".join(TASKS) + " | Avg |", "|---|---|" + "---:|" * (len(TASKS) + 1)]
    for label, res in (("e5-small (before)", base), (name + " (after)", ft)):
        vals = {t: v["spearman"] for t, v in res.get("scores", {}).items()}
        lines.append(f"| {label} | {res.get('pooling', '–')} | " + _fmt([vals.get(t) for t in TASKS]) + " |")
    for label, p, vals in PUBLISHED:
        lines.append(f"| {label} | {p} | " + _fmt(vals) + " |")
    return lines


def whitening_table(base: dict, ft: dict, pooling: str) -> list[str]:
    lines = ["| model | pooling | whitening | " + " | ".join(TASKS) + " | Avg |",
             "|---|---|---|" + "---:|" * (len(TASKS) + 1)]
    for label, scores in (("e5-small (before)", base), ("fine-tuned (after)", ft)):
        for setting, tag in (("none", "a: none"), ("full", "b: full"), ("256", "c: k=256")):
            vals = scores.get((pooling, setting), {})
            lines.append(f"| {label} | {pooling} | {tag} | " + _fmt([vals.get(t) for t in TASKS]) + " |")
    return lines


def examples_table(base_examples: list | None, ft: list | None) -> list[str]:
    ft = ft or []
    lines = ["| text1 | text2 | e5-small (before) | after fine-tuning | RoFormer-Sim-FT (8541) |",
             "|---|---|---:|---:|---:|"]
    base = {(a, b): c for a, b, c, _ in base_examples or []}
    for a, b, c, p in ft:
        before = f"{base[(a, b)]:.4f}" if (a, b) in base else "–"
        lines.append(f"| {a} | {b} | {before} | {c:.4f} | {p:.4f} |")
    return lines


def ablation_tables() -> list[str]:
    out = []
    for folder in sorted((RESULTS / "ablation").glob("*")):
        rows = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
        if not rows:
            continue
        order = {"base": -1}
        rows.sort(key=lambda r: (order.get(r["row"], 0), r.get("data", "") != "binary+nli", r.get("distill", False),
                                 ["sbert", "cosent", "cos-a", "cos-b", "cos-c"].index(r["objective"])
                                 if r.get("objective") else -1))
        limit = rows[0].get("eval_limit")
        trained = next((r for r in rows if r["row"] != "base"), {})
        out += [f"**{folder.name}** — {trained.get('steps', '?')} steps × {trained.get('batch_size', '?')} pairs per "
                f"row (short budget: every row below is a short run), pooling {rows[0]['pooling']}, "
                f"token embeddings {'frozen' if trained.get('freeze_embeddings') else 'trained'}; Spearman ×100 on "
                f"a seeded random {limit} test pairs per task (STS-B and PAWSX: all, when smaller).", "",
                "| objective | NLI | distill | " + " | ".join(TASKS) + " | Avg | cos(我喜欢北京, 我不喜欢北京) | "
                "cos(我喜欢北京, 我很喜欢北京) | train s |",
                "|---|---|---|" + "---:|" * (len(TASKS) + 4)]
        for r in rows:
            ex = {(a, b): c for a, b, c, _ in r["examples"]}
            neg, pos = ex[("我喜欢北京", "我不喜欢北京")], ex[("我喜欢北京", "我很喜欢北京")]
            vals = [r["scores"][t]["spearman"] if t in r["scores"] else None for t in TASKS]
            if r["row"] == "base":
                head = "— (no fine-tuning) | – | –"
            else:
                head = f"{r['objective']} | {'yes' if 'nli' in r['data'] else 'no'} | {'yes' if r['distill'] else 'no'}"
            lines = f"| {head} | " + _fmt(vals) + f" | {neg:.4f} | {pos:.4f} | {r.get('train_seconds', '–')} |"
            out.append(lines)
        out.append("")
    return out or ["(no ablation rows yet: run experiments/finetune_ablation.py)"]


def render() -> str:
    base, ft = eval_scores(RESULTS / "eval-base"), eval_scores(RESULTS / "eval-ft")
    run = _load("main-run.json")
    held_base, held_ft = _load("heldout-base.json"), _load("heldout-ft.json")
    fit_note = "fitted on all splits of each task (`simlab eval`)"
    if not (base or ft):  # the cheap path: whitening fitted on the scored test subset itself
        base, ft = heldout_whitening(held_base), heldout_whitening(held_ft)
        fit_note = "fitted on the scored test sentences themselves (fit-on-test, on the same subset as above)"
    t = run.get("training", {})
    limit = held_ft.get("limit") or held_base.get("limit")
    subset = (f"a seeded random {limit} test pairs per task (all of PAWSX's 2,000 and STS-B's 1,361)" if limit
              else "every test pair")
    parts = [BEGIN, "",
             "### Before / after (test split, Spearman ×100, plain cosine, no whitening)", "",
             f"Scored on {subset}; the 8541 rows are the published full-test numbers of RoFormer-Sim.", "",
             f"Fine-tuned run: objective {run.get('objective')}, data {', '.join(run.get('data', []))}, "
             f"{t.get('global_step')} steps × {t.get('batch_size')} pairs ({t.get('pairs_seen')} pairs), "
             f"{t.get('wall_seconds')} s wall on {run.get('machine', {}).get('cores')} shared CPU cores, token "
             f"embeddings {'frozen' if run.get('freeze_embeddings') else 'trained'}.", "",
             *before_after(held_base, held_ft, run), "",
             "### The ten example pairs of 8541 (cosine, pooling " + run.get("pooling", "last-avg") + ")", "",
             *examples_table(held_base.get("examples"), held_ft.get("examples") or run.get("examples")), "",
             f"### Whitening after fine-tuning (a / b / c = none / full / k = 256; {fit_note})",
             "", *(whitening_table(base, ft, run.get("pooling", "last-avg")) if base or ft else
                   ["(not run: `simlab eval` of both models did not fit in the CPU time this machine gave; see "
                    "below)"]), "",
             "### Ablation", "", *ablation_tables(), END]
    return "\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"replace the block between the markers in {DOC}")
    args = ap.parse_args()
    block = render()
    if not args.write:
        print(block)
        return
    text = DOC.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC} lacks the markers {BEGIN} / {END}")
    head, rest = text.split(BEGIN, 1)
    from simlab.io import atomic_write_text

    atomic_write_text(DOC, head + block + rest.split(END, 1)[1])
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
