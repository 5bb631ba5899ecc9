"""The VECTORS_DIR folder written by ``simlab encode`` and read by ``simlab whiten/index build --vectors``.

Layout::

    DIR/plan.json                  the inputs (corpus files with size + sha256, shard byte ranges) and the config
                                   (model identity, pooling, max_length, prefix, batch size); written first
    DIR/shard-00000.npy            (n, d) float32 vectors of input shard 0, rows in file order
    DIR/shard-00000.docs.jsonl     {"id", "text", "line"} per row (line = 1-based line in its corpus file)
    DIR/shard-00000.json           the shard's done-record: its input range, config hash, sha256 + size of the two
                                   files above, empty lines, seconds, worker (host, pid, peak RSS)
    DIR/manifest.json              written LAST, once every shard is done and every id is unique: the model block,
                                   pooling, dim, count and every shard's files with their sha256

Every file is written to a temp name and renamed (atomic), the done-record after the data files, so a shard
with a valid done-record whose hashes match is complete; anything else is redone. A folder without
``manifest.json`` is unfinished: rerun the same ``simlab encode`` command to finish it.

>>> import numpy as np, tempfile
>>> from simlab.retrieval.corpus_stream import ShardDocs
>>> d = tempfile.mkdtemp()
>>> rec = write_shard(d, {"index": 0}, np.ones((2, 3), "float32"), ShardDocs(["a", "b"], ["x", "y"], [1, 2]), {})
>>> rec["n"], load_vectors(d, rec).shape
(2, (2, 3))
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import socket
from pathlib import Path

import numpy as np

from simlab.errors import DataError, MissingFileError
from simlab.io import atomic_write, atomic_write_json, read_json

FORMAT, VERSION = "simlab-vectors", 1
PLAN_FILE, MANIFEST_FILE = "plan.json", "manifest.json"


def shard_names(index: int) -> dict[str, str]:
    stem = f"shard-{int(index):05d}"
    return {"vectors": f"{stem}.npy", "docs": f"{stem}.docs.jsonl", "done": f"{stem}.json"}


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def worker_info() -> dict:
    """Where a shard ran and the peak resident memory of that worker process so far (MB)."""
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def write_shard(folder, shard: dict, X: np.ndarray, docs, extra: dict) -> dict:
    """Write one shard's vectors and docs, then its done-record (all atomic); return the record."""
    folder = Path(folder)
    names = shard_names(shard["index"])
    files = {}

    def saver(kind, write):
        def run(tmp: Path):
            write(tmp)
            files[kind] = {"name": names[kind], "sha256": sha256_file(tmp), "bytes": tmp.stat().st_size}
        return run

    X = np.ascontiguousarray(X, dtype=np.float32)

    def save_npy(p: Path) -> None:
        with open(p, "wb") as f:
            np.save(f, X)

    atomic_write(folder / names["vectors"], saver("vectors", save_npy))
    lines = "".join(json.dumps({"id": i, "text": t, "line": n}, ensure_ascii=False) + "\n"
                    for i, t, n in zip(docs.ids, docs.texts, docs.lines))
    atomic_write(folder / names["docs"], saver("docs", lambda p: p.write_bytes(lines.encode("utf-8"))))
    record = {"shard": int(shard["index"]), "input": shard, "n": int(len(X)), "dim": int(X.shape[1]),
              "n_empty": len(docs.empty_lines), "empty_lines": docs.empty_lines[:100], "files": files,
              **extra, "worker": worker_info()}
    atomic_write_json(folder / names["done"], record)
    return record


def check_done(folder, shard: dict, config_hash: str) -> tuple[dict | None, str]:
    """The done-record of ``shard`` if the shard is complete and intact, else ``(None, reason)``."""
    folder = Path(folder)
    path = folder / shard_names(shard["index"])["done"]
    if not path.is_file():
        return None, "missing"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None, f"{path.name}: unreadable done-record"
    if record.get("input") != shard or record.get("config_hash") != config_hash:
        return None, f"{path.name}: written for another input range or config"
    for info in record.get("files", {}).values():
        problem = file_problem(folder, info)
        if problem:
            return None, problem
    return record, "ok"


def file_problem(folder, info: dict) -> str | None:
    """Why a shard file does not match its recorded size and sha256 (None if it does)."""
    p = Path(folder) / info["name"]
    if not p.is_file():
        return f"{p.name}: missing"
    if p.stat().st_size != info["bytes"]:
        return f"{p.name}: {p.stat().st_size} bytes, recorded {info['bytes']} (truncated or changed)"
    if sha256_file(p) != info["sha256"]:
        return f"{p.name}: sha256 mismatch (the file is corrupt or was changed)"
    return None


def verify_file(folder, info: dict) -> None:
    """DataError naming the file if it does not match the manifest."""
    problem = file_problem(folder, info)
    if problem:
        raise DataError(f"{Path(folder) / info['name']}: {problem.split(': ', 1)[1]}; rerun the same `simlab "
                        f"encode` command to redo this shard")


def load_vectors(folder, entry: dict, verify: bool = True, mmap: bool = True) -> np.ndarray:
    """The (n, d) float32 vectors of a manifest or done-record shard entry (memory-mapped by default)."""
    info = entry["files"]["vectors"]
    if verify:
        verify_file(folder, info)
    return np.load(Path(folder) / info["name"], mmap_mode="r" if mmap else None)


def load_docs(folder, entry: dict, verify: bool = True) -> tuple[list[str], list[str]]:
    """(ids, texts) of a shard entry, in row order."""
    info = entry["files"]["docs"]
    if verify:
        verify_file(folder, info)
    ids, texts = [], []
    with open(Path(folder) / info["name"], encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            ids.append(d["id"])
            texts.append(d["text"])
    return ids, texts


def id_hashes(ids: list[str]) -> np.ndarray:
    """64-bit blake2b digests of ids (uint64), for a uniqueness check in 8 bytes per id."""
    return np.array([int.from_bytes(hashlib.blake2b(i.encode("utf-8"), digest_size=8).digest(), "little")
                     for i in ids], dtype=np.uint64)


def check_unique_ids(folder, records: list[dict]) -> None:
    """DataError naming the two ``file:line`` places of any id that occurs twice across all shards.

    Memory: 8 bytes per document (the digests), plus one shard's ids at a time.
    """
    digests = [id_hashes(load_docs(folder, r, verify=False)[0]) for r in records]
    allh = np.concatenate(digests) if digests else np.empty(0, np.uint64)
    s = np.sort(allh)
    dup = np.unique(s[1:][s[1:] == s[:-1]])
    if not len(dup):
        return
    where: dict[str, list[str]] = {}
    for r, h in zip(records, digests):
        hit = np.flatnonzero(np.isin(h, dup))
        if not len(hit):
            continue
        with open(Path(folder) / r["files"]["docs"]["name"], encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        for j in hit:
            where.setdefault(rows[j]["id"], []).append(f"{r['input']['path']}:{rows[j]['line']}")
    for doc_id, places in where.items():
        if len(places) > 1:
            raise DataError(f"{places[1]}: id {doc_id!r} already used at {places[0]}; ids must be unique "
                            f"across all corpus files")


class VectorsDir:
    """A finished VECTORS_DIR (has ``manifest.json``).

    >>> v = VectorsDir("vecs")                                  # doctest: +SKIP
    >>> v.count, v.dim, v.pooling, len(v.shards)                # doctest: +SKIP
    (1000000, 384, 'first-last-avg', 10)
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        path = self.folder / MANIFEST_FILE
        if not path.is_file():
            hint = (" (it has plan.json: the encode did not finish; rerun the same `simlab encode` command)"
                    if (self.folder / PLAN_FILE).is_file() else " (write one with `simlab encode`)")
            raise MissingFileError(f"{self.folder} is not a finished simlab vectors folder: no {MANIFEST_FILE}{hint}")
        self.manifest = read_json(path, "vectors manifest")
        if self.manifest.get("format") != FORMAT:
            raise DataError(f"{path}: not a simlab vectors manifest (format={self.manifest.get('format')!r})")
        lacking = [k for k in ("shards", "count", "dim", "pooling", "model", "files") if k not in self.manifest]
        if lacking:
            raise DataError(f"{path}: damaged vectors manifest (no {', '.join(lacking)}); rerun the same `simlab "
                            "encode` command")
        offset = 0
        self.shards = []
        for entry in self.manifest["shards"]:
            self.shards.append({**entry, "offset": offset})
            offset += entry["n"]
        if offset != self.count:
            raise DataError(f"{path}: shards hold {offset} vectors but the manifest says {self.count}")

    @property
    def count(self) -> int:
        return int(self.manifest["count"])

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def pooling(self) -> str:
        return self.manifest["pooling"]

    @property
    def model(self) -> dict:
        return self.manifest["model"]

    def vectors(self, entry: dict, verify: bool = True) -> np.ndarray:
        return load_vectors(self.folder, entry, verify)

    def docs(self, entry: dict, verify: bool = True) -> tuple[list[str], list[str]]:
        return load_docs(self.folder, entry, verify)

    def __repr__(self) -> str:
        return (f"VectorsDir({self.folder}: {self.count} × {self.dim} {self.model['name']} {self.pooling}, "
                f"{len(self.shards)} shards)")
