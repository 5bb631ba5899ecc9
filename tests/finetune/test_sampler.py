"""Length-grouped batches: every row once per pass, less padding than random batches, no paraphrase group twice in
a batch (when that is possible), a pure function of (seed, epoch), and reshuffled every pass inside a real run."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")

from datasets import Dataset  # noqa: E402

from simlab.finetune.sampler import LengthGroupedBatchSampler, RoundRobinEpochSampler  # noqa: E402


def _dataset(n=500, seed=0):
    rng = np.random.default_rng(seed)
    words = ["猫", "狗", "坐", "跑", "the", "cat", "dog", "sat"]
    lens = rng.integers(1, 60, size=n)
    s1 = [" ".join(rng.choice(words, k)) for k in lens]
    s2 = [" ".join(rng.choice(words, k)) for k in rng.integers(1, 60, size=n)]
    return Dataset.from_dict({"sentence1": s1, "sentence2": s2, "label": [0.0] * n})


def _waste(batches, lengths):
    """Padding a batch costs when padded to its longest row (per column, as the collator pads), brute force."""
    return sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches)


@pytest.mark.parametrize("n,bs,drop_last", [(500, 16, False), (500, 16, True), (33, 8, False), (7, 8, False)])
def test_each_pass_is_a_partition_with_len_batches(n, bs, drop_last):
    s = LengthGroupedBatchSampler(_dataset(n), batch_size=bs, drop_last=drop_last, seed=3)
    for epoch in range(3):
        s.set_epoch(epoch)
        batches = list(s)
        rows = sorted(i for b in batches for i in b)
        assert len(batches) == len(s)
        assert sum(len(b) < bs for b in batches) <= (0 if drop_last else 1)
        if drop_last:
            assert len(rows) == n // bs * bs and len(set(rows)) == len(rows)
        else:
            assert rows == list(range(n))


def test_passes_depend_on_seed_and_epoch_only():
    ds = _dataset()
    a = LengthGroupedBatchSampler(ds, batch_size=16, drop_last=False, seed=1)
    b = LengthGroupedBatchSampler(ds, batch_size=16, drop_last=False, seed=1)  # a fresh one, as after a resume
    b.set_epoch(2)
    a.set_epoch(2)
    assert list(a) == list(b)
    a.set_epoch(3)
    assert list(a) != list(b)
    c = LengthGroupedBatchSampler(ds, batch_size=16, drop_last=False, seed=2)
    c.set_epoch(2)
    assert list(c) != list(b)


def test_grouped_batches_pad_far_less_than_random_ones():
    import torch
    from sentence_transformers.base.sampler import DefaultBatchSampler
    from torch.utils.data import RandomSampler

    ds = _dataset(2000)
    lengths = [len(x) for x in ds["sentence1"]]  # per column: the collator pads each column on its own
    grouped = LengthGroupedBatchSampler(ds.select_columns(["sentence1", "label"]), batch_size=16, drop_last=False)
    random = DefaultBatchSampler(RandomSampler(ds, generator=torch.Generator().manual_seed(0)), batch_size=16,
                                 drop_last=False)
    assert _waste(list(grouped), lengths) < 0.2 * _waste(list(random), lengths)


def test_no_batch_holds_one_paraphrase_group_twice():
    rng = np.random.default_rng(0)
    anchors = [f"q{g}" for g in range(40) for _ in range(3)]  # each question with three paraphrases
    positives = [f"q{g}-p{k}" for g in range(40) for k in range(3)]
    groups = {t: int(t.split("-")[0][1:]) for t in anchors + positives}
    order = rng.permutation(len(anchors))
    ds = Dataset.from_dict({"anchor": [anchors[i] for i in order], "positive": [positives[i] for i in order]})

    def clashes(batches):
        return sum(len(b) - len({groups[ds[i]["anchor"]] for i in b}) for b in batches)

    plain = LengthGroupedBatchSampler(ds, batch_size=16, drop_last=False, seed=0)
    apart = LengthGroupedBatchSampler(ds, batch_size=16, drop_last=False, seed=0, groups=groups)
    assert clashes(list(plain)) > 0  # the rule has work to do here
    for epoch in range(3):
        apart.set_epoch(epoch)
        batches = list(apart)
        assert clashes(batches) == 0 and len(batches) == len(apart) == 8
        assert sorted(i for b in batches for i in b) == list(range(len(ds)))


def test_round_robin_forwards_the_epoch_to_every_stream():
    from torch.utils.data import ConcatDataset

    a, b = _dataset(40, seed=1), _dataset(24, seed=2)
    sa, sb = (LengthGroupedBatchSampler(d, batch_size=4, drop_last=False) for d in (a, b))
    rr = RoundRobinEpochSampler(ConcatDataset([a, b]), batch_samplers=[sa, sb])
    first = list(rr)
    rr.set_epoch(1)
    second = list(rr)
    assert len(first) == len(second) == len(rr) == 12
    assert all(max(x) < 40 for x in first[0::2]) and all(min(x) >= 40 for x in first[1::2])  # 1:1 alternation
    assert first[0::2] != second[0::2] and first[1::2] != second[1::2]


def test_a_real_run_reshuffles_every_pass(tiny_model, tmp_path):
    """Inside transformers' loop (set_epoch through accelerate's data loader): pass 2 is not pass 1 again."""
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss

    from simlab.finetune.model import build_student
    from simlab.finetune.trainer import FinetuneTrainer
    from simlab.train.args import training_args

    seen = []

    class Recording(FinetuneTrainer):
        def training_step(self, model, inputs, *args, **kwargs):
            seen.append(tuple(inputs["sentence1_input_ids"].sum(dim=1).tolist()))
            return super().training_step(model, inputs, *args, **kwargs)

    model, _ = build_student(str(tiny_model), "last-avg", 16)
    ds = _dataset(16, seed=4)
    args = training_args(tmp_path, max_steps=12, batch_size=4, precision="fp32", eval_strategy="no",
                         save_strategy="no", logging_steps=100, args_cls=SentenceTransformerTrainingArguments)
    Recording(model=model, args=args, train_dataset=ds, loss=CoSENTLoss(model)).train()
    passes = [sorted(seen[i:i + 4]) for i in range(0, 12, 4)]  # 4 batches a pass
    assert len(seen) == 12 and passes[0] != passes[1] and passes[1] != passes[2]
