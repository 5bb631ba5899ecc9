"""The KV cache gives the logits of a full recompute (seq2seq and UniVAE decoders); greedy is deterministic."""

from __future__ import annotations

import pytest
import torch

from simlab.generate.cached_step import make_step, start
from simlab.generate.masked_forward import roformer_forward
from simlab.generate.univae import UniVAE
from simlab.nn.masks import unilm_mask

from .conftest import make_backbone

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOL = 2e-5  # float32 logits of a 3-layer hidden-32 model; cached and full paths sum in different orders


def loud(vae):
    """Latent projections of std ~1 instead of 0.02, so the decoder's use of z is far above round-off."""
    with torch.no_grad():
        for lin in [*vae.up, *vae.down]:
            lin.weight.mul_(50.0)
    return vae


def full_logits(bb, ids, seg):
    h, _ = roformer_forward(bb.roformer, ids, seg, masks=unilm_mask(seg))
    return bb.logits(h)  # (B, T, V)


@torch.no_grad()
def test_seq2seq_cache_equals_full_recompute():
    bb = make_backbone()
    g = torch.Generator().manual_seed(0)
    src = torch.randint(5, 60, (1, 7), generator=g)
    src[0, 0], src[0, -1] = 2, 3
    tgt = torch.randint(5, 60, (1, 9), generator=g)
    ids = torch.cat([src, tgt], 1)
    seg = torch.tensor([[0] * 7 + [1] * 9])
    ref = full_logits(bb, ids, seg)[0, 6:]  # logits predicting each target token and the one after
    logits, state = start(bb, src, torch.zeros_like(src))
    got = [logits[0]]
    step = make_step(bb)
    for t in range(tgt.shape[1]):
        logits, state = step(state, tgt[:, t])
        got.append(logits[0])
    got = torch.stack(got)
    assert got.shape == ref.shape
    assert (got - ref).abs().max() <= TOL * ref.abs().max().clamp_min(1)
    assert state.cache.length == 16
    # reordering / repeating the cache keeps rows aligned with their histories
    rep = state.repeat_interleave(3)
    l3, _ = step(rep, tgt[:, :1].repeat(3, 1)[:, 0])
    l1, _ = step(state, tgt[:, 0])
    assert (l3 - l1).abs().max() <= TOL


@torch.no_grad()
def test_mask_matters_for_the_check():
    """With a causal-free (all visible) mask the full recompute differs: the cache test can fail."""
    bb = make_backbone()
    ids = torch.randint(5, 60, (1, 10), generator=torch.Generator().manual_seed(1))
    seg = torch.tensor([[0] * 4 + [1] * 6])
    h, _ = roformer_forward(bb.roformer, ids, seg, masks=None)
    assert (bb.logits(h) - full_logits(bb, ids, seg)).abs().max() > 50 * TOL


@torch.no_grad()
def test_univae_cached_decoder_equals_full_model_with_encoder():
    torch.manual_seed(0)
    vae = loud(UniVAE(make_backbone(layers=4), num_latent_layers=2, z_dim=8, kappa=16.0, enc_len=10).eval())
    g = torch.Generator().manual_seed(2)
    x = torch.randint(5, 60, (3, 6), generator=g)
    core = torch.cat([torch.full((3, 1), 2), x, torch.full((3, 1), 3)], 1)  # [CLS] x [SEP]  (3, 8)
    enc = torch.cat([core, torch.zeros(3, 2, dtype=torch.long)], 1)  # padded to enc_len 10
    att = torch.cat([torch.ones(3, 8), torch.zeros(3, 2), torch.ones(3, 8)], 1).long()
    batch = {"input_ids": torch.cat([enc, core], 1), "token_type_ids": torch.tensor([[0] * 10 + [1] * 8] * 3),
             "attention_mask": att}
    mu = vae.encode_ids(enc, att[:, :10])  # (3, 16)
    ref, tgt = vae.decoder_logits(batch)  # encoder present, z = μ
    ref = ref.view(3, 7, -1)  # targets: x and [SEP] after the decoder's [CLS]
    logits, state = vae.decode_start(mu, cls_id=2)
    got = [logits]
    step = vae.decode_step()
    for t in range(1, 7):
        logits, state = step(state, core[:, t])
        got.append(logits)
    got = torch.stack(got, 1)
    assert (got - ref).abs().max() <= TOL * ref.abs().max().clamp_min(1)
    # the latent drives the decoder: another z, other logits
    other, _ = vae.decode_start(mu.roll(1, 0), cls_id=2)
    assert (other - got[:, 0]).abs().max() > 50 * TOL


@torch.no_grad()
def test_univae_decoder_ignores_encoder_tokens_given_z():
    """With z given, changing any encoder token leaves every decoder logit unchanged (the decoder sees the
    source only through the latent); with the encoder's own μ it changes."""
    vae = loud(UniVAE(make_backbone(layers=3), num_latent_layers=1, z_dim=8, kappa=16.0, enc_len=8).eval())
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(5, 60, (2, 14), generator=g)
    seg = torch.tensor([[0] * 8 + [1] * 6] * 2)
    batch = {"input_ids": ids, "token_type_ids": seg, "attention_mask": torch.ones_like(ids)}
    other = dict(batch, input_ids=ids.clone())
    other["input_ids"][:, :8] = torch.randint(5, 60, (2, 8), generator=g)
    z = torch.nn.functional.normalize(torch.randn(2, 8, generator=g), dim=-1)
    a, _ = vae.decoder_logits(batch, z)
    b, _ = vae.decoder_logits(other, z)
    assert (a - b).abs().max() <= TOL
    a, _ = vae.decoder_logits(batch)
    b, _ = vae.decoder_logits(other)
    assert (a - b).abs().max() > 50 * TOL


@torch.no_grad()
def test_greedy_decode_deterministic(tokenizer):
    from simlab.generate.univae_eval import decode

    vae = UniVAE(make_backbone(vocab_size=len(tokenizer), layers=3), num_latent_layers=2, z_dim=8, enc_len=12)
    z = vae.sample_prior(4, torch.Generator().manual_seed(0))
    a, b = decode(vae, tokenizer, z), decode(vae, tokenizer, z)
    assert a == b and len(a) == 4
    # a batch of 4 decodes each row as it would alone
    assert decode(vae, tokenizer, z[2:3]) == a[2:3]
    beams = decode(vae, tokenizer, z[:2], "beam", beam=3)
    assert len(beams) == 2
