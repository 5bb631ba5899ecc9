"""The grid's result store: one JSONL line per cell, appended atomically, resumable after ``kill -9``.

Each line is ``{"key": CELL_KEY, "sha256": ..., "record": {...}}`` + newline, written with ONE ``write`` on an
``O_APPEND`` descriptor (fsync'ed per batch: a written line survives ``kill -9``; fsync guards a machine crash). A line counts only if it ends in a newline and its checksum verifies; a
half-written LAST line (the only thing a kill can leave) is discarded and cut off before the next append.
Damage anywhere else, or a key present twice, is an error: the file was edited by something else.

The run's configuration is kept beside it in ``grid.json``; reopening the folder with a different configuration
is a :class:`GridConfigError` naming the fields that differ. A lock file stops two runs writing one folder.

>>> store = ResultStore("results/grid").open(config_json)          # doctest: +SKIP
>>> store.append("minilm|STS13|cls|none", record)                  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from simlab.errors import GridError
from simlab.io import atomic_write_json, read_json

log = logging.getLogger(__name__)
RESULTS = "results.jsonl"
CONFIG = "grid.json"


class GridConfigError(GridError):
    """The folder holds a grid with another configuration."""


class CorruptResultsError(GridError):
    """A results line other than the last is damaged, or a cell appears twice."""


class GridLockedError(GridError, RuntimeError):
    """Another run holds the folder's lock (a RuntimeError, as before, and a GridError)."""


def _digest(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def encode_line(key: str, record: dict) -> bytes:
    return (json.dumps({"key": key, "sha256": _digest(record), "record": record}, ensure_ascii=False) + "\n").encode()


@dataclass
class ReadResult:
    records: dict[str, dict]  # key -> record, in file order
    good_bytes: int  # length of the valid prefix
    discarded: int  # bytes of a half-written last line (0 if none)


def read_results(path: str | os.PathLike) -> ReadResult:
    """Parse a results file; tolerate (and report) only a damaged final line."""
    path = Path(path)
    if not path.exists():
        return ReadResult({}, 0, 0)
    data = path.read_bytes()
    records: dict[str, dict] = {}
    pos, lineno = 0, 0
    while pos < len(data):
        lineno += 1
        end = data.find(b"\n", pos)
        last = end == -1 or data[end + 1:].strip() == b""
        problem = None
        if end == -1:
            problem = "no newline (write cut short)"
        else:
            try:
                entry = json.loads(data[pos:end])
                if _digest(entry["record"]) != entry["sha256"]:
                    problem = "checksum mismatch"
            except (ValueError, KeyError, TypeError) as exc:
                problem = f"unreadable ({exc})"
        if problem:
            if last:
                return ReadResult(records, pos, len(data) - pos)
            raise CorruptResultsError(f"{path}: line {lineno} is damaged ({problem}) but is not the last line; "
                                      "the file was modified outside simlab. Delete that line to recompute its cell.")
        key = entry["key"]
        if key in records:
            raise CorruptResultsError(f"{path}: cell {key!r} appears twice (line {lineno}); delete one of the lines")
        records[key] = entry["record"]
        pos = end + 1
    return ReadResult(records, pos, 0)


def config_diff(old: dict, new: dict) -> list[str]:
    """Fields whose values differ, as ``field: old -> new`` strings."""
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


class ResultStore:
    """Append-only cell results in ``folder/results.jsonl`` with the config in ``folder/grid.json``."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.path = self.folder / RESULTS
        self.config_path = self.folder / CONFIG
        self.records: dict[str, dict] = {}
        self.discarded = 0
        self._fd: int | None = None
        self._lock = None

    # ------------------------------------------------------------------------------------------
    def open(self, config: dict) -> ResultStore:
        """Check or record ``config``, lock the folder, drop a half-written last line, load done cells."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            if self.config_path.exists():
                old = read_json(self.config_path, "grid configuration", CorruptResultsError)
                diff = config_diff(old, config)
                if diff:
                    raise GridConfigError(
                        f"{self.folder} holds a grid with a different configuration ({'; '.join(diff)}). "
                        "Rerun with the original options to resume it, or use another --out for the new grid.")
            elif self.path.exists() and self.path.stat().st_size:
                raise GridConfigError(f"{self.path} exists without {CONFIG}; use another --out")
            else:
                atomic_write_json(self.config_path, config)
            res = read_results(self.path)
            if res.discarded:
                log.warning("%s: discarding a half-written last line (%d bytes)", self.path, res.discarded)
                with open(self.path, "r+b") as f:
                    f.truncate(res.good_bytes)
                    f.flush()
                    os.fsync(f.fileno())
            self.records, self.discarded = res.records, res.discarded
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except BaseException:
            self.close()
            raise
        return self

    def append(self, key: str, record: dict, sync: bool = True) -> None:
        """Write one cell with a single ``write``; appending a key twice is a ValueError.

        Once ``write`` returns, the line is in the kernel's page cache and survives ``kill -9`` of this process;
        ``sync`` (or a later :meth:`sync`) also makes it survive a machine crash.
        """
        if self._fd is None:
            raise RuntimeError("ResultStore.append before open()")
        if key in self.records:
            raise ValueError(f"cell {key!r} is already stored")
        line = encode_line(key, record)
        written = os.write(self._fd, line)
        if written != len(line):  # pragma: no cover - only on a full disk
            raise OSError(f"short write to {self.path} ({written} of {len(line)} bytes)")
        if sync:
            os.fsync(self._fd)
        self.records[key] = record

    def sync(self) -> None:
        """fsync the results file (the grid calls this after each pooling's batch of cells)."""
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _acquire_lock(self) -> None:
        import fcntl

        self._lock = open(self.folder / ".lock", "w")
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock.close()
            self._lock = None
            raise GridLockedError(f"another simlab grid run is writing {self.folder} (it holds "
                                  f"{self.folder / '.lock'}); wait for it or use another --out") from exc


def load_records(folder: str | os.PathLike) -> tuple[dict | None, list[dict]]:
    """(config or None, records in file order) of a grid folder, read-only (a torn last line is ignored)."""
    p = Path(folder)
    results = p if p.is_file() else p / RESULTS
    cfg_path = results.parent / CONFIG
    config = read_json(cfg_path, "grid configuration", CorruptResultsError) if cfg_path.exists() else None
    return config, list(read_results(results).records.values())
