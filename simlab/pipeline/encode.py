"""``simlab encode``: a corpus of any size → a VECTORS_DIR of float32 shards, resumable, on any executor.

The driver plans line-range shards of the corpus files (:mod:`simlab.retrieval.corpus_stream`), keeps the shards
whose done-records verify, and maps :func:`encode_shard` over the rest with an executor (this process, or Ray
tasks). Each call reads its lines, encodes them with the encoder of that worker process (loaded once per process)
and writes its files atomically (:mod:`simlab.pipeline.vectors_dir`). Memory per worker is one shard (texts +
n × d floats), whatever the corpus size; the driver holds the plan and one done-record per shard.

>>> from simlab.distributed import make_executor
>>> manifest = encode_corpus(["docs.txt"], model="minilm", pooling="last-avg", out="vecs",
...                          executor=make_executor(None))                          # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np

from simlab.errors import BadInputError, DataError, ModelError
from simlab.io import atomic_write_json
from simlab.pipeline import vectors_dir as vd
from simlab.retrieval.corpus_stream import plan_shards, read_shard

_ENCODERS: dict[tuple, object] = {}  # per worker process: (path, max_length, prefix) -> Encoder


def _encoder(cfg: dict):
    key = (cfg["path"], cfg["max_length"], cfg["prefix"], cfg.get("engine"), cfg.get("precision"))
    if key not in _ENCODERS:
        from simlab.encode import Encoder

        _ENCODERS.clear()  # one model per worker process at a time
        engine = {k: cfg[k] for k in ("engine", "precision", "language") if k in cfg}  # non-default engines only
        _ENCODERS[key] = Encoder(cfg["path"], max_length=cfg["max_length"], prefix=cfg["prefix"], name=cfg["name"],
                                 **engine)
    return _ENCODERS[key]


def encode_shard(shard: dict, shared: dict) -> dict:
    """Runs in a worker: encode one input shard and write it to the VECTORS_DIR; returns its done-record."""
    cfg = shared["config"]
    t0, c0 = time.perf_counter(), time.process_time()
    docs = read_shard(shard)
    enc = _encoder(cfg)
    if enc.identity != cfg["identity"]:
        raise ModelError(f"the worker loaded {cfg['path']} as {enc.identity}, but the driver has {cfg['identity']}; "
                         f"every node needs the same model files")
    t1 = time.perf_counter()
    if docs.texts:
        X = enc.encode_all(docs.texts, poolings=[cfg["pooling"]], batch_size=cfg["batch_size"])[cfg["pooling"]]
    else:
        X = np.empty((0, enc.dim), dtype=np.float32)  # a shard of empty lines only
    return vd.write_shard(shared["out"], shard, X, docs,
                          {"config_hash": shared["config_hash"], "seconds": round(time.perf_counter() - t0, 3),
                           "encode_seconds": round(time.perf_counter() - t1, 3),  # without reading / model loading
                           "cpu_seconds": round(time.process_time() - c0, 3)})  # CPU time of this worker process


def encoder_config(encoder, pooling: str, batch_size: int) -> dict:
    """What decides the vectors' bits: model identity, pooling, max_length, prefix, batch size (and the engine /
    precision when not torch fp32)."""
    if pooling not in encoder.poolings:
        raise BadInputError(f"{encoder.name} has no pooling {pooling!r} (available: {', '.join(encoder.poolings)})")
    cfg = {"name": encoder.name, "path": encoder.path, "identity": encoder.identity, "pooling": pooling,
           "max_length": int(encoder.max_length), "prefix": encoder.prefix, "batch_size": int(batch_size)}
    if getattr(encoder, "variant", ""):  # another engine / precision than torch fp32 (simlab.encode.engines)
        cfg.update(engine=encoder.engine, precision=encoder.precision, language=getattr(encoder, "language", None))
    return cfg


def _config_hash(cfg: dict) -> str:
    key = {k: cfg.get(k) for k in ("identity", "pooling", "max_length", "prefix", "batch_size", "engine", "precision")
           if k in cfg}
    return hashlib.sha256(json.dumps({"format": vd.VERSION, **key}, sort_keys=True).encode()).hexdigest()[:16]


def encode_corpus(paths, *, encoder, pooling: str, out, executor, shard_size: int = 100_000,
                  batch_size: int = 64, format: str | None = None, restart: bool = False, log=None) -> dict:
    """Encode the corpus files ``paths`` into the VECTORS_DIR ``out``; return the manifest.

    A rerun with the same inputs and config keeps every shard whose files match their done-record and redoes the
    rest; different inputs or config in an existing folder are a BadInputError unless ``restart`` (which empties
    the folder's shard files first).
    """
    log = log or (lambda msg: None)
    out = Path(out)
    if len({str(Path(p).resolve()) for p in paths}) != len(paths):
        raise BadInputError("the same corpus file is given twice")
    cfg = encoder_config(encoder, pooling, batch_size)
    chash = _config_hash(cfg)
    files, shards = plan_shards(paths, shard_size, format)
    plan = {"format": vd.FORMAT + "-plan", "version": vd.VERSION, "config": cfg, "config_hash": chash,
            "shard_size": int(shard_size), "files": files, "shards": [s.to_dict() for s in shards]}
    _claim_folder(out, plan, restart)
    _ENCODERS.clear()
    _ENCODERS[(cfg["path"], cfg["max_length"], cfg["prefix"], cfg.get("engine"), cfg.get("precision"))] = encoder
    done: dict[int, dict] = {}
    todo = []
    for s in plan["shards"]:
        record, why = vd.check_done(out, s, chash)
        if record is not None:
            done[s["index"]] = record
        else:
            todo.append(s)
            if why != "missing":
                log(f"shard {s['index']}: {why}; redoing it")
    total = sum(f["lines"] for f in files)
    log(f"{len(files)} corpus file(s), {total} lines in {len(shards)} shards of ≤ {shard_size} lines; "
        f"{len(done)} done before, {len(todo)} to encode on {_describe(executor)}")
    t0 = time.perf_counter()
    encoded = 0
    for shard, record in executor.map(encode_shard, todo, {"config": cfg, "config_hash": chash, "out": str(out)}):
        done[shard["index"]] = record
        encoded += record["n"]
        rate = encoded / max(time.perf_counter() - t0, 1e-9)
        log(f"shard {shard['index']} done ({len(done)}/{len(shards)}): {record['n']} docs in {record['seconds']} s; "
            f"{rate:.0f} docs/s overall; worker pid {record['worker']['pid']}, peak "
            f"{record['worker']['peak_rss_mb']:.0f} MB")
    records = [done[i] for i in range(len(shards))]
    return finalize(out, plan, records, encoder.info(), seconds=time.perf_counter() - t0, encoded=encoded)


def _describe(executor) -> str:
    return executor.describe() if hasattr(executor, "describe") else executor.name


def _claim_folder(out: Path, plan: dict, restart: bool) -> None:
    """Write plan.json, or check that the one there describes the same run."""
    plan_path = out / vd.PLAN_FILE
    if out.is_dir() and any(out.iterdir()) and not plan_path.is_file() and not restart:
        raise BadInputError(f"{out} exists and is not a simlab vectors folder; choose another --out")
    if plan_path.is_file() and not restart:
        from simlab.io import read_json

        old = read_json(plan_path, "encode plan")  # damaged: --restart starts over
        diff = [k for k in ("config_hash", "shard_size", "files", "shards") if old.get(k) != plan.get(k)]
        if diff:
            what = {"config_hash": "model/pooling/max_length/prefix/batch size", "shard_size": "shard size",
                    "files": "corpus files", "shards": "shard plan"}
            raise BadInputError(f"{out} holds an encode of other inputs (differs in: "
                                f"{', '.join(what[k] for k in diff)}); use another --out, or --restart to discard it")
    if restart and out.is_dir():
        for p in out.iterdir():
            if p.name.startswith(("shard-", ".shard-")) or p.name in (vd.PLAN_FILE, vd.MANIFEST_FILE):
                p.unlink() if p.is_file() else shutil.rmtree(p)
    (out / vd.MANIFEST_FILE).unlink(missing_ok=True)  # the folder is unfinished until finalize() rewrites it
    atomic_write_json(plan_path, plan)


def finalize(out: Path, plan: dict, records: list[dict], model: dict, seconds: float = 0.0, encoded: int = 0) -> dict:
    """Check ids are unique across shards, drop dead temp files, write manifest.json (last); return it."""
    count = sum(r["n"] for r in records)
    if count == 0:
        raise DataError(f"the corpus ({', '.join(f['given'] for f in plan['files'])}) has no non-empty documents")
    if any(f["format"] == "jsonl" for f in plan["files"]):  # txt ids (line numbers, path-prefixed) are unique
        vd.check_unique_ids(out, records)
    for p in out.glob(".shard-*.tmp"):  # temp files of attempts killed mid-write (never renamed into place)
        p.unlink(missing_ok=True)
    cfg = plan["config"]
    manifest = {
        "format": vd.FORMAT, "version": vd.VERSION, "model": model, "pooling": cfg["pooling"],
        "max_length": cfg["max_length"], "prefix": cfg["prefix"], "batch_size": cfg["batch_size"],
        "dim": int(model["dim"]), "dtype": "float32", "count": count,
        "empty_lines": sum(r["n_empty"] for r in records),
        "files": plan["files"], "shard_size": plan["shard_size"], "config_hash": plan["config_hash"],
        "shards": [{"shard": r["shard"], "n": r["n"], "files": r["files"], "path": r["input"]["path"],
                    "line_start": r["input"]["line_start"], "lines": r["input"]["lines"]} for r in records],
        "last_run": {"seconds": round(seconds, 3), "encoded": encoded,
                     "peak_rss_mb_max": max(r["worker"]["peak_rss_mb"] for r in records)},
    }
    atomic_write_json(out / vd.MANIFEST_FILE, manifest)
    return manifest
