"""The two CLUE recipes and the length-grouped batches (issue 22 item 3).

- The ``short`` recipe moves a fresh head off the label prior within 50 steps on a fixture task (a random BERT of
  e5-small's width, whose pooled features already separate the classes); the 8739 recipe (AdaFactor, no warmup)
  does not: its std-0.02 head moves at most lr·RMS(W) ≈ 1e-5 per entry per step, as issue 22 measured.
- The AdamW groups: the head's step is ``head_lr_ratio`` times the backbone's, decay only on matrices (Adam's first
  step, computed by hand).
- Length-grouped batches: a permutation, batches of similar length (padding near a sorted order's, far below a
  shuffle's), a pure function of (seed, epoch), and the batches ``Trainer`` actually draws.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from experiments.clue_head_lr import fixture_bert, fixture_task, head_run
from simlab.train.length_groups import length_grouped_order


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipes")
    return fixture_bert(root / "bert", hidden=384), *fixture_task(root / "data"), root


def test_short_recipe_leaves_the_label_prior_in_50_steps_and_8739_does_not(fixture, one_torch_thread):
    model, train, dev, root = fixture
    short = head_run(model, train, dev, root / "short", 50, recipe="short")
    exact = head_run(model, train, dev, root / "8739", 50, recipe="8739")
    assert short["floor"] == exact["floor"] == pytest.approx(0.675)  # 70/30 prior: the majority class floor
    # short: predictions follow the input (not one class), beat the floor by far, and beat the prior's entropy
    assert short["majority_share"] < 0.9 and short["dev_acc"] >= short["floor"] + 0.2
    assert short["dev_ce"] < short["h_prior"] - 0.2
    # 8739: every dev prediction is still the majority class, and the head barely moved
    assert exact["majority_share"] == 1.0 and exact["dev_acc"] == pytest.approx(exact["floor"])
    lr = 5e-4  # AdaFactor's step per entry is at most lr · RMS(W) (update clipping keeps RMS(u) ≤ 1)
    assert exact["per_step"] <= lr * exact["rms0"] <= 1.2e-5
    assert short["per_step"] >= 10 * exact["per_step"] and short["head_moved"] >= 10 * exact["head_moved"]


def test_adamw_groups_give_the_head_its_ratio_and_decay_only_matrices():
    from types import SimpleNamespace

    from simlab.clue.recipes import build_optimizer

    torch.manual_seed(0)
    model = torch.nn.ModuleDict({"backbone": torch.nn.Linear(6, 5), "head": torch.nn.Linear(5, 3)})
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    grads = {n: torch.randn_like(p) for n, p in model.named_parameters()}
    for n, p in model.named_parameters():
        p.grad = grads[n].clone()
    lr, ratio, wd, eps = 2e-5, 10.0, 0.01, 1e-8
    build_optimizer(model, SimpleNamespace(recipe="short", lr=lr, head_lr_ratio=ratio)).step()
    for n, p in model.named_parameters():
        rate = lr * ratio if n.startswith("head") else lr
        decay = wd if p.ndim >= 2 else 0.0
        g = grads[n].double()  # Adam's first step, bias-corrected: m̂ = g, v̂ = g², update g / (|g| + ε)
        want = before[n].double() * (1 - rate * decay) - rate * g / (g.abs() + eps)
        torch.testing.assert_close(p.detach().double(), want, rtol=0, atol=4 * 2**-24 * float(want.abs().max()))


def _padding(lengths, order, batch):
    lengths = np.asarray(lengths)[order]
    return sum(int(chunk.max() * len(chunk) - chunk.sum()) for chunk in np.split(lengths, range(batch, len(order), batch)))


def test_length_grouped_order_is_a_seeded_permutation_of_similar_length_batches():
    rng = np.random.default_rng(3)
    lengths = rng.integers(4, 128, size=1003)
    a = length_grouped_order(lengths, 8, seed=1, epoch=0)
    assert sorted(a.tolist()) == list(range(1003))
    assert (a == length_grouped_order(lengths, 8, seed=1, epoch=0)).all()  # (seed, epoch) decide it alone
    assert not (a == length_grouped_order(lengths, 8, seed=1, epoch=1)).all()
    assert not (a == length_grouped_order(lengths, 8, seed=2, epoch=0)).all()
    sorted_pad = _padding(lengths, np.argsort(lengths), 8)  # the least padding any order can have
    shuffled_pad = np.mean([_padding(lengths, rng.permutation(1003), 8) for _ in range(5)])
    grouped_pad = _padding(lengths, a, 8)
    # a mega-batch sorts 400 random rows: its gaps between neighbouring lengths are ~1003/400 of a full sort's
    assert grouped_pad <= 1.5 * (1003 / 400) * sorted_pad and grouped_pad < shuffled_pad / 20


def test_trainer_draws_the_grouped_batches_of_each_epoch(tmp_path, one_torch_thread):
    from transformers import TrainingArguments

    from simlab.clue.batching import Collator
    from simlab.train.length_groups import LengthGroupedTrainer

    rng = np.random.default_rng(0)
    rows = [{"input_ids": [1] * int(n), "labels": 0} for n in rng.integers(3, 40, size=37)]
    args = TrainingArguments(str(tmp_path), per_device_train_batch_size=4, seed=9, data_seed=9, use_cpu=True,
                             report_to="none", remove_unused_columns=False)
    trainer = LengthGroupedTrainer(model=torch.nn.Linear(1, 1), args=args, train_dataset=rows,
                                   data_collator=Collator(pad_id=0, kind="classify"),
                                   lengths=[len(r["input_ids"]) for r in rows])
    loader = trainer.get_train_dataloader()
    for epoch in (0, 1):
        loader.set_epoch(epoch)  # what Trainer does at each epoch, resumed ones included
        widths = [int(b["input_ids"].shape[1]) for b in loader]
        order = length_grouped_order([len(r["input_ids"]) for r in rows], 4, seed=9, epoch=epoch)
        want = [max(len(rows[i]["input_ids"]) for i in chunk) for chunk in np.split(order, range(4, 37, 4))]
        assert widths == want


def test_recipe_choice_reaches_the_trainer(tmp_path, one_torch_thread):
    from transformers import BertConfig, BertModel

    from simlab.clue.batching import Collator
    from simlab.clue.config import ClueConfig, resolved
    from simlab.clue.model import ClueModel
    from simlab.clue.recipes import build_clue_trainer
    from simlab.train.optim import AdaFactor

    cfg_bert = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=32, max_position_embeddings=32)
    model = ClueModel(BertModel(cfg_bert, add_pooling_layer=False), "classify", num_labels=2)
    rows = [{"input_ids": [1, 5, 2], "labels": 0}] * 8
    short = build_clue_trainer(model, rows, Collator(0, "classify"), tmp_path / "s",
                               resolved(ClueConfig(task="afqmc", max_steps=10, precision="fp32")))
    assert isinstance(short.optimizer, torch.optim.AdamW) and short.args.lr_scheduler_type == "linear"
    assert sorted({g["lr"] for g in short.optimizer.param_groups}) == [1e-4, 3e-3] and short.args.max_grad_norm == 1
    exact = build_clue_trainer(model, rows, Collator(0, "classify"), tmp_path / "e",
                               resolved(ClueConfig(task="afqmc", recipe="8739", max_steps=10, precision="fp32")))
    assert isinstance(exact.optimizer, AdaFactor) and exact.args.lr_scheduler_type == "constant"
    assert exact.args.max_grad_norm == 0 and exact.args.warmup_steps == 0
