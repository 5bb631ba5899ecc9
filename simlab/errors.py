"""simlab's error hierarchy: every error a *user* can cause derives from :class:`SimlabError`.

The CLI entry point (:mod:`simlab.cli.main`) turns a ``SimlabError`` into one line on stderr,
``simlab: error: <message>``, and exit code 2; anything else is a bug and keeps its traceback.

Subclasses also derive from the builtin they historically were (``ValueError``, ``FileNotFoundError``,
``OSError``), so ``except ValueError`` in user code keeps working.

>>> err = BadInputError("--whiten 9999: k must be <= d = 384")
>>> isinstance(err, SimlabError), isinstance(err, ValueError)
(True, True)
>>> str(err)
'--whiten 9999: k must be <= d = 384'
"""

from __future__ import annotations


class SimlabError(Exception):
    """Base of every error caused by input, data, models or files the user supplied (not a bug)."""

    exit_code = 2


class BadInputError(SimlabError, ValueError):
    """An invalid option value or combination (the CLI analogue of argparse's usage errors)."""


class DataError(SimlabError, ValueError):
    """Data that cannot be read: a malformed line, bad encoding, an unknown task, a missing column."""


class MissingFileError(SimlabError, FileNotFoundError):
    """A data folder, data file, model folder or index that should exist and does not."""


class ModelError(SimlabError, OSError):
    """A model that cannot be resolved or loaded (unknown name, not in the offline cache, wrong folder)."""


class CacheError(SimlabError, ValueError):
    """A cache entry that is corrupt or belongs to another configuration."""


class IndexError_(SimlabError, ValueError):
    """A retrieval index that is corrupt, mismatched, or asked for something it cannot do."""


class GridError(SimlabError, ValueError):
    """A grid run whose stored cells conflict with the requested configuration."""


class WhiteningError(SimlabError, ValueError):
    """A whitening that cannot be fitted or applied (k > d, too few vectors, wrong dimension)."""


class TrainingError(SimlabError, RuntimeError):
    """A training run that cannot start or resume (missing checkpoint, config mismatch, empty corpus)."""


__all__ = [
    "SimlabError", "BadInputError", "DataError", "MissingFileError", "ModelError", "CacheError",
    "IndexError_", "GridError", "WhiteningError", "TrainingError",
]
