"""Encoding speed and fidelity: sentence-transformers' CPU configurations and simlab's engines × precisions on the
same model, the same 2,000 real sentences (1,000 LCQMC test + 1,000 STSBenchmark test) and the same threads.

    SIMLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_encode.py [--n 2000] [--threads 2] \
        [--repeat 3] [--models minilm,e5-small] [--json results.json]

Every configuration encodes the same sentences with batch 64 and max length 128 (nothing here is longer, so
nothing is truncated) into the model's mean pooling (simlab ``last-avg`` = sentence-transformers' ``mean``).
Each configuration is run once untimed first (this also converts and caches the ONNX / OpenVINO models, whose
conversion time is printed separately), then the timed passes are INTERLEAVED: repeat r runs every configuration
once, in the same order, before repeat r + 1 starts, so machine noise hits all of them alike. Reported:
sentences/s (median of the repeats, and the range), the ratio to sentence-transformers' default measured in the
same repeat (median of the per-repeat ratios), and the minimum and mean cosine of each sentence's vector to the
fp32 reference (simlab torch fp32, equal to sentence-transformers' default to 3e-8), plus how many of the
sentences fall below cosine 0.99.

sentence-transformers' ``backend="onnx"`` / ``backend="openvino"`` need optimum (``optimum-onnx`` caps
transformers < 4.58, ``optimum-intel`` < 5.6 and pulls a PyPI torch + torchvision); they are not installable next
to this environment's transformers 5.24 / torch 2.13 and are reported as such, not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np


def real_sentences(n: int) -> list[str]:
    from simlab.data import load_split

    zh = load_split("LCQMC", "test")
    en = load_split("STSBenchmark", "test")
    half = n // 2
    out = list(dict.fromkeys(zh.sentences()))[:half] + list(dict.fromkeys(en.sentences()))[: n - half]
    if len(out) < n:
        raise SystemExit(f"only {len(out)} sentences available")
    return out


def unit(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def st_configs(path: str, threads: int):
    """(label, encode(sents) -> vectors) for the installable sentence-transformers configurations."""
    import torch
    from sentence_transformers import SentenceTransformer

    out = []
    st = SentenceTransformer(path, device="cpu")
    st.max_seq_length = 128
    out.append(("ST torch, default", lambda s, m=st: m.encode(s, batch_size=64)))
    try:
        st16 = SentenceTransformer(path, device="cpu", model_kwargs={"dtype": torch.bfloat16})
    except TypeError:
        st16 = SentenceTransformer(path, device="cpu", model_kwargs={"torch_dtype": torch.bfloat16})
    st16.max_seq_length = 128
    out.append(("ST torch, model_kwargs dtype=bfloat16", lambda s, m=st16: m.encode(s, batch_size=64)))

    def autocast(s, m=st):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return m.encode(s, batch_size=64)

    out.append(("ST torch under torch.autocast(bf16)", autocast))
    return out


def simlab_configs(name: str, threads: int):
    from simlab.encode import load_encoder
    from simlab.encode.engines import ENGINES, PRECISIONS, resolve, supported

    auto = resolve("auto", "auto")
    out = []
    for engine in ENGINES:
        for precision in PRECISIONS:
            why = supported(engine, precision)
            if why:
                out.append((f"simlab {engine} {precision}", why))
                continue
            enc = load_encoder(name, max_length=128, num_threads=threads, engine=engine, precision=precision)
            tag = " (= auto)" if (engine, precision) == auto else ""
            out.append((f"simlab {engine} {precision}{tag}",
                        lambda s, e=enc: e.encode(s, pooling="last-avg", batch_size=64)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--models", default="minilm,e5-small")
    ap.add_argument("--only", default=None, help="comma list of label substrings to run (default: all)")
    ap.add_argument("--json", default=None, help="write every timing and fidelity number here")
    args = ap.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    from simlab.encode import load_encoder
    from simlab.encode.engines import store

    torch.set_num_threads(args.threads)
    sents = real_sentences(args.n)
    report = {"n": len(sents), "threads": args.threads, "repeat": args.repeat, "models": {}}
    for name in args.models.split(","):
        ref_enc = load_encoder(name, max_length=128, num_threads=args.threads)
        ref = unit(ref_enc.encode(sents, pooling="last-avg", batch_size=64))
        configs = st_configs(ref_enc.path, args.threads) + simlab_configs(name, args.threads)
        if args.only:
            keep = [k.strip() for k in args.only.split(",")]
            configs = [c for c in configs if c[0] == "ST torch, default" or any(k in c[0] for k in keep)]
        runnable = [(label, fn) for label, fn in configs if callable(fn)]
        skipped = {label: why for label, why in configs if not callable(why)}
        fidelity, convert = {}, {}
        with threadpool_limits(args.threads):
            for label, fn in runnable:  # untimed warm-up: conversions happen (and are cached) here
                n_conv = len(store.CONVERSIONS)
                t0 = time.perf_counter()
                vecs = unit(fn(sents))
                if len(store.CONVERSIONS) > n_conv:
                    convert[label] = time.perf_counter() - t0
                cos = np.sum(vecs * ref, axis=1)
                fidelity[label] = {"min_cos": float(cos.min()), "mean_cos": float(cos.mean()),
                                   "below_0.99": int((cos < 0.99).sum())}
            times = {label: [] for label, _ in runnable}
            for _ in range(args.repeat):  # interleaved: every configuration once per repeat
                for label, fn in runnable:
                    t0 = time.perf_counter()
                    fn(sents)
                    times[label].append(time.perf_counter() - t0)
        base = times["ST torch, default"]
        rows = {}
        print(f"\n{name}: {len(sents)} sentences, batch 64, max_length 128, {args.threads} threads, {args.repeat} "
              f"interleaved repeats, load average {os.getloadavg()[0]:.1f}")
        print(f"{'configuration':48} {'sent/s':>7} {'range':>11} {'× ST':>6} {'range':>11} {'min cos':>8} "
              f"{'mean cos':>9} {'<0.99':>5}")
        for label, ts in times.items():
            rates = [len(sents) / t for t in ts]
            ratios = [b / t for b, t in zip(base, ts)]
            f = fidelity[label]
            rows[label] = {"sent_per_s": statistics.median(rates), "rates": rates, "ratio": statistics.median(ratios),
                           "ratios": ratios, **f, "convert_s": convert.get(label)}
            print(f"{label:48} {statistics.median(rates):7.0f} {min(rates):5.0f}–{max(rates):<5.0f} "
                  f"{statistics.median(ratios):6.2f} {min(ratios):5.2f}–{max(ratios):<5.2f} {f['min_cos']:8.5f} "
                  f"{f['mean_cos']:9.6f} {f['below_0.99']:5d}")
        for label, why in skipped.items():
            print(f"{label:48} not run: {why}")
        print("ST backend='onnx' / 'openvino': not installable here (optimum-onnx needs transformers < 4.58, "
              "optimum-intel < 5.6 and a PyPI torch/torchvision)")
        for label, s in convert.items():
            print(f"  first use of {label}: {s:.1f}s (conversion, cached under ~/.cache/simlab/engines)")
        report["models"][name] = {"rows": rows, "skipped": skipped}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
