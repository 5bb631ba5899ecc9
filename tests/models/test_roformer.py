"""simlab RoFormer vs transformers.RoFormerModel (random-initialised small configs) and its linear switch."""

from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

from simlab.models.roformer import RoFormer, RoFormerConfig, convert_hf_state_dict  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = dict(
    vocab_size=97, hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=80,
    max_position_embeddings=64, type_vocab_size=2,
)


def hf_model(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = transformers.RoFormerConfig(**{**SMALL, **kw})
    model = transformers.RoFormerModel(cfg).eval()
    with torch.no_grad():  # LayerNorms start at (1, 0) and std-0.02 q/k give near-uniform attention:
        for name, p in model.named_parameters():  # make both matter so the parity test can fail
            if "LayerNorm" in name:
                p.add_(0.1 * torch.randn_like(p))
            if "query.weight" in name or "key.weight" in name:
                p.mul_(10.0)
    return model


def inputs(seed=1, B=3, T=19, vocab=97):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 12:] = 0  # padding
    mask[2, 5:] = 0
    types = torch.randint(0, 2, (B, T), generator=g)
    return ids, mask, types


@pytest.mark.parametrize(
    "kw",
    [{}, {"rotary_value": True}, {"embedding_size": 32}, {"hidden_act": "gelu_new"}],
    ids=["base", "rotary_value", "embedding_project", "gelu_new"],
)
def test_state_dict_parity_with_hf(kw):
    hf = hf_model(**kw)
    ours = RoFormer.from_hf(hf).eval()
    ids, mask, types = inputs()
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        out = ours(ids, attention_mask=mask, token_type_ids=types)
    keep = mask.bool()
    assert (out - ref)[keep].abs().max().item() <= 1e-5
    assert (out - ref).abs().max().item() <= 1e-5  # padded positions too (they still see the real tokens)
    with torch.no_grad():  # without a mask and token types
        assert (ours(ids) - hf(input_ids=ids).last_hidden_state).abs().max().item() <= 1e-5


def test_strict_load_and_the_test_can_fail():
    hf = hf_model()
    cfg = RoFormerConfig.from_hf(hf.config)
    ours = RoFormer(cfg).eval()
    ours.load_state_dict(convert_hf_state_dict(hf.state_dict(), cfg), strict=True)
    ids, mask, _ = inputs()
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        assert (ours(ids, mask) - ref).abs().max() <= 1e-5
        # a wrong RoPE layout (rotate-half instead of interleaved) breaks parity: the check is sensitive
        for layer in ours.encoder.layer:
            layer.attention.self.rope.layout = "half"
            layer.attention.self.rope._len = 0
        assert (ours(ids, mask) - ref).abs().max() > 1e-3


def test_head_checkpoint_keys_and_bad_table():
    torch.manual_seed(0)
    mlm = transformers.RoFormerForMaskedLM(transformers.RoFormerConfig(**SMALL)).eval()
    ours = RoFormer.from_hf(mlm.roformer)
    sd = convert_hf_state_dict(mlm.state_dict(), ours.config)  # 'roformer.' prefix stripped, 'cls.' dropped
    assert set(sd) == set(ours.state_dict())
    bad = dict(mlm.roformer.state_dict())
    bad["encoder.embed_positions.weight"] = torch.zeros_like(bad["encoder.embed_positions.weight"])
    with pytest.raises(ValueError, match="sinusoidal"):
        convert_hf_state_dict(bad, ours.config)


@pytest.mark.parametrize("feature_map", ["elu", "exp", "favor"])
def test_linear_attention_switch_loads_weights_and_runs(feature_map):
    hf = hf_model()
    extra = {"num_features": 32} if feature_map == "favor" else {}
    ours = RoFormer.from_hf(hf, attention="linear", feature_map=feature_map, **extra).eval()
    ids, mask, _ = inputs()
    with torch.no_grad():
        out = ours(ids, mask)
        ref = hf(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.isfinite(out).all()
    assert (out - ref).abs().max() > 1e-3  # a different attention: not silently the softmax path
    # padding is respected: appending padded tokens does not change the real tokens' outputs
    with torch.no_grad():
        short = ours(ids[2:, :5], mask[2:, :5])
    torch.testing.assert_close(out[2:, :5], short, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("attention", ["softmax", "linear"])
def test_causal_encoder_never_sees_the_future(attention):
    cfg = RoFormerConfig(**SMALL, causal=True, attention=attention, chunk_size=4)
    torch.manual_seed(0)
    model = RoFormer(cfg).eval()
    ids, _, _ = inputs(B=3, T=15)
    ids2 = ids.clone()
    ids2[:, 9:] = 5
    with torch.no_grad():
        a, b = model(ids), model(ids2)
    torch.testing.assert_close(a[:, :9], b[:, :9], atol=1e-6, rtol=1e-6)
    assert (a[:, 9:] - b[:, 9:]).abs().max() > 1e-3


def test_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        RoFormerConfig(hidden_size=50, num_attention_heads=4)
    with pytest.raises(ValueError, match="attention"):
        RoFormerConfig(attention="flash")
    with pytest.raises(ValueError, match="rotary_value"):
        RoFormerConfig(rotary_value=True, attention="linear")
    with pytest.raises(ValueError, match="hidden_act"):
        RoFormerConfig(hidden_act="mish")
    model = RoFormer(RoFormerConfig(**SMALL))
    with pytest.raises(ValueError, match="input_ids"):
        model(torch.zeros(5, dtype=torch.long))
