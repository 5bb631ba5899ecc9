"""UniLM / UniAE / independent masks: brute-force definitions, HF parity, and perturbation tests on a RoFormer."""

from __future__ import annotations

import pytest
import torch

from simlab.generate.masked_forward import roformer_forward
from simlab.models.roformer import RoFormer, RoFormerConfig
from simlab.nn.masks import additive_mask, independent_mask, uniae_mask, unilm_mask, univae_layer_masks

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOL = 1e-5  # float32 forward of a 2-4 layer, hidden-48 encoder: ~10 ulp of O(1) activations


def brute(seg, att, rule):
    """The mask from its definition, one (i, j) at a time."""
    B, T = seg.shape
    out = torch.zeros(B, T, T, dtype=torch.bool)
    for b in range(B):
        idx = [int(seg[b, : k + 1].sum()) for k in range(T)]
        for i in range(T):
            for j in range(T):
                if rule == "unilm":
                    ok = idx[j] <= idx[i]
                else:
                    ok = seg[b, i] == seg[b, j] and idx[j] <= idx[i]
                    ok = ok or (rule == "uniae" and j == 0)
                out[b, i, j] = bool(ok) and bool(att[b, j])
            if not out[b, i].any():
                out[b, i, i] = True
    return out


def random_layout(seed=0, B=4, T=11):
    g = torch.Generator().manual_seed(seed)
    seg = torch.zeros(B, T, dtype=torch.long)
    att = torch.ones(B, T, dtype=torch.long)
    for b in range(B):
        src = int(torch.randint(2, T - 2, (1,), generator=g))
        tgt_end = int(torch.randint(src + 1, T + 1, (1,), generator=g))
        seg[b, src:] = 1
        att[b, tgt_end:] = 0  # right padding of the target side
    return seg, att


@pytest.mark.parametrize("rule,fn", [("unilm", unilm_mask), ("uniae", uniae_mask), ("independent", independent_mask)])
def test_masks_match_definition(rule, fn):
    for seed in range(5):
        seg, att = random_layout(seed)
        assert torch.equal(fn(seg, att), brute(seg, att, rule))


def test_unilm_all_zero_segments_is_fully_visible_and_layer_list():
    seg = torch.zeros(2, 6, dtype=torch.long)
    assert unilm_mask(seg).all()
    seg[:, 3:] = 1
    masks = univae_layer_masks(seg, num_layers=5, num_latent_layers=2)
    assert len(masks) == 5
    assert all(torch.equal(m, independent_mask(seg)) for m in masks[:3])
    assert all(torch.equal(m, uniae_mask(seg)) for m in masks[3:])
    with pytest.raises(ValueError):
        univae_layer_masks(seg, 4, 0)
    add = additive_mask(unilm_mask(seg))
    assert add.dtype == torch.float32 and (add[unilm_mask(seg)] == 0).all() and (add[~unilm_mask(seg)] < -1e30).all()


def tiny(layers=3, seed=0):
    torch.manual_seed(seed)
    cfg = RoFormerConfig(vocab_size=60, hidden_size=48, num_hidden_layers=layers, num_attention_heads=4,
                         intermediate_size=80)
    model = RoFormer(cfg).eval()
    with torch.no_grad():  # sharpen attention so that who-sees-whom matters numerically
        for name, p in model.named_parameters():
            if "query.weight" in name or "key.weight" in name:
                p.mul_(10.0)
    return model


def layout(M=6, N=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 60, (2, M + N), generator=g)
    ids[:, 0] = 2  # [CLS]
    seg = torch.tensor([[0] * M + [1] * N] * 2)
    return ids, seg


def run(model, ids, seg, masks, hook=None):
    with torch.no_grad():
        return roformer_forward(model, ids, seg, masks=masks, hook=hook)[0]


def test_encoder_never_sees_decoder():
    model = tiny()
    ids, seg = layout()
    M = 6
    other = ids.clone()
    other[:, M:] = torch.randint(5, 60, other[:, M:].shape)
    for masks in (unilm_mask(seg), uniae_mask(seg), independent_mask(seg), univae_layer_masks(seg, 3, 1)):
        a, b = run(model, ids, seg, masks), run(model, other, seg, masks)
        assert (a[:, :M] - b[:, :M]).abs().max() <= TOL
        assert (a[:, M:] - b[:, M:]).abs().max() > 1e-3  # the decoder itself did change


def test_independent_layers_decoder_blind_to_encoder():
    model = tiny()
    ids, seg = layout()
    M = 6
    other = ids.clone()
    other[:, :M] = torch.randint(5, 60, (2, M))  # every encoder token, [CLS] included
    masks = independent_mask(seg)
    a, b = run(model, ids, seg, masks), run(model, other, seg, masks)
    assert (a[:, M:] - b[:, M:]).abs().max() <= TOL
    # the UniLM mask over the same change: the decoder does see the source (the check can fail)
    a, b = run(model, ids, seg, unilm_mask(seg)), run(model, other, seg, unilm_mask(seg))
    assert (a[:, M:] - b[:, M:]).abs().max() > 1e-3


def test_uniae_decoder_sees_only_the_cls_vector():
    """UniAE layers: changing encoder tokens other than [CLS] leaves the decoder unchanged as long as the
    [CLS] vector fed to each layer is the same (pinned by a hook, as UniVAE does with its latent)."""
    model = tiny()
    ids, seg = layout()
    M = 6
    pinned = torch.randn(2, 48, generator=torch.Generator().manual_seed(3))
    pin = lambda l, x: torch.cat([pinned[:, None], x[:, 1:]], 1)  # noqa: E731
    other = ids.clone()
    other[:, 1:M] = torch.randint(5, 60, (2, M - 1))
    masks = uniae_mask(seg)
    a, b = run(model, ids, seg, masks, pin), run(model, other, seg, masks, pin)
    assert (a[:, M:] - b[:, M:]).abs().max() <= TOL
    # first layer alone needs no pin: its [CLS] input is the [CLS] embedding
    one = tiny(layers=1)
    a, b = run(one, ids, seg, masks), run(one, other, seg, masks)
    assert (a[:, M:] - b[:, M:]).abs().max() <= TOL
    # without the pin, deeper layers pass encoder information through [CLS] (sensitivity of the check)
    a, b = run(model, ids, seg, masks), run(model, other, seg, masks)
    assert (a[:, M:] - b[:, M:]).abs().max() > 20 * TOL  # one key of many, weak but far above round-off
    # and without column 0 the decoder would not even see [CLS]; with it, changing [CLS] matters
    cls_changed = ids.clone()
    cls_changed[:, 0] = 7
    a, b = run(one, ids, seg, masks), run(one, cls_changed, seg, masks)
    assert (a[:, M:] - b[:, M:]).abs().max() > 1e-3


def test_all_visible_mask_matches_plain_roformer_and_hf():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    hf = transformers.RoFormerModel(transformers.RoFormerConfig(
        vocab_size=60, hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=80,
        max_position_embeddings=64)).eval()
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if "query.weight" in name or "key.weight" in name:
                p.mul_(10.0)
    ours = RoFormer.from_hf(hf).eval()
    ids, seg = layout()
    with torch.no_grad():
        ref = hf(input_ids=ids, token_type_ids=seg).last_hidden_state
        full = torch.ones(2, ids.shape[1], ids.shape[1], dtype=torch.bool)
        assert (run(ours, ids, seg, full) - ref).abs().max() <= TOL
        assert (run(ours, ids, seg, None) - ours(ids, token_type_ids=seg)).abs().max() <= TOL
        # a UniLM mask as a 4D additive mask in HF == the per-layer mask here
        m = unilm_mask(seg)
        ref_m = hf(input_ids=ids, token_type_ids=seg, attention_mask=additive_mask(m)[:, None]).last_hidden_state
        assert (run(ours, ids, seg, m) - ref_m).abs().max() <= TOL
        assert (ref_m - ref).abs().max() > 1e-3
