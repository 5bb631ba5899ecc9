"""Load the STS tasks of :data:`simlab.data.tasks.TASKS` into :class:`PairSplit` objects.

>>> from simlab.data import load_split                                    # doctest: +SKIP
>>> ps = load_split("STS15", "test")                                     # doctest: +SKIP
>>> len(ps), ps.unscored, [name for name, *_ in ps.subsets][:2]          # doctest: +SKIP
(3000, 5500, ['answers-forums', 'answers-students'])
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from simlab.data.layout import require_file, split_files, sts_subset_files
from simlab.data.readers import Rows, read_senteval_cn, read_sick, read_sts_pairs, read_stsbenchmark
from simlab.data.split import PairSplit
from simlab.data.tasks import get_task, score_problem
from simlab.paths import data_dir as resolve_data_dir

__all__ = ["load_split", "load_task"]

# CLUE's AFQMC files (CSTS) have the senteval_cn line format 's1<TAB>s2<TAB>label', so the same reader parses them
_READERS = {"senteval_cn": read_senteval_cn, "stsbenchmark": read_stsbenchmark, "sick": read_sick,
            "clue_pairs": read_senteval_cn}


def load_split(
    task: str, split: str, data_dir: str | os.PathLike | None = None, skip_bad_lines: bool = False
) -> PairSplit:
    """Load one split of one task (names and aliases as in :func:`simlab.data.resolve_tasks`).

    ``data_dir`` defaults to ``$SIMLAB_DATA`` (:func:`simlab.paths.data_dir`). A missing file raises
    DataNotFoundError naming the expected path and layout; a malformed line raises BadLineError
    (``"path:line: reason"``), or is skipped and listed in ``PairSplit.skipped`` with ``skip_bad_lines=True``.

    Example::

        ps = load_split("ATEC", "test", "/work/shared/data")
        len(ps), ps.scores.mean()        # (20000, 0.1805)
    """
    spec = get_task(task)
    root = resolve_data_dir(data_dir)
    files = [require_file(p, spec.name, root) for p in split_files(spec.name, split, root)]
    check = partial(score_problem, spec.kind)

    if spec.layout != "senteval_sts":
        rows = _READERS[spec.layout](files[0], skip_bad_lines=skip_bad_lines, check_score=check)
        return _to_split(spec.name, split, rows, None, files)

    # STS12-16: concatenate the sub-datasets in SentEval order, remembering where each one sits.
    total, subsets = Rows(), []
    for name, input_path, gold_path in sts_subset_files(spec.name, root):
        rows = read_sts_pairs(input_path, gold_path, skip_bad_lines=skip_bad_lines, check_score=check)
        start = len(total.scores)
        for s1, s2, score in zip(rows.sentences1, rows.sentences2, rows.scores):
            total.add(s1, s2, score)
        total.skipped += rows.skipped
        total.unscored += rows.unscored
        subsets.append((name, start, len(total.scores)))
    return _to_split(spec.name, split, total, subsets, files)


def _to_split(task: str, split: str, rows: Rows, subsets, files: list[Path]) -> PairSplit:
    return PairSplit(
        task=task,
        split=split,
        sentences1=rows.sentences1,
        sentences2=rows.sentences2,
        scores=rows.scores,
        subsets=subsets,
        files=files,
        skipped=rows.skipped,
        unscored=rows.unscored,
    )


def load_task(
    task: str, data_dir: str | os.PathLike | None = None, skip_bad_lines: bool = False
) -> dict[str, PairSplit]:
    """Every split of ``task`` present in the data folder, ``{split: PairSplit}`` in :attr:`TaskSpec.splits` order.

    Example::

        {k: len(v) for k, v in load_task("STS-B").items()}   # {'train': 5231, 'valid': 1458, 'test': 1361}
    """
    spec = get_task(task)
    return {split: load_split(spec.name, split, data_dir, skip_bad_lines) for split in spec.splits}
