"""The first stage of ``simlab clue run``: read a task's train, dev and test files (:func:`load_data`).

Every row a reader leaves out is counted with its file and line (``skipped``) and reported, never hidden; a
damaged file (bad JSON, invalid UTF-8, a wrong field count) is one error line naming the file and the line
(:mod:`simlab.clue.common`'s readers).

>>> sample_train(list(range(10)), 3, seed=0) == sorted(sample_train(list(range(10)), 3, seed=0))
True
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from simlab.clue.common import ClueTask, data_root, expected, find_files, limit_examples, require_files
from simlab.clue.config import ClueConfig, wanted_tests
from simlab.errors import BadInputError, MissingFileError

__all__ = ["TaskData", "TestSet", "load_data", "load_split", "sample_train", "skip_report"]


@dataclass
class TestSet:
    """One test file's examples (``--limit`` applied), the rows left out, and the files read."""

    test: object  # simlab.clue.common.TestFile
    examples: list
    skipped: list
    files: list[Path]


@dataclass
class TaskData:
    """What a run reads: train (``--train-limit`` applied; ``train_available`` before it), dev, the test sets."""

    train: list
    dev: list
    tests: list[TestSet]
    train_available: int
    skipped: dict[str, list] = field(default_factory=dict)
    files: dict[str, list[Path]] = field(default_factory=dict)
    missing_tests: list[str] = field(default_factory=list)


def load_split(task: ClueTask, root: Path | None, split: str, limit: int | None, override: str | None = None):
    """(examples, skipped, files) of a split; ``override`` is a file path replacing the task's files."""
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise MissingFileError(f"--{split}-file {path} does not exist")
        files = [path]
    else:
        files = require_files(root, task, split)
    loaded = task.read(files, split)
    return limit_examples(loaded.examples, limit), loaded.skipped, files


def sample_train(examples: list, n: int | None, seed: int = 0) -> list:
    """A seeded random ``n`` of the training examples, in file order (all when ``n`` is None): ``--train-limit``,
    which shortens training but keeps dev and test complete."""
    if n is None or n >= len(examples):
        return examples
    keep = sorted(random.Random(seed).sample(range(len(examples)), n))
    return [examples[i] for i in keep]


def _test_sets(cfg: ClueConfig, task: ClueTask, root: Path | None) -> tuple[list[TestSet], list[str]]:
    wanted = wanted_tests(cfg.tests, task)
    sets, missing = [], []
    for test in task.tests:
        if wanted is not None and test.name not in wanted:
            continue
        files, _ = find_files(root, test.alternatives) if root else (None, -1)
        if files is None:
            missing.append(expected(root, test.alternatives) if root else test.name)
            continue
        loaded = task.read(files, test.name)
        sets.append(TestSet(test, limit_examples(loaded.examples, cfg.limit), loaded.skipped, files))
    return sets, missing


def load_data(cfg: ClueConfig, task: ClueTask, stream) -> TaskData:
    """Train, dev and the wanted test files of ``task`` (``cfg`` resolved); a test file that is absent is named on
    ``stream`` and gets no submission."""
    try:
        root = data_root(cfg.data_dir)
    except MissingFileError:
        if not (cfg.train_file and cfg.dev_file):
            raise
        root = None  # both files given explicitly: no data folder, so no test files either
    train, train_skip, train_files = load_split(task, root, "train", cfg.limit, cfg.train_file)
    available = len(train)
    train = sample_train(train, cfg.train_limit, cfg.seed)
    dev, dev_skip, dev_files = load_split(task, root, "dev", cfg.limit, cfg.dev_file)
    if not train or not dev:
        raise BadInputError(f"task {task.name}: {'train' if not train else 'dev'} has no usable examples "
                            f"({', '.join(map(str, train_files if not train else dev_files))})")
    tests, missing = _test_sets(cfg, task, root)
    for path in missing:
        print(f"{task.name}: no test file {path}: no submission for it", file=stream, flush=True)
    return TaskData(train=train, dev=dev, tests=tests, train_available=available,
                    skipped={"train": train_skip, "dev": dev_skip, **{t.test.name: t.skipped for t in tests}},
                    files={"train": train_files, "dev": dev_files}, missing_tests=missing)


def skip_report(skipped: list, split: str, stream) -> dict:
    """Name the rows a split left out on ``stream`` (the first three); the summary's record of them."""
    if skipped:
        first = "; ".join(f"{f}:{n}: {r}" for f, n, r in skipped[:3])
        print(f"{split}: {len(skipped)} rows left out ({first}{' ...' if len(skipped) > 3 else ''})",
              file=stream, flush=True)
    return {"count": len(skipped), "first": [f"{f}:{n}: {r}" for f, n, r in skipped[:10]]}
