"""Model identity for caches: a display name plus the sha256 of the weight files.

>>> cached_weights_hash(str(folder))          # doctest: +SKIP
'3f2a9c...'
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from simlab.io import atomic_write_json
from simlab.paths import cache_dir

WEIGHT_SUFFIXES = {".safetensors", ".bin", ".pt", ".h5", ".msgpack"}


def weight_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


def weights_hash(path_or_id: str) -> str:
    """First 16 hex of sha256 over the weight files of a local folder (or of the HF cache snapshot)."""
    folder = Path(path_or_id)
    if not folder.is_dir():
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(path_or_id, local_files_only=True))
    files = weight_files(folder)
    if not files:
        raise FileNotFoundError(f"no weight files in {folder}")
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def cached_weights_hash(path: str) -> str:
    """:func:`weights_hash`, remembered per (weight file, size, mtime) in the cache folder so that a rerun does
    not re-read hundreds of MB of weights. Any change of a weight file's size or mtime re-hashes."""
    folder = Path(path)
    if not folder.is_dir():
        return weights_hash(path)
    stamp = [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in weight_files(folder)]
    key = json.dumps([str(folder.resolve()), stamp])
    memo_path = cache_dir("models") / "weights_hashes.json"
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    if key not in memo:
        memo[key] = weights_hash(path)
        atomic_write_json(memo_path, memo)
    return memo[key]
