"""Atomic checkpoints on top of ``Trainer``'s checkpoint folders.

``Trainer`` writes ``checkpoint-N/`` file by file, so a kill during a save leaves a folder that looks like a
checkpoint but is not. simlab writes a marker file ``simlab-complete`` (atomically, last) once the folder is
whole; resuming uses the newest *marked* checkpoint and moves unmarked ones aside. With
``save_total_limit=2`` the previous complete checkpoint survives while the next one is being written.

>>> from pathlib import Path
>>> last_complete_checkpoint(Path("/nonexistent")) is None
True
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from simlab.io import atomic_write_text

MARKER = "simlab-complete"
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


def mark_complete(folder: str | os.PathLike, step: int) -> None:
    """Write the completion marker into a checkpoint folder (the last file written)."""
    atomic_write_text(Path(folder) / MARKER, f"{step}\n")


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
