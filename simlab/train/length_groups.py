"""Training batches grouped by length, seeded and resume-exact: any trainer can batch by length (issue 22).

Padding each batch to its longest row wastes the compute of every shorter row. Grouping rows of similar length
into a batch removes most of it, while a random order within and between groups keeps the gradient noise of
random batches: the "sortish" sampler of fastai / ULMFiT (Howard & Ruder 2018) and transformers'
``LengthGroupedSampler`` (``get_length_grouped_indices``: mega-batches of 50 batches sorted by length).

Unlike transformers' sampler, which draws from the global torch RNG, the order here is a pure function of
``(seed, epoch)``: ``Trainer`` calls :meth:`LengthGroupedSampler.set_epoch` at each epoch and skips the batches
already trained when it resumes inside an epoch, so a resumed run sees exactly the batches an unbroken run sees.

>>> order = length_grouped_order([5, 1, 9, 3, 7, 2, 8], batch_size=2, seed=0, epoch=0)
>>> sorted(order.tolist()) == list(range(7)), len(order)
(True, 7)
>>> (length_grouped_order([5, 1, 9, 3], 2, 0, 1) == length_grouped_order([5, 1, 9, 3], 2, 0, 1)).all()
np.True_
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import Trainer

__all__ = ["length_grouped_order", "LengthGroupedSampler", "LengthGroupedTrainer", "MEGA_BATCHES"]

MEGA_BATCHES = 50  # batches per sorted mega-batch, as transformers' get_length_grouped_indices


def length_grouped_order(lengths, batch_size: int, seed: int, epoch: int, mega: int = MEGA_BATCHES) -> np.ndarray:
    """A permutation of ``range(len(lengths))`` whose consecutive runs of ``batch_size`` have similar lengths.

    Shuffle (seeded by ``(seed, epoch)``), cut into mega-batches of ``mega * batch_size``, sort each by length
    (longest first), cut into batches, shuffle the batches. The one short batch (``n % batch_size`` rows) stays
    last, so a ``DataLoader`` with this ``batch_size`` cuts its batches exactly at the groups' boundaries.
    """
    lengths = np.asarray(lengths)
    n = len(lengths)
    rng = np.random.default_rng([int(seed), int(epoch)])
    perm = rng.permutation(n)
    size = max(1, int(mega) * int(batch_size))
    grouped = np.concatenate([chunk[np.argsort(-lengths[chunk], kind="stable")]
                              for chunk in np.split(perm, range(size, n, size))]) if n else perm
    full = n - n % batch_size
    batches = grouped[:full].reshape(-1, batch_size) if full else grouped[:0].reshape(0, batch_size)
    batches = batches[rng.permutation(len(batches))]
    return np.concatenate([batches.reshape(-1), grouped[full:]])


class LengthGroupedSampler(torch.utils.data.Sampler):
    """The indices of :func:`length_grouped_order` for the epoch set by :meth:`set_epoch` (``Trainer`` calls it
    through accelerate's ``DataLoaderShard.set_epoch`` at the start of every epoch, resumed ones included)."""

    def __init__(self, lengths, batch_size: int, seed: int = 0):
        self.lengths = list(lengths)
        self.batch_size, self.seed, self.epoch = int(batch_size), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        return iter(length_grouped_order(self.lengths, self.batch_size, self.seed, self.epoch).tolist())


class LengthGroupedTrainer(Trainer):
    """``transformers.Trainer`` whose training batches come from :class:`LengthGroupedSampler` over ``lengths``
    (one length per training row), seeded with ``args.data_seed`` (else ``args.seed``).

    >>> trainer = LengthGroupedTrainer(model=model, args=args, train_dataset=rows,
    ...                                lengths=[len(r["input_ids"]) for r in rows])     # doctest: +SKIP
    """

    def __init__(self, *args, lengths, **kw):
        self.train_lengths = list(lengths)
        super().__init__(*args, **kw)

    def _get_train_sampler(self, train_dataset=None):  # transformers' documented hook for the training sampler
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        return LengthGroupedSampler(self.train_lengths, self.args.per_device_train_batch_size, seed)
