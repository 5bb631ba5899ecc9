"""The output-folder guard every writing command shares: never write into a folder the command reads from, never
overwrite another command's output, never silently replace a previous run.

A folder that simlab wrote carries a small JSON marker naming the command (``kind``) that owns it:
``simlab_run.json`` for training runs (:mod:`simlab.train.run`), and the command's own manifest elsewhere
(``index.json`` for an index, ``simlab_export.json`` for an export). :func:`check_output_folder` is pure (it reads,
never writes) and raises :class:`~simlab.errors.BadInputError`, so the CLI prints one line and exits 2 with nothing
changed.

>>> from pathlib import Path
>>> check_output_folder(Path("/tmp/simlab-nonexistent-out"), kind="export", reads=[Path("/tmp/model")])
"""

from __future__ import annotations

import os
from pathlib import Path

from simlab.errors import BadInputError

RUN_FILE = "simlab_run.json"


def _resolved(p: str | os.PathLike) -> Path:
    return Path(p).expanduser().resolve()


def overlaps(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` are the same folder or one lies inside the other.

    >>> overlaps("/x/m", "/x/m/out"), overlaps("/x/m", "/x/m2")
    (True, False)
    """
    a, b = _resolved(a), _resolved(b)
    return a == b or a in b.parents or b in a.parents


def owner_kind(out: Path) -> str | None:
    """The ``kind`` recorded in ``out/simlab_run.json`` (None when absent); a damaged record is one error line."""
    from simlab.io import read_json

    marker = out / RUN_FILE
    if not marker.is_file():
        return None
    record = read_json(marker, "run record (move the folder aside or choose another --out)", BadInputError)
    return str(record.get("kind") or "") or None


def check_output_folder(out: str | os.PathLike, *, kind: str, reads=(), own_files=(), flag: str = "--out") -> None:
    """Refuse ``out`` when writing ``kind`` there would damage something:

    - ``out`` overlaps a folder in ``reads`` (the model / data the command reads): the same folder, inside it, or
      holding it;
    - ``out`` holds a simlab run of another kind (``simlab_run.json``);
    - ``out`` is a non-empty folder with none of ``own_files`` (the manifest this command writes) and no run record of
      ``kind``: somebody else's files.

    A folder that already holds output of ``kind`` passes: whether to resume or refuse it is the caller's decision.
    """
    out = Path(out).expanduser()
    for src in reads:
        if src is not None and Path(src).expanduser().exists() and overlaps(out, src):
            raise BadInputError(f"{flag} {out}: this folder overlaps {src}, which this command reads from; "
                                "choose another output folder")
    if out.exists() and not out.is_dir():
        raise BadInputError(f"{flag} {out}: exists and is not a folder")
    if not out.is_dir():
        return
    owner = owner_kind(out)
    if owner is not None and owner != kind:
        raise BadInputError(f"{flag} {out}: this folder holds a simlab {owner} run; choose another output folder")
    if owner == kind or any((out / f).exists() for f in own_files):
        return
    entries = sorted(p.name for p in out.iterdir())
    if entries:
        shown = ", ".join(entries[:4]) + (", ..." if len(entries) > 4 else "")
        raise BadInputError(f"{flag} {out}: not empty and not a simlab {kind} output ({shown}); choose an empty "
                            "or new folder")
