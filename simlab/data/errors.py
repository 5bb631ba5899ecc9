"""Errors raised by the data loaders.

>>> err = BadLineError("BQ/BQ.test.data", 7, "expected 3 TAB-separated fields, got 2")
>>> str(err)
'BQ/BQ.test.data:7: expected 3 TAB-separated fields, got 2'
>>> isinstance(err, ValueError), isinstance(err, DataError)
(True, True)
"""

from __future__ import annotations

import os
from pathlib import Path

from simlab.errors import DataError
from simlab.paths import DataNotFoundError

__all__ = ["BadLineError", "DataNotFoundError"]


class BadLineError(DataError):
    """A malformed line in a data file: wrong field count, unparsable score, empty sentence, ...

    ``path`` and ``lineno`` (1-based) point at the line; the message reads ``"path:line: reason"`` so that
    editors and terminals can jump to it.
    """

    def __init__(self, path: str | os.PathLike, lineno: int, reason: str):
        self.path = Path(path)
        self.lineno = int(lineno)
        self.reason = reason
        super().__init__(f"{self.path}:{self.lineno}: {reason}")

    def __reduce__(self):  # keep the three fields through pickling (multiprocessing, pytest-xdist)
        return (type(self), (self.path, self.lineno, self.reason))
