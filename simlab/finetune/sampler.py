"""Length-grouped batches for ``simlab finetune``: less padding, the same pairs each pass, resume-exact.

Each pass (epoch) is a pure function of ``(seed, epoch, number of rows)``:

1. shuffle the rows (numpy ``default_rng([seed, epoch, n])``);
2. cut the order into mega-batches of ``MEGA`` batches and sort each by length, longest first (transformers'
   ``LengthGroupedSampler`` / ``get_length_grouped_indices``, ``mega_batch_mult`` 50): rows of similar length
   share a batch, so little of it is padding, while which rows meet stays random;
3. cut into batches of ``batch_size`` and shuffle the batch order, so the loss does not see long-then-short.

With ``groups`` (in-batch-negative objectives such as MNRL), a row is not put into a batch that already holds
a text of the same group (the same sentence, or one labelled its paraphrase): for that row's anchor the other
row's texts would be false negatives (sentence-transformers' ``NoDuplicatesBatchSampler`` does this for equal
texts). A row that fits nowhere in what is left waits for a later batch; when nothing left fits (the end of a
pass), the clashing row is swapped with a row of another batch where both fit. So every pass has exactly
``ceil(n / batch_size)`` batches: ``len()`` is what the trainer counts its epochs and resume position with.

Because a pass depends on nothing but the epoch, a run resumed from a checkpoint (transformers skips the batches
already trained in that epoch and calls ``set_epoch``) sees the same batches as one that never stopped.
:class:`RoundRobinEpochSampler` forwards ``set_epoch`` to each stream's sampler (sentence-transformers' own
round-robin sampler does not).

>>> from datasets import Dataset
>>> ds = Dataset.from_dict({"sentence1": ["a", "bbbb", "cc", "ddd", "e"], "sentence2": ["x"] * 5})
>>> s = LengthGroupedBatchSampler(ds, batch_size=2, drop_last=False, seed=0)
>>> len(s), sorted(i for b in s for i in b)
(3, [0, 1, 2, 3, 4])
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from sentence_transformers.base.sampler import DefaultBatchSampler, RoundRobinBatchSampler

__all__ = ["MEGA", "LengthGroupedBatchSampler", "RoundRobinEpochSampler", "length_grouped_batches", "text_columns"]

MEGA = 50  # batches per mega-batch (transformers' LengthGroupedSampler: mega_batch_mult = 50)


def text_columns(dataset) -> list[str]:
    """The columns the model reads (every string column; labels and scores are numbers)."""
    return [name for name, feature in dataset.features.items() if getattr(feature, "dtype", None) == "string"]


def _fill(pool: list[int], size: int, keys: list[frozenset]) -> list[int]:
    """Take up to ``size`` rows from ``pool`` (in order) whose keys do not meet; if too few fit, the first rows
    left (clashes accepted). Removes the taken rows from ``pool``."""
    batch, seen, taken = [], set(), []
    for pos, row in enumerate(pool):
        if len(batch) == size:
            break
        if keys[row].isdisjoint(seen):
            batch.append(row)
            seen |= keys[row]
            taken.append(pos)
    for pos in reversed(taken):
        pool.pop(pos)
    while len(batch) < size and pool:  # nothing left fits: accept a clash rather than change the batch count
        batch.append(pool.pop(0))
    return batch


def _repair(batches: list[list[int]], keys: list[frozenset]) -> None:
    """Swap each row that shares a key with its batch for a row of another batch, where both then fit (in place;
    a clash with no such swap stays)."""
    from collections import Counter

    counts = [Counter(k for row in b for k in keys[row]) for b in batches]

    def fits(row: int, bi: int, leaving: int | None = None) -> bool:  # row joins batch bi (leaving row goes)
        gone = keys[leaving] if leaving is not None else frozenset()
        return all(counts[bi][k] - (k in gone) == 0 for k in keys[row])

    for bi in range(len(batches)):
        for pos, row in enumerate(batches[bi]):
            if all(counts[bi][k] == 1 for k in keys[row]):
                continue
            counts[bi].subtract(keys[row])
            for cj in sorted(range(len(batches)), key=lambda j: abs(j - bi)):
                spot = next((q for q, other in enumerate(batches[cj]) if cj != bi and fits(row, cj, other)
                             and fits(other, bi)), None)
                if spot is not None:
                    other = batches[cj][spot]
                    batches[cj][spot], batches[bi][pos] = row, other
                    counts[cj].subtract(keys[other])
                    counts[cj].update(keys[row])
                    row = other
                    break
            counts[bi].update(keys[row])


def length_grouped_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator, keys=None,
                           drop_last: bool = False) -> list[list[int]]:
    """One pass of length-grouped batches over rows ``0..n-1`` (see the module docstring); ``keys``: per row a
    frozenset of group keys that must not meet inside a batch (None: no such rule)."""
    n = len(lengths)
    order = rng.permutation(n)
    mega = batch_size * MEGA
    batches: list[list[int]] = []
    pool: list[int] = []  # rows carried over (they clashed with everything in their own mega-batch)
    for start in range(0, n, mega):
        chunk = order[start:start + mega]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")].tolist()  # longest first
        if keys is None:
            batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
            continue
        pool += chunk
        last = start + mega >= n
        while len(pool) >= batch_size or (last and pool):
            batches.append(_fill(pool, batch_size, keys))
    if keys is not None:
        _repair(batches, keys)
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return [batches[i] for i in rng.permutation(len(batches))]


class LengthGroupedBatchSampler(DefaultBatchSampler):
    """sentence-transformers batch sampler with length grouping (and optional group-disjoint batches).

    Built by :class:`~simlab.finetune.trainer.FinetuneTrainer` for every stream; ``groups`` maps a text to its
    group (texts missing from it are their own group)."""

    def __init__(self, dataset, batch_size: int, drop_last: bool, valid_label_columns=None, generator=None,
                 seed: int = 0, groups: dict | None = None) -> None:
        super().__init__(dataset, batch_size=batch_size, drop_last=drop_last,
                         valid_label_columns=valid_label_columns, generator=generator, seed=seed)
        columns = text_columns(dataset)
        texts = [list(dataset[c]) for c in columns]
        self.lengths = np.array([sum(len(col[i]) for col in texts) for i in range(len(dataset))], dtype=np.int64)
        self.keys = None
        if groups is not None:
            self.keys = [frozenset(groups.get(col[i], col[i]) for col in texts) for i in range(len(dataset))]

    def batches(self, epoch: int) -> list[list[int]]:
        """The batches of pass ``epoch`` (a pure function of seed, epoch and the data)."""
        rng = np.random.default_rng([int(self.seed or 0), int(epoch), len(self.lengths)])
        return length_grouped_batches(self.lengths, self.batch_size, rng, self.keys, self.drop_last)

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches(self.epoch)

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class RoundRobinEpochSampler(RoundRobinBatchSampler):
    """sentence-transformers' round-robin over streams (one batch of each in turn until one runs out), with
    ``set_epoch`` forwarded to every stream's sampler so each pass reshuffles every stream."""

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        for sampler in self.batch_samplers:
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)
