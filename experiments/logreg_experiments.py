"""Closed-form logistic regression (kexue.fm 8578) against scikit-learn's lbfgs LogisticRegression and LDA.

Part 1: scikit-learn's bundled iris / wine / breast_cancer / digits, stratified 75/25 splits over 10 seeds, and a
small-data regime of 60 training samples. Part 2: e5-small sentence vectors (simlab.encode, pooling last-avg,
prefix "query: ", max_length 128) of the FewCLUE tasks tnews, iflytek, eprstmt: train_few_all → train,
test_public → test; iflytek is also run on a 1,000-sample subset of its train set (the post's 1K regime), and
TNEWS on a larger labelled set (CLUE/TNEWS-unofficial dev+test, minus every sentence of the FewCLUE test).
Only labelled data is used. Every method sits in a Pipeline after StandardScaler (part 2 also runs every method
on the raw vectors, as a user would call it on encoder output); fit time = the smallest
process CPU time over ``--repeats`` fits, BLAS/OpenMP limited to one thread for every method (per split; the
scikit-learn tables show the median over splits).

    python experiments/logreg_experiments.py                      # both parts (encodes ~22k sentences once, cached)
    python experiments/logreg_experiments.py --part sklearn       # part 1 only, no model needed
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from simlab.io import atomic_write_json
from simlab.linear.analytic_logreg import AnalyticLogisticRegression
from simlab.paths import cache_dir, data_dir


def methods() -> dict:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression

    return {
        "analytic": lambda: AnalyticLogisticRegression(),
        "analytic LW": lambda: AnalyticLogisticRegression(shrinkage="ledoit-wolf"),
        "LDA svd": lambda: LinearDiscriminantAnalysis(),
        "LDA lsqr auto": lambda: LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
        "LR lbfgs it100": lambda: LogisticRegression(max_iter=100),  # scikit-learn defaults: lbfgs, C = 1
        "LR lbfgs it1000": lambda: LogisticRegression(max_iter=1000),
    }


def fit_score(make, X_tr, y_tr, X_te, y_te, repeats: int, scale: bool = True) -> dict:
    """Accuracy, log-loss and fit time of StandardScaler + classifier (or the bare classifier if not ``scale``).

    Fit time = the smallest process CPU time over ``repeats`` fits (BLAS limited to one thread by the caller), so
    other jobs on a shared machine inflate it as little as possible.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import log_loss
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    times, converged = [], True
    for _ in range(repeats):
        pipe = make_pipeline(StandardScaler(), make()) if scale else make_pipeline(make())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t = time.process_time()
            pipe.fit(X_tr, y_tr)
            times.append(time.process_time() - t)
        converged &= not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    proba = pipe.predict_proba(X_te)
    known = np.isin(y_te, pipe.classes_)  # log-loss is only defined on test classes seen in training
    ll = log_loss(y_te[known], proba[known], labels=pipe.classes_) if known.any() else float("nan")
    return {"acc": float(np.mean(pipe.predict(X_te) == y_te)), "logloss": float(ll),
            "fit_s": min(times), "converged": bool(converged)}


# ---------------------------------------------------------------------------------------------- part 1


def part_sklearn(args) -> dict:
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    loaders = {"iris": datasets.load_iris, "wine": datasets.load_wine, "breast_cancer": datasets.load_breast_cancer,
               "digits": datasets.load_digits}
    out = {}
    for name, load in loaders.items():
        X, y = load(return_X_y=True)
        for regime in ("75%", "60"):
            rows = {m: [] for m in methods()}
            for seed in range(args.seeds):
                size = 0.75 if regime == "75%" else 60
                X_tr, X_te, y_tr, y_te = train_test_split(X, y, train_size=size, stratify=y, random_state=seed)
                for m, make in methods().items():
                    rows[m].append(fit_score(make, X_tr, y_tr, X_te, y_te, args.repeats))
            out[f"{name} ({regime})"] = {
                m: {"acc": float(np.mean([r["acc"] for r in rs])), "logloss": float(np.mean([r["logloss"] for r in rs])),
                    "fit_s": statistics.median(r["fit_s"] for r in rs), "converged": all(r["converged"] for r in rs),
                    "d": int(X.shape[1]), "n_train": len(X_tr), "classes": int(len(np.unique(y)))}
                for m, rs in rows.items()
            }
            print(f"done {name} ({regime})", flush=True)
    return out


# ---------------------------------------------------------------------------------------------- part 2


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def fewclue_sets(root: Path) -> dict[str, tuple[list[str], list[str], list[str], list[str]]]:
    """name → (train texts, train labels, test texts, test labels)."""
    sets = {}
    for task in ("tnews", "iflytek", "eprstmt"):
        tr, te = _jsonl(root / f"FewCLUE/{task}/train_few_all.json"), _jsonl(root / f"FewCLUE/{task}/test_public.json")
        sets[task] = ([r["sentence"] for r in tr], [str(r["label"]) for r in tr],
                      [r["sentence"] for r in te], [str(r["label"]) for r in te])
    # the post's 1K regime where the train set is larger than 1,000 (only iflytek's, 3,024)
    tr_x, tr_y, te_x, te_y = sets["iflytek"]
    pick = np.sort(np.random.default_rng(0).choice(len(tr_x), 1000, replace=False))
    sets["iflytek-1k"] = ([tr_x[i] for i in pick], [tr_y[i] for i in pick], te_x, te_y)
    # more labelled TNEWS titles (not the official split), with every FewCLUE test sentence removed
    test_sents = set(sets["tnews"][2])
    big = _jsonl(root / "CLUE/TNEWS-unofficial/dev.json") + _jsonl(root / "CLUE/TNEWS-unofficial/test.json")
    seen, bx, by = set(), [], []
    for r in big:
        if r["sentence"] not in test_sents and r["sentence"] not in seen:
            seen.add(r["sentence"])
            bx.append(r["sentence"])
            by.append(str(r["label"]))
    sets["tnews-12k"] = (bx, by, sets["tnews"][2], sets["tnews"][3])
    return sets


def part_fewclue(args) -> dict:
    import torch

    from simlab.encode import load_encoder
    from simlab.encode.cache import VectorCache

    torch.set_num_threads(args.threads)
    enc = load_encoder("e5-small", max_length=args.max_length, prefix="query")
    cache = VectorCache(cache_dir("vectors"))
    memo: dict[str, np.ndarray] = {}

    def embed(texts: list[str]) -> np.ndarray:  # subsets (iflytek-1k) reuse their parent set's vectors
        if not all(t in memo for t in texts):
            vecs = cache.embed(enc, texts, ["last-avg"], max_length=args.max_length)["last-avg"]
            memo.update(zip(texts, vecs))
        return np.stack([memo[t] for t in texts])

    out = {"raw": {}, "standardised": {}}
    sets = fewclue_sets(data_dir(args.data_dir))
    unknown = set(args.sets or ()) - set(sets)
    if unknown:
        raise ValueError(f"unknown --sets {sorted(unknown)}; choose from {sorted(sets)}")
    for name, (tr_x, tr_y, te_x, te_y) in sets.items():
        if args.sets and name not in args.sets:
            continue
        t = time.time()
        X_tr, X_te = embed(tr_x), embed(te_x)
        print(f"{name}: {len(tr_x)} train / {len(te_x)} test vectors ({time.time() - t:.0f} s)", flush=True)
        y_tr, y_te = np.asarray(tr_y), np.asarray(te_y)
        for features, scale in (("raw", False), ("standardised", True)):
            out[features][name] = {
                m: {**fit_score(make, X_tr, y_tr, X_te, y_te, args.repeats, scale), "d": int(X_tr.shape[1]),
                    "n_train": len(tr_x), "classes": int(len(np.unique(y_tr)))}
                for m, make in methods().items()
            }
    return out


# ---------------------------------------------------------------------------------------------- report


def markdown(results: dict) -> str:
    names = list(methods())
    lines = []
    for part, table in results.items():
        if part == "meta":
            continue
        lines.append(f"\n#### {part}: test accuracy % (log-loss) · fit CPU ms\n")
        lines.append("| data (d, K, n_train) | " + " | ".join(names) + " | fit time LR it100 / analytic LW | it1000 / LW |")
        lines.append("|---" * (len(names) + 3) + "|")
        for data, row in table.items():
            any_row = next(iter(row.values()))
            cells = []
            for m in names:
                r = row[m]
                star = "" if r["converged"] else "†"
                cells.append(f"{100 * r['acc']:.2f} ({r['logloss']:.2f}) · {1000 * r['fit_s']:.1f}{star}")
            ratio = row["LR lbfgs it100"]["fit_s"] / row["analytic LW"]["fit_s"]
            ratio2 = row["LR lbfgs it1000"]["fit_s"] / row["analytic LW"]["fit_s"]
            lines.append(f"| {data} ({any_row['d']}, {any_row['classes']}, {any_row['n_train']}) | "
                         + " | ".join(cells) + f" | {ratio:.1f}× | {ratio2:.1f}× |")
    lines.append("\n† lbfgs stopped at max_iter without converging (ConvergenceWarning).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["all", "sklearn", "fewclue"], default="all")
    p.add_argument("--data-dir", default=None, help="data folder (default $SIMLAB_DATA)")
    p.add_argument("--seeds", type=int, default=10, help="random splits per scikit-learn dataset")
    p.add_argument("--repeats", type=int, default=3, help="fits per timing (median)")
    p.add_argument("--threads", type=int, default=1, help="torch threads for encoding")
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--sets", nargs="+", default=None,
                   help="FewCLUE sets to run (default all: tnews iflytek eprstmt iflytek-1k tnews-12k)")
    p.add_argument("--json", default=None, help="results JSON (default cache_dir('logreg')/results_<part>.json)")
    p.add_argument("--report", default=None, metavar="JSON", help="only print the tables of a saved results JSON")
    args = p.parse_args(argv)
    if args.report:
        print(markdown(json.loads(Path(args.report).read_text(encoding="utf-8"))))
        return 0
    if args.seeds < 1 or args.repeats < 1 or args.threads < 1:
        p.error("--seeds, --repeats and --threads must be >= 1")

    from threadpoolctl import threadpool_limits

    results: dict = {"meta": {"command": " ".join(sys.argv), "repeats": args.repeats, "seeds": args.seeds}}
    t0 = time.time()
    with threadpool_limits(limits=1):
        if args.part in ("all", "sklearn"):
            results["scikit-learn datasets"] = part_sklearn(args)
        if args.part in ("all", "fewclue"):
            fewclue = part_fewclue(args)
            results["FewCLUE, raw e5-small last-avg vectors"] = fewclue["raw"]
            results["FewCLUE, standardised e5-small last-avg vectors"] = fewclue["standardised"]
    results["meta"]["seconds"] = time.time() - t0
    path = Path(args.json) if args.json else cache_dir("logreg") / f"results_{args.part}.json"
    atomic_write_json(path, results)
    print(markdown(results))
    print(f"\nresults: {path} ({results['meta']['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
