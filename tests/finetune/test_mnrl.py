"""``--objective mnrl``: positive rows and paraphrase groups against brute force, mined negatives that are never the
positive nor a labelled paraphrase, the loss against its formula (and the cached variant against the plain one),
and a tiny run that lowers the loss."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")

from simlab.finetune.data import PairSet, TrainingData  # noqa: E402
from simlab.finetune.mining import choose_negatives, corpus_groups, mine_hard_negatives, nearest  # noqa: E402
from simlab.finetune.triplets import paraphrase_groups, positive_pairs, training_sentences  # noqa: E402


def _components(edges):
    """Brute force: connected components by repeated BFS."""
    adj = defaultdict(set)
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    comp, seen = {}, set()
    for start in adj:
        if start in seen:
            continue
        stack, members = [start], set()
        while stack:
            x = stack.pop()
            if x not in members:
                members.add(x)
                stack.extend(adj[x] - members)
        seen |= members
        for x in members:
            comp[x] = frozenset(members)
    return comp


def test_positive_pairs_and_groups_match_brute_force():
    rng = np.random.default_rng(0)
    words = [f"s{i}" for i in range(60)]
    binary = PairSet()
    binary.extend([str(x) for x in rng.choice(words, 80)], [str(x) for x in rng.choice(words, 80)],
                  list(rng.integers(0, 2, 80)), "b")
    nli = PairSet()
    nli.extend([str(x) for x in rng.choice(words, 40)], [str(x) for x in rng.choice(words, 40)],
               list(rng.integers(2, 5, 40)), "n")
    anchors, positives = positive_pairs([binary, nli])
    want = []
    for ps in (binary, nli):
        for a, b, y in zip(ps.sentences1, ps.sentences2, ps.labels):
            if y in (1, 3) and a != b and (a, b) not in want:
                want.append((a, b))
    assert list(zip(anchors, positives)) == want
    groups, comp = paraphrase_groups(anchors, positives), _components(want)
    for x in comp:
        for y in comp:
            assert (groups[x] == groups[y]) == (comp[x] == comp[y])
    assert training_sentences([binary, nli]) == list(dict.fromkeys(
        s for ps in (binary, nli) for ab in zip(ps.sentences1, ps.sentences2) for s in ab))


def test_faiss_neighbours_match_brute_force_and_choices_keep_out_the_group():
    from simlab.retrieval import exact_search

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 16)).astype(np.float32)
    rows = list(range(0, 200, 3))
    got = nearest(x, rows, 12)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    _, want = exact_search(xn, xn[rows], 12)
    for r, w in zip(rows, want):
        assert got[r].tolist() == w.tolist()  # random directions: no ties
    group = np.arange(200) // 4  # groups of four consecutive rows
    anchor_rows = rows * 2  # each anchor twice: independent draws
    chosen, filled = choose_negatives(got, anchor_rows, group, n=3, lo=2, hi=10, rng=np.random.default_rng(0))
    for a, negs in zip(anchor_rows, chosen):
        ranked = [r for r in got[a].tolist() if r != a]
        assert len(set(negs)) == 3 and all(group[r] != group[a] for r in negs)
        band = [r for r in ranked[1:10] if group[r] != group[a]]
        assert all(r in band for r in negs) or filled > 0
        assert [r for r in band if r in negs] == [r for r in negs if r in band]  # kept in rank order


def _planted():
    """Anchors whose positive and labelled paraphrases are near copies, so the nearest neighbours ARE them."""
    binary = PairSet()
    topics = ["cat sat on mat", "dog ran fast", "red blue big", "猫 坐 在 上", "狗 跑 大 小", "small slow cat",
              "big red dog", "蓝 红 大 小"]
    for topic in topics:
        binary.extend([topic, topic + " the", topic + " a"], [topic + " the", topic + " a", topic + " a the"],
                      [1, 1, 0], "planted")
        binary.extend([topic], [f"{topic} on"], [0], "planted")  # a near copy labelled NOT a paraphrase
    return TrainingData(binary, PairSet(), [], 0, [])


def test_mined_negatives_are_never_the_positive_nor_a_labelled_paraphrase(tiny_model):
    from simlab.encode import Encoder

    data = _planted()
    anchors, positives = positive_pairs([data.binary])
    groups = paraphrase_groups(anchors, positives)
    corpus = training_sentences([data.binary])
    vectors = Encoder(tiny_model).encode(corpus, pooling="last-avg")
    negatives, stats = mine_hard_negatives(vectors, corpus, anchors, groups, n=2, lo=1, hi=4, seed=0)
    comp = _components(zip(anchors, positives))
    for a, p, negs in zip(anchors, positives, negatives):
        assert p not in negs and not set(negs) & comp[a] and a not in negs
    # the rule had work: without it, the band would have offered the positive or a paraphrase for most anchors
    ranked = nearest(vectors, list(range(len(corpus))), 5)
    row = {t: i for i, t in enumerate(corpus)}
    offered = sum(bool({corpus[r] for r in ranked[row[a]][:5]} & (comp[a] - {a})) for a in anchors)
    assert offered >= len(anchors) // 2 and stats["rows"] == len(anchors)
    group = corpus_groups(corpus, groups)
    assert len(set(group.tolist())) == len(set(groups.values())) + sum(t not in groups for t in corpus)


def _mnrl_reference(a, p, negs, scale=20.0):
    """The formula, in float64: −mean log softmax(scale · cos(aᵢ, [p; n]))[i]."""
    def unit(x):
        x = np.asarray(x, dtype=np.float64)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    docs = unit(np.concatenate([p, *negs])) if negs else unit(p)
    s = scale * unit(a) @ docs.T  # (B, B·(1+k))
    s -= s.max(axis=1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    return float(-np.mean(logp[np.arange(len(a)), np.arange(len(a))]))


def test_loss_matches_its_formula_and_the_cached_variant_matches_it(tiny_model):
    import torch

    from simlab.finetune.mnrl import mnrl_loss
    from simlab.finetune.model import build_student

    model, _ = build_student(str(tiny_model), "last-avg", 16)
    model.eval()
    texts = [["the cat sat", "a dog ran", "猫 坐", "red blue", "big small", "on the mat"],
             ["the cat", "dog ran fast", "猫 坐 在", "blue red", "small big", "the mat"],
             ["dog", "cat", "红", "sat ran", "猫", "a a a"]]
    feats = [model.tokenize(col) for col in texts]
    plain = mnrl_loss(model)(feats, None).detach()
    emb = [model.encode(col, convert_to_numpy=True) for col in texts]
    ref = _mnrl_reference(emb[0], emb[1], [emb[2]])
    # float32 forward + softmax over 18 logits of size ≤ 20: a few float32 ulps of the logits
    assert abs(float(plain) - ref) <= 1e-4 * max(1.0, ref)
    grads = []
    for loss in (mnrl_loss(model), mnrl_loss(model, mini_batch_size=2)):
        model.zero_grad()
        value = loss([model.tokenize(col) for col in texts], None)
        value.backward()
        grads.append((float(value.detach()), torch.cat([q.grad.flatten() for q in model.parameters() if q.grad is not None])))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-5)
    torch.testing.assert_close(grads[1][1], grads[0][1], rtol=1e-4, atol=1e-6)  # GradCache: same gradients


def _held_loss(model, rows):
    """The MNRL loss (formula above) on fixed batches of 8 rows in file order, no dropout."""
    model.eval()
    losses = []
    for i in range(0, len(rows) - 7, 8):
        batch = rows[i:i + 8]
        a, p, n = (model.encode([r[key] if key != "negatives" else r[key][0] for r in batch])
                   for key in ("anchor", "positive", "negatives"))
        losses.append(_mnrl_reference(a, p, [n]))
    return float(np.mean(losses))


@pytest.mark.parametrize("extra", [{}, {"mini_batch_size": 4}], ids=["mnrl", "cached"])
def test_a_tiny_mnrl_run_lowers_its_loss(tiny_model, tiny_data, tmp_path, extra):
    from sentence_transformers import SentenceTransformer

    from simlab.finetune.data import load_training_pairs
    from simlab.finetune.model import build_student
    from simlab.finetune.recipe import FinetuneConfig, finetune

    out = tmp_path / "mnrl"
    record = finetune(FinetuneConfig(model=str(tiny_model), out=str(out), data_dir=str(tiny_data), objective="mnrl",
                                     hard_negatives=1, mine_range="1:20", batch_size=8, max_steps=60, lr=3e-3,
                                     save_steps=100, logging_steps=10, threads=1, precision="fp32", examples=False,
                                     **extra), log=lambda m: None)
    lines = (out / "checkpoints" / "hard_negatives.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines[1:]]
    data = load_training_pairs(tiny_data, ["binary", "nli"])
    assert [(r["anchor"], r["positive"]) for r in rows] == list(zip(*positive_pairs([data.binary, data.nli])))
    assert record["mnrl"]["positive_pairs"] == len(rows) and record["training"]["global_step"] == 60
    assert "In-batch negatives (MNRL)" in (out / "README.md").read_text(encoding="utf-8")
    before, _ = build_student(str(tiny_model), "last-avg", 64)
    after = SentenceTransformer(str(out), device="cpu", local_files_only=True)
    assert _held_loss(after, rows) < 0.85 * _held_loss(before, rows)  # 3.05 -> 2.30 when written


def test_a_damaged_mined_file_is_one_line_naming_it(tmp_path):
    from simlab.errors import DataError
    from simlab.finetune.mnrl import _read_mined, _write_mined

    path = tmp_path / "hard_negatives.jsonl"
    _write_mined(path, ["a", "b"], ["a2", "b2"], [["x"], ["y"]], {"rows": 2})
    assert _read_mined(path, ["a", "b"], ["a2", "b2"], 1) == ([["x"], ["y"]], {"rows": 2})
    with pytest.raises(DataError, match=f"{path}:3: does not match"):
        _read_mined(path, ["a", "c"], ["a2", "b2"], 1)
    path.write_bytes(path.read_bytes()[:-9])
    with pytest.raises(DataError, match=f"{path}: damaged"):
        _read_mined(path, ["a", "b"], ["a2", "b2"], 1)


def test_resume_reads_the_mined_rows_back_instead_of_mining(tiny_model, tiny_data, tmp_path):
    from simlab.encode import Encoder
    from simlab.finetune.config import FinetuneConfig
    from simlab.finetune.data import load_training_pairs
    from simlab.finetune.mnrl import build_mnrl_rows

    cfg = FinetuneConfig(model=str(tiny_model), out=str(tmp_path / "o"), objective="mnrl", hard_negatives=2,
                         mine_range="1:30")
    data = load_training_pairs(tiny_data, ["binary", "nli"])
    said = []
    first, groups, stats = build_mnrl_rows(cfg, data, Encoder(tiny_model), tmp_path, said.append)
    again, _, stats2 = build_mnrl_rows(cfg, data, None, tmp_path, said.append)  # no encoder: it must not mine
    assert first.to_dict() == again.to_dict() and stats == stats2 and "reusing" in said[-1]
    assert first.column_names == ["anchor", "positive", "negative_1", "negative_2"]
    for row in first:
        assert groups[row["anchor"]] == groups[row["positive"]]
        assert all(groups.get(row[k], -1) != groups[row["anchor"]] for k in ("negative_1", "negative_2"))
