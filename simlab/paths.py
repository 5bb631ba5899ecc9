"""Where simlab finds data and keeps caches.

Data: ``--data-dir`` or the ``SIMLAB_DATA`` variable (the layout of ``shared/data``, see MANIFEST.md).
Caches (converted models, embeddings): ``SIMLAB_CACHE`` or ``~/.cache/simlab``; never the repository.

>>> from simlab.paths import cache_dir
>>> cache_dir("models").name
'models'
"""

from __future__ import annotations

import os
from pathlib import Path

from simlab.errors import MissingFileError


class DataNotFoundError(MissingFileError):
    """Raised when the evaluation data folder or one of its files is missing (a ``FileNotFoundError`` too)."""


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Resolve the data folder: ``explicit`` first, then ``$SIMLAB_DATA``; error if neither exists."""
    raw = explicit if explicit is not None else os.environ.get("SIMLAB_DATA")
    if not raw:
        raise DataNotFoundError(
            "no data folder given: pass --data-dir DIR or set SIMLAB_DATA=DIR, where DIR has the layout "
            "of shared/data (ATEC/ATEC.test.data, SentEval-STS/STS12-en-test/STS.input.MSRpar.txt, ...)"
        )
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise DataNotFoundError(f"data folder {path} does not exist (from {'--data-dir' if explicit else 'SIMLAB_DATA'})")
    return path


def cache_dir(*parts: str) -> Path:
    """A folder under the simlab cache (``$SIMLAB_CACHE`` or ``~/.cache/simlab``), created on demand."""
    root = Path(os.environ.get("SIMLAB_CACHE") or Path.home() / ".cache" / "simlab").expanduser()
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
