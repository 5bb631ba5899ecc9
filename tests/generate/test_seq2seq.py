"""SimBERT losses against numpy, the UniLM batch layout, the encoder's independence of the target, and
gen_synonyms on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simlab.generate.masked_forward import roformer_forward
from simlab.generate.seq2seq import Seq2SeqCollator, Seq2SeqSim, seq2seq_loss, simbert_loss
from simlab.generate.synonyms import gen_synonyms, generate_candidates
from simlab.nn.masks import unilm_mask

from .conftest import PAIRS, make_backbone

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_simbert_loss_matches_numpy():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(6, 10, generator=g, dtype=torch.float64)
    u = v.numpy() / np.linalg.norm(v.numpy(), axis=1, keepdims=True)
    s = u @ u.T * 20.0
    np.fill_diagonal(s, -1e12)
    s -= s.max(1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(1, keepdims=True))
    ref = -np.mean([logp[i, i ^ 1] for i in range(6)])
    assert abs(float(simbert_loss(v, 20.0)) - ref) < 1e-5  # the loss runs in float32


def test_collator_layout_and_seq2seq_loss_reference(tokenizer):
    col = Seq2SeqCollator(tokenizer, max_chars=32)
    b = col([PAIRS[0], {"a": PAIRS[1][0], "b": PAIRS[1][1]}])
    ids, seg, att = b["input_ids"], b["token_type_ids"], b["attention_mask"]
    assert ids.shape[0] == 4
    a, c = PAIRS[0]
    row0 = tokenizer.convert_ids_to_tokens(ids[0][att[0].bool()].tolist())
    assert row0 == ["[CLS]", *a, "[SEP]", *c, "[SEP]"]
    assert seg[0][att[0].bool()].tolist() == [0] * (len(a) + 2) + [1] * (len(c) + 1)
    row1 = tokenizer.convert_ids_to_tokens(ids[1][att[1].bool()].tolist())
    assert row1 == ["[CLS]", *c, "[SEP]", *a, "[SEP]"]  # the reverse order, adjacent (partner i ^ 1)
    bb = make_backbone(vocab_size=len(tokenizer))
    with torch.no_grad():
        h, _ = roformer_forward(bb.roformer, ids, seg, masks=unilm_mask(seg, att))
        loss = seq2seq_loss(bb, h, ids, seg, att)
        logp = torch.log_softmax(bb.logits(h), -1)  # reference: loop over rows and target positions
        terms = [-logp[r, t - 1, ids[r, t]] for r in range(4) for t in range(1, ids.shape[1])
                 if seg[r, t] == 1 and att[r, t] == 1]
        assert abs(float(loss) - float(torch.stack(terms).mean())) < 1e-5


def test_encoder_vector_ignores_the_target(tokenizer):
    model = Seq2SeqSim(make_backbone(vocab_size=len(tokenizer)))
    col = Seq2SeqCollator(tokenizer)
    b1, b2 = col([PAIRS[0]]), col([(PAIRS[0][0], "花呗怎么还款")])
    with torch.no_grad():
        for b in (b1, b2):
            b["h"], _ = roformer_forward(model.backbone.roformer, b["input_ids"], b["token_type_ids"],
                                         masks=unilm_mask(b["token_type_ids"], b["attention_mask"]))
    assert (b1["h"][0, 0] - b2["h"][0, 0]).abs().max() <= 1e-5
    enc = model.encode(tokenizer, [PAIRS[0][0]])
    ref = torch.nn.functional.normalize(model.pooler(b1["h"][0, 0]), dim=-1).detach().numpy()
    assert np.abs(enc[0] - ref).max() <= 1e-5


def test_training_step_lowers_the_loss(tokenizer):
    torch.manual_seed(0)
    model = Seq2SeqSim(make_backbone(vocab_size=len(tokenizer), sharpen=False)).train()
    batch = Seq2SeqCollator(tokenizer)(PAIRS[:4])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        out = model(**batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        first = first if first is not None else float(out["gen_loss"])
    assert float(out["gen_loss"]) < 0.3 * first and "sim_loss" in out


def test_generation_outputs(tokenizer):
    model = Seq2SeqSim(make_backbone(vocab_size=len(tokenizer))).eval()
    a = generate_candidates(model, tokenizer, "今天天气怎么样", n=6, seed=3, max_len=8)
    assert a == generate_candidates(model, tokenizer, "今天天气怎么样", n=6, seed=3, max_len=8)
    assert len(a) == 6 and all(len(c) <= 8 for c in a)
    res = gen_synonyms(model, tokenizer, "今天天气怎么样", n=12, k=5, seed=0, max_len=8)
    texts = [t for t, _ in res]
    cos = [c for _, c in res]
    assert len(texts) == len(set(texts)) and "今天天气怎么样" not in texts
    assert cos == sorted(cos, reverse=True) and all(-1 - 1e-6 <= c <= 1 + 1e-6 for c in cos)
    vec = model.encode(tokenizer, ["今天天气怎么样"] + texts)
    assert np.allclose(vec[1:] @ vec[0], cos, atol=1e-5)


def test_heldout_sentences_are_cut_like_training_sentences_and_never_seen(tmp_path):
    from simlab.generate.data import _key, load_generation_data
    from simlab.generate.text import cut_sentence

    root = tmp_path / "data"
    long_test = "花呗怎么还款，我想知道今天能不能提前还清全部的欠款以及利息的计算方式"  # 36 chars, cut at the comma
    shared_prefix = "借呗可以提前还吗，另外借呗的额度是多少呢"  # 20 chars; its cut is a training sentence
    for task in ("LCQMC", "BQ", "ATEC", "PAWSX"):
        (root / task).mkdir(parents=True)
        (root / task / f"{task}.valid.data").write_text("借呗可以提前还吗，\t借呗能提前还款吗\t1\n", "utf-8")
        (root / task / f"{task}.test.data").write_text(f"{long_test}\t{shared_prefix}\t0\n", "utf-8")
    (root / "CLUE" / "AFQMC").mkdir(parents=True)
    (root / "CLUE" / "AFQMC" / "train.txt").write_text("今天下雨\t明天下雨\t0\n", "utf-8")
    data = load_generation_data(root, max_chars=16)
    assert data.heldout == [cut_sentence(long_test, 16)] == ["花呗怎么还款，"]
    assert all(len(s) <= 16 for s in data.heldout)
    assert not {_key(s) for s in data.heldout} & {_key(s) for s in data.sentences}
