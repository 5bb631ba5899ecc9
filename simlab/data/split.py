"""``PairSplit``: the sentence pairs and gold scores of one split of one task.

>>> import numpy as np
>>> ps = PairSplit("X", "test", ["a", "b"], ["c", "d"], np.array([1.0, 0.0]), None, [], [], 0)
>>> len(ps), ps.sentences()
(2, ['a', 'b', 'c', 'd'])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["PairSplit"]


@dataclass
class PairSplit:
    """One split of one task, as loaded by :func:`simlab.data.load_split`.

    ``scores`` are float64 gold values: 0/1 for ATEC/BQ/LCQMC/PAWSX, 0-5 for STS, 1-5 for SICK-R.
    ``subsets`` gives the rows ``[start, stop)`` of each sub-dataset for STS12-16 (the "wmean" protocol of
    BERT-flow / BERT-whitening averages a Spearman per subset, spec §4.1), else None.
    ``skipped`` lists the bad lines left out with ``skip_bad_lines=True``; ``unscored`` counts STS15/16 pairs
    with a blank gold line (dropped, as SentEval does).
    """

    task: str
    split: str
    sentences1: list[str]
    sentences2: list[str]
    scores: np.ndarray
    subsets: list[tuple[str, int, int]] | None
    files: list[Path]
    skipped: list[tuple[Path, int, str]]
    unscored: int

    def __post_init__(self) -> None:
        self.scores = np.asarray(self.scores, dtype=np.float64)
        n = len(self.sentences1)
        if len(self.sentences2) != n or self.scores.shape != (n,):
            raise ValueError(
                f"{self.task}/{self.split}: {n} sentences1, {len(self.sentences2)} sentences2 and scores of shape "
                f"{self.scores.shape} do not line up"
            )
        if self.subsets is not None:
            stops = [0] + [stop for _, _, stop in self.subsets]
            if [start for _, start, _ in self.subsets] != stops[:-1] or stops[-1] != n:
                raise ValueError(f"{self.task}/{self.split}: subsets {self.subsets} do not tile rows 0..{n}")

    def __len__(self) -> int:
        return len(self.sentences1)

    def sentences(self) -> list[str]:
        """``sentences1 + sentences2`` (both sides, duplicates kept), the order whitening statistics use."""
        return self.sentences1 + self.sentences2

    def summary(self) -> str:
        """One line for logs: pair count, unscored and skipped lines."""
        parts = [f"{self.task}/{self.split}: {len(self)} pairs"]
        if self.subsets is not None:
            parts.append(f"{len(self.subsets)} subsets")
        if self.unscored:
            parts.append(f"{self.unscored} unscored pairs dropped")
        if self.skipped:
            first = self.skipped[0]
            parts.append(f"{len(self.skipped)} bad lines skipped (first {first[0]}:{first[1]}: {first[2]})")
        return ", ".join(parts)
