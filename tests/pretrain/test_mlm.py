"""Masking statistics (15 %, 80/10/10) within binomial tolerance; specials and padding never masked; wwm."""

import math

import torch

from simlab.pretrain.mlm import MLMCollator, mask_tokens, masked_accuracy, whole_word_selection

Z = 5.0  # a 5-sigma binomial band: a correct implementation fails with probability < 1e-6


def _band(p, n):
    return Z * math.sqrt(p * (1 - p) / n)


def test_masking_rates_and_80_10_10():
    g = torch.Generator().manual_seed(0)
    B, T, V, MASK = 256, 128, 1000, 4
    ids = torch.randint(10, V, (B, T), generator=g)
    special = torch.zeros(B, T, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    special[:, 100:] = True  # padding
    inputs, labels = mask_tokens(ids, special, MASK, V, 0.15, generator=g, random_low=10)
    chosen = labels != -100
    n_cand = int((~special).sum())
    assert not chosen[special].any()
    assert abs(chosen.sum().item() / n_cand - 0.15) < _band(0.15, n_cand)
    assert torch.equal(labels[chosen], ids[chosen])
    n = int(chosen.sum())
    as_mask = (inputs == MASK) & chosen
    unchanged = (inputs == ids) & chosen
    randomised = chosen & ~as_mask & ~unchanged
    assert abs(as_mask.sum().item() / n - 0.8) < _band(0.8, n)
    # a random replacement can draw the original id (prob 1/990): count by the rule, not by equality
    assert abs((randomised.sum().item() + unchanged.sum().item()) / n - 0.2) < _band(0.2, n)
    assert abs(unchanged.sum().item() / n - (0.1 + 0.1 / (V - 10))) < _band(0.1, n)
    assert torch.equal(inputs[~chosen], ids[~chosen])
    assert ((inputs[randomised] >= 10) & (inputs[randomised] < V)).all()


def test_whole_word_selection_takes_whole_words():
    g = torch.Generator().manual_seed(1)
    B, T = 64, 60
    starts = torch.zeros(B, T, dtype=torch.long)
    starts[:, ::3] = 1  # words of three tokens
    special = torch.zeros(B, T, dtype=torch.bool)
    special[:, 0] = True
    starts[:, 1] = 1
    chosen = whole_word_selection(starts, special, 0.15, g)
    assert not chosen[special].any()
    for b in range(B):
        for w in range(3, T, 3):  # every full word is all-or-nothing
            vals = chosen[b, w:w + 3]
            assert vals.all() or not vals.any()
    share = chosen.sum().item() / (~special).sum().item()
    assert abs(share - 0.15) < 0.03  # whole 3-token words: within one word of the target per row


def test_collator_pads_and_keeps_premasked_labels():
    class Tok:
        pad_token_id, mask_token_id, all_special_ids = 0, 4, [0, 1, 2, 3, 4]

        def __len__(self):
            return 50

    coll = MLMCollator(Tok(), mlm_prob=0.5)
    batch = coll([{"input_ids": torch.tensor([2, 10, 11, 3])}, {"input_ids": torch.tensor([2, 12, 3])}])
    assert batch["input_ids"].shape == (2, 4)
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert (batch["labels"][:, 0] == -100).all() and batch["labels"][1, 3] == -100
    held = coll([{"input_ids": torch.tensor([2, 4, 3]), "labels": torch.tensor([-100, 7, -100])}])
    assert held["labels"].tolist() == [[-100, 7, -100]] and held["input_ids"].tolist() == [[2, 4, 3]]


def test_masked_accuracy_counts_only_labelled_positions():
    import numpy as np

    preds = np.array([[1, 2, 3], [4, 5, 6]])
    labels = np.array([[-100, 2, 0], [4, -100, -100]])
    assert masked_accuracy(preds, labels)["masked_accuracy"] == 2 / 3


def test_seeded_masks_do_not_depend_on_the_batch():
    class Tok:
        pad_token_id, mask_token_id, all_special_ids = 0, 4, [0, 1, 2, 3, 4]

        def __len__(self):
            return 500

    coll = MLMCollator(Tok(), mlm_prob=0.3, seed=11)
    items = [{"input_ids": torch.randint(5, 500, (40,), generator=torch.Generator().manual_seed(i)), "idx": i}
             for i in range(6)]
    together = coll(items)
    alone = [coll([it]) for it in items[::-1]][::-1]
    for b in range(6):
        assert torch.equal(together["labels"][b], alone[b]["labels"][0])
        assert torch.equal(together["input_ids"][b], alone[b]["input_ids"][0])
    coll.epoch_fn = lambda: 1  # a new epoch draws new masks
    assert not torch.equal(coll(items)["labels"], together["labels"])
    assert "idx" not in together
