"""Put n > 8.33 ln N (kexue.fm 7695/8711) to the test: skip-gram word vectors on Chinese text, many N and n.

For each vocabulary size N (the top-N words) and dimension n we train gensim skip-gram with hierarchical softmax
(sg=1, hs=1, negative=0) and score the held-out log-likelihood per (centre, context) pair of the same model —
ln p(w_centre | w_context) along the Huffman path, computed exactly in numpy (gensim's own ``score`` skips
saturated terms and uses a lookup table). For each N, n* = the smallest n whose held-out log-likelihood is within
δ (relative, default 1%) of the best n; then n* = a·ln N + b is fitted and compared with 8.33·ln N.

Corpus (MANIFEST §2.4, no evaluation splits): AFQMC train, TNEWS/EPRSTMT/BUSTM unlabeled, STS-B train, CMNLI
dev+test; unique sentences, 10% held out by sentence; jieba words (characters if jieba is missing or
``--tokenizer char``); punctuation tokens dropped.

    python experiments/dims_word2vec.py                    # full run (~15-20 min on 2 cores), writes docs/dims.png
    python experiments/dims_word2vec.py --tiny             # < 30 s smoke run
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import random
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np

from simlab.io import atomic_write_json
from simlab.paths import cache_dir, data_dir

FULL_N = [500, 2000, 8000, 32000]
FULL_DIMS = [8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
TINY_N = [100, 400]
TINY_DIMS = [4, 8, 16, 32]


# ---------------------------------------------------------------------------------------------- corpus


def load_sentences(root: Path) -> list[str]:
    """Unique Chinese sentences from the training-only sources of MANIFEST §2.4, sorted."""
    sents: list[str] = []
    for line in (root / "CLUE/AFQMC/train.txt").open(encoding="utf-8"):
        sents += line.rstrip("\n").split("\t")[:2]
    for task in ("tnews", "eprstmt", "bustm"):
        for line in (root / f"FewCLUE/{task}/unlabeled.json").open(encoding="utf-8"):
            if line.strip():
                obj = json.loads(line)
                sents += [obj[k] for k in ("sentence", "sentence1", "sentence2") if k in obj]
    for line in (root / "STS-B/STS-B.train.data").open(encoding="utf-8"):
        sents += line.rstrip("\n").split("\t")[:2]
    for split in ("dev", "test"):
        for line in (root / f"CLUE/CMNLI/{split}.txt").open(encoding="utf-8"):
            sents += line.rstrip("\n").split("\t")[:2]
    return sorted({s.strip() for s in sents if s.strip()})


def _is_word(token: str) -> bool:
    return bool(token.strip()) and not all(unicodedata.category(ch)[0] in "PZ" for ch in token)


def tokenize(sents: list[str], tokenizer: str) -> list[list[str]]:
    if tokenizer == "jieba":
        import jieba

        jieba.setLogLevel(logging.WARNING)
        return [[w for w in jieba.lcut(s) if _is_word(w)] for s in sents]
    return [[ch for ch in s if _is_word(ch)] for s in sents]


def load_corpus(root: Path, tokenizer: str, limit: int | None) -> list[list[str]]:
    """Tokenised sentences, cached under cache_dir("words") (tokenising with jieba takes ~15 s)."""
    sents = load_sentences(root)
    random.Random(0).shuffle(sents)
    if limit:
        sents = sents[:limit]
    key = hashlib.sha1(("\n".join(sents) + tokenizer).encode()).hexdigest()[:16]
    path = cache_dir("words") / f"corpus_{tokenizer}_{key}.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    toks = tokenize(sents, tokenizer)
    atomic_write_json(path, toks)
    return toks


# ---------------------------------------------------------------------------------------------- scoring


def heldout_pairs(sents: list[list[str]], vocab: dict[str, int], window: int, max_pairs: int, seed: int) -> np.ndarray:
    """(centre, context) index pairs within ``window`` after dropping out-of-vocabulary words, subsampled."""
    pairs = []
    for s in sents:
        idx = [vocab[w] for w in s if w in vocab]
        for i, wi in enumerate(idx):
            for j in range(max(0, i - window), min(len(idx), i + window + 1)):
                if j != i:
                    pairs.append((wi, idx[j]))
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) > max_pairs:
        pairs = pairs[np.random.default_rng(seed).choice(len(pairs), max_pairs, replace=False)]
    return pairs


def hs_loglik(model, pairs: np.ndarray, chunk: int = 4096) -> float:
    """Mean ln p(centre | context) = Σ_b ln σ((1 − 2 code_b) ⟨v_context, u_point_b⟩) over the Huffman path."""
    codes, points = model.wv.expandos["code"], model.wv.expandos["point"]
    L = max(len(c) for c in codes)
    P = np.zeros((len(codes), L), dtype=np.int64)
    S = np.zeros((len(codes), L), dtype=np.float32)  # ±1 on the path, 0 = padding
    for k, (c, p) in enumerate(zip(codes, points)):
        P[k, : len(p)] = p
        S[k, : len(c)] = 1.0 - 2.0 * c.astype(np.float32)
    syn0, syn1 = model.wv.vectors, model.syn1
    total = 0.0
    for start in range(0, len(pairs), chunk):
        centre, context = pairs[start : start + chunk, 0], pairs[start : start + chunk, 1]
        v = syn0[context][:, None, :]  # (M, 1, n)
        u = syn1[P[centre]]  # (M, L, n)
        f = (v @ u.transpose(0, 2, 1))[:, 0, :] * S[centre]  # (M, L)
        total += float((-np.logaddexp(0.0, -f.astype(np.float64)) * (S[centre] != 0)).sum())
    return total / len(pairs)


# ---------------------------------------------------------------------------------------------- analysis


def unigram_loglik(pairs: np.ndarray, counts: np.ndarray) -> float:
    """Mean ln p(centre) under training word frequencies: the n = 0 reference (no context used)."""
    return float(np.log(counts[pairs[:, 0]] / counts.sum()).mean())


def smallest_within(dims: list[int], scores: list[float], delta: float, baseline: float | None = None) -> int:
    """Smallest n whose score is within δ of the best (scores: higher is better).

    baseline None: within δ·|best| of the best score (relative to the log-likelihood itself).
    baseline given: reaching (1 − δ) of the best gain over ``baseline`` (relative to what n can buy).
    """
    best = max(scores)
    tol = delta * abs(best) if baseline is None else delta * max(best - baseline, 0.0)
    return min(n for n, s in zip(dims, scores) if s >= best - tol)


def gain_share_at(run: dict, n: float) -> float:
    """Share of the best held-out gain over unigram reached at dimension n (interpolated in ln n)."""
    ll, base = np.asarray(run["loglik"]), run["unigram_loglik"]
    share = (ll - base) / (ll.max() - base)
    return float(np.interp(math.log(n), np.log(run["dims"]), share))


def fit_line(Ns: list[int], nstar: list[int]) -> dict[str, float]:
    x = np.log(np.asarray(Ns, dtype=np.float64))
    y = np.asarray(nstar, dtype=np.float64)
    a, b = np.polyfit(x, y, 1) if len(set(Ns)) > 1 else (float("nan"), float("nan"))
    return {"a": float(a), "b": float(b), "a_through_origin": float((x @ y) / (x @ x))}


def plot(results: dict, out: Path) -> None:
    """Left: share of the best gain over unigram vs n (★ n*_gain, ◆ n*), dashed 8.33 ln N. Right: n* vs ln N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11.5, 4.4))
    Ns = [r["N"] for r in results["runs"]]
    for k, r in enumerate(results["runs"]):
        color = f"C{k}"
        ll, base = np.asarray(r["loglik"]), r["unigram_loglik"]
        share = (ll - base) / (ll.max() - base)
        ax1.plot(r["dims"], share, "o-", color=color, ms=3, label=f"N = {r['N']:,}")
        ax1.axvline(8.33 * math.log(r["N"]), color=color, ls="--", lw=0.8)
        ax1.plot([r["n_star_gain"]], [share[r["dims"].index(r["n_star_gain"])]], "*", color=color, ms=13)
        ax1.plot([r["n_star"]], [share[r["dims"].index(r["n_star"])]], "D", color=color, ms=6, mfc="none")
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("dimension n")
    ax1.set_ylabel("held-out log-lik gain over unigram / best gain")
    d = results["delta"]
    ax1.set_title(f"skip-gram HS: ★ n*_gain ({1 - d:.0%} of gain), ◇ n* (loglik within {d:.0%}); -- 8.33 ln N", fontsize=9)
    ax1.legend(fontsize=8)
    lo, hi = min(math.log(N) for N in Ns) - 0.3, max(math.log(N) for N in Ns) + 0.3
    x = np.linspace(lo, hi, 50)
    lnN = [math.log(N) for N in Ns]
    for key, fkey, marker, color, label in [("n_star_gain", "fit_gain", "*", "k", "n*_gain"), ("n_star", "fit", "D", "C7", "n*")]:
        f = results[fkey]
        ax2.plot(lnN, [r[key] for r in results["runs"]], marker, color=color, ms=9 if marker == "*" else 6,
                 label=f"{label}: fit {f['a']:.2f} ln N {f['b']:+.1f}")
        if np.isfinite(f["a"]):
            ax2.plot(x, f["a"] * x + f["b"], "-", color=color, lw=1)
    ax2.plot(x, 8.33 * x, "r--", lw=1, label="8.33 ln N")
    ax2.set_xlabel("ln N")
    ax2.set_ylabel("n*")
    ax2.legend(fontsize=8)
    ax2.set_title("n* against ln N", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- main


def run(args) -> dict:
    from gensim.models import Word2Vec

    tokenizer = args.tokenizer
    if tokenizer == "auto":
        try:
            import jieba  # noqa: F401

            tokenizer = "jieba"
        except ModuleNotFoundError:
            tokenizer = "char"
            print("jieba is not installed: tokenising by characters", file=sys.stderr)
    Ns = args.N or (TINY_N if args.tiny else FULL_N)
    dims = args.dims or (TINY_DIMS if args.tiny else FULL_DIMS)
    epochs = args.epochs or (1 if args.tiny else 3)
    t0 = time.time()
    corpus = load_corpus(data_dir(args.data_dir), tokenizer, 3000 if args.tiny else None)
    n_held = max(1, len(corpus) // 10)
    held, train = corpus[:n_held], corpus[n_held:]
    counts: dict[str, int] = {}
    for s in train:
        for w in s:
            counts[w] = counts.get(w, 0) + 1
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    if max(Ns) > len(ranked):
        raise ValueError(f"N = {max(Ns)} exceeds the {len(ranked)} distinct training words ({tokenizer} tokens)")
    print(f"corpus: {len(train)} train / {len(held)} held-out sentences, {sum(counts.values()):,} tokens, "
          f"{len(ranked):,} distinct {tokenizer} tokens ({time.time() - t0:.1f} s)", flush=True)

    runs = []
    for N in Ns:
        keep = set(ranked[:N])
        train_N = [[w for w in s if w in keep] for s in train]
        train_N = [s for s in train_N if len(s) > 1]
        scores, secs = [], []
        pairs = None
        for n in dims:
            t = time.time()
            model = Word2Vec(train_N, vector_size=n, sg=1, hs=1, negative=0, window=args.window, min_count=1,
                             sample=1e-3, epochs=epochs, workers=args.workers, seed=args.seed)
            if pairs is None:  # same held-out pairs for every n of this N
                pairs = heldout_pairs(held, model.wv.key_to_index, args.window, args.max_pairs, args.seed)
                base = unigram_loglik(pairs, np.array([model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key]))
            scores.append(hs_loglik(model, pairs))
            secs.append(time.time() - t)
            print(f"N={N:>6} n={n:>4}  held-out loglik/pair {scores[-1]:.4f}  ({secs[-1]:.1f} s)", flush=True)
        runs.append({
            "N": N, "dims": list(dims), "loglik": scores, "seconds": secs, "heldout_pairs": int(len(pairs)),
            "train_tokens": int(sum(map(len, train_N))),
            "unigram_loglik": base,
            "n_star": smallest_within(dims, scores, args.delta),
            "n_star_by_delta": {str(d): smallest_within(dims, scores, d) for d in (0.005, 0.01, 0.02)},
            "n_star_gain": smallest_within(dims, scores, args.delta, base),
            "n_star_gain_by_delta": {str(d): smallest_within(dims, scores, d, base) for d in (0.005, 0.01, 0.02, 0.05)},
            "n_8.33": 8.33 * math.log(N),
        })
    results = {
        "tokenizer": tokenizer, "epochs": epochs, "window": args.window, "delta": args.delta, "workers": args.workers,
        "runs": runs, "fit": fit_line(Ns, [r["n_star"] for r in runs]),
        "fit_by_delta": {d: fit_line(Ns, [r["n_star_by_delta"][d] for r in runs]) for d in ("0.005", "0.01", "0.02")},
        "fit_gain": fit_line(Ns, [r["n_star_gain"] for r in runs]),
        "fit_gain_by_delta": {
            d: fit_line(Ns, [r["n_star_gain_by_delta"][d] for r in runs]) for d in ("0.005", "0.01", "0.02", "0.05")
        },
        "seconds": time.time() - t0,
    }
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None, help="data folder (default $SIMLAB_DATA)")
    p.add_argument("--tiny", action="store_true", help="3,000 sentences, N in {100, 400}, n in {4..32}, 1 epoch")
    p.add_argument("--N", type=int, nargs="+", default=None, help=f"vocabulary sizes (default {FULL_N})")
    p.add_argument("--dims", type=int, nargs="+", default=None, help=f"dimensions (default {FULL_DIMS})")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 3; 1 with --tiny)")
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--delta", type=float, default=0.01, help="n* = smallest n within delta (relative) of the best")
    p.add_argument("--max-pairs", type=int, default=100_000, help="held-out pairs scored per N")
    p.add_argument("--workers", type=int, default=1, help="gensim worker threads")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tokenizer", choices=["auto", "jieba", "char"], default="auto")
    p.add_argument("--out", default=None, help="PNG plot path (e.g. docs/dims.png)")
    p.add_argument("--json", default=None, help="results JSON path (default: cache_dir('words')/dims_results*.json)")
    p.add_argument("--report", nargs="+", default=None, metavar="JSON",
                   help="only print the tables / draw --out from results JSON(s); several runs (seeds) are averaged")
    args = p.parse_args(argv)
    if not 0 < args.delta < 1:
        p.error("--delta must be in (0, 1)")
    if any(n < 1 for n in (args.dims or [])) or any(N < 2 for N in (args.N or [])):
        p.error("--dims must be >= 1 and --N >= 2")

    if args.report:  # re-print / re-plot finished runs without training; several JSONs (seeds) are averaged
        runs = [json.loads(Path(f).read_text(encoding="utf-8")) for f in args.report]
        for f, res in zip(args.report, runs):
            print_report(res, f)
        results = runs[0] if len(runs) == 1 else average_results(runs, args.delta)
        if len(runs) > 1:
            print(f"\nseed-to-seed |difference| in held-out loglik per pair (nats), {len(runs)} runs:")
            for k, r in enumerate(results["runs"]):
                diffs = np.ptp(np.array([res["runs"][k]["loglik"] for res in runs]), axis=0)
                print(f"  N={r['N']:>6}: max {diffs.max():.4f}, mean {diffs.mean():.4f}")
            print_report(results, f"mean of {len(runs)} runs")
    else:
        results = run(args)
        json_path = Path(args.json) if args.json else cache_dir("words") / f"dims_results{'_tiny' if args.tiny else ''}.json"
        atomic_write_json(json_path, results)
        print_report(results, str(json_path))
    if args.out:
        plot(results, Path(args.out))
    return 0


def average_results(runs: list[dict], delta: float) -> dict:
    """Average the held-out curves of several runs (same N and n grids) and recompute n* and the fits."""
    out = {**runs[0], "delta": delta, "seconds": sum(r["seconds"] for r in runs), "runs": []}
    for k, base in enumerate(runs[0]["runs"]):
        ll = [float(np.mean([res["runs"][k]["loglik"][i] for res in runs])) for i in range(len(base["dims"]))]
        uni = float(np.mean([res["runs"][k]["unigram_loglik"] for res in runs]))
        dims = base["dims"]
        out["runs"].append({
            **base, "loglik": ll, "unigram_loglik": uni,
            "n_star": smallest_within(dims, ll, delta),
            "n_star_by_delta": {str(d): smallest_within(dims, ll, d) for d in (0.005, 0.01, 0.02)},
            "n_star_gain": smallest_within(dims, ll, delta, uni),
            "n_star_gain_by_delta": {str(d): smallest_within(dims, ll, d, uni) for d in (0.005, 0.01, 0.02, 0.05)},
        })
    Ns = [r["N"] for r in out["runs"]]
    out["fit"] = fit_line(Ns, [r["n_star"] for r in out["runs"]])
    out["fit_gain"] = fit_line(Ns, [r["n_star_gain"] for r in out["runs"]])
    return out


def print_report(results: dict, source: str) -> None:
    print(f"\n== {source}")
    print("n*: smallest n with loglik >= best - delta*|best|;  n*_gain: reaching (1 - delta) of the gain over unigram")
    print(f"{'N':>7} {'ln N':>6} {'8.33 ln N':>9} {'n* 0.5%':>8} {'n* 1%':>6} {'n* 2%':>6} "
          f"{'gain 0.5%':>9} {'gain 1%':>8} {'gain 2%':>8} {'gain 5%':>8} {'best n':>7} {'gain@8.33lnN':>12}")
    for r in results["runs"]:
        best = r["dims"][int(np.argmax(r["loglik"]))]
        d, g = r["n_star_by_delta"], r["n_star_gain_by_delta"]
        print(f"{r['N']:>7} {math.log(r['N']):>6.2f} {r['n_8.33']:>9.1f} {d['0.005']:>8} {d['0.01']:>6} {d['0.02']:>6} "
              f"{g['0.005']:>9} {g['0.01']:>8} {g['0.02']:>8} {g['0.05']:>8} {best:>7} {gain_share_at(r, r['n_8.33']):>12.3f}")
    print("gain@8.33lnN: share of the best gain over unigram at n = 8.33 ln N (interpolated linearly in ln n)")
    delta = results["delta"]
    for name, f in [(f"n* (delta={delta})", results["fit"]), (f"n*_gain (delta={delta})", results["fit_gain"])]:
        print(f"fit {name}: = {f['a']:.2f} ln N {f['b']:+.1f}; through the origin = {f['a_through_origin']:.2f} ln N")
    print(f"total {results['seconds']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
