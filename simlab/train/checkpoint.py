"""Atomic checkpoints on top of ``Trainer``'s checkpoint folders.

``Trainer`` writes ``checkpoint-N/`` file by file, so a kill during a save leaves a folder that looks like a
checkpoint but is not. Once the folder is whole (``TrainerCallback.on_save``, :class:`simlab.train.callbacks.CheckpointCompleteCallback`),
simlab writes a checksum manifest ``simlab-manifest.json`` (size and SHA-256 of every file) and then, atomically and
last, the marker ``simlab-complete``. Resuming uses the newest *marked* checkpoint whose files still match their
checksums (:func:`verify_checkpoint`), moves unmarked ones aside, and a damaged one too (the run contract,
:mod:`simlab.train.run`). With ``save_total_limit=2`` the previous complete checkpoint survives while the next one
is being written.

>>> from pathlib import Path
>>> last_complete_checkpoint(Path("/nonexistent")) is None
True
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from simlab.io import atomic_write_json, atomic_write_text

MARKER = "simlab-complete"
MANIFEST = "simlab-manifest.json"
_CKPT = re.compile(r"^checkpoint-(\d+)$")


def checkpoints(out_dir: str | os.PathLike) -> list[tuple[int, Path, bool]]:
    """``(step, folder, complete)`` for every ``checkpoint-N`` under ``out_dir``, oldest first."""
    out = Path(out_dir)
    if not out.is_dir():
        return []
    found = []
    for child in out.iterdir():
        m = _CKPT.match(child.name)
        if m and child.is_dir():
            found.append((int(m.group(1)), child, (child / MARKER).is_file()))
    return sorted(found)


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in (MARKER, MANIFEST))


def mark_complete(folder: str | os.PathLike, step: int) -> None:
    """Write the checksum manifest, then the completion marker (the last file written) into a checkpoint folder."""
    folder = Path(folder)
    files = {str(p.relative_to(folder)): {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in _files(folder)}
    atomic_write_json(folder / MANIFEST, {"step": step, "files": files})
    atomic_write_text(folder / MARKER, f"{step}\n")


def verify_checkpoint(folder: str | os.PathLike) -> str | None:
    """None when every file of the manifest is present with its size and SHA-256; else what is wrong (a marked
    checkpoint without a manifest, from before manifests existed, passes)."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return f"{MANIFEST} is not valid"
    for rel, want in files.items():
        p = folder / rel
        if not p.is_file():
            return f"{rel} is missing"
        if p.stat().st_size != want["bytes"]:
            return f"{rel} has {p.stat().st_size} bytes, {want['bytes']} were written"
        if _sha256(p) != want["sha256"]:
            return f"{rel} fails its checksum"
    return None


def last_complete_checkpoint(out_dir: str | os.PathLike) -> Path | None:
    """The newest checkpoint folder carrying the marker, or None."""
    done = [path for _, path, complete in checkpoints(out_dir) if complete]
    return done[-1] if done else None


def set_aside_incomplete(out_dir: str | os.PathLike) -> list[Path]:
    """Move unmarked checkpoint folders (a save cut short) to ``.incomplete-checkpoint-N``; return them."""
    moved = []
    for _, path, complete in checkpoints(out_dir):
        if not complete:
            dest = path.with_name(f".incomplete-{path.name}")
            if dest.exists():
                shutil.rmtree(dest)
            path.rename(dest)
            moved.append(dest)
    return moved
