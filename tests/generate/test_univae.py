"""UniVAE: compact layout == fixed-length padded layout, encoder μ's, training signal, latent utilities."""

from __future__ import annotations

import pytest
import torch

from simlab.generate.masked_forward import roformer_forward
from simlab.generate.seq2seq import pad_rows
from simlab.generate.text import text_ids, univae_row
from simlab.generate.univae import UniVAE, UniVAECollator, normalize_blocks, split_blocks
from simlab.generate.univae_eval import derangement, interpolate, reconstruction, slerp, swap_test
from simlab.generate.vmf import vmf_kl

from .conftest import PAIRS, make_backbone

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOL = 2e-5


def loud_vae(tokenizer, layers=3, n=2, enc_len=12):
    vae = UniVAE(make_backbone(vocab_size=len(tokenizer), layers=layers), num_latent_layers=n, z_dim=8,
                 kappa=16.0, enc_len=enc_len).eval()
    with torch.no_grad():
        for lin in [*vae.up, *vae.down]:
            lin.weight.mul_(50.0)
    return vae


def padded_batch(tokenizer, texts, enc_len):
    rows = [univae_row(tokenizer, text_ids(tokenizer, t, enc_len - 2), enc_len) for t in texts]
    return {"input_ids": pad_rows([r[0] for r in rows], 0), "token_type_ids": pad_rows([r[1] for r in rows], 1),
            "attention_mask": pad_rows([r[2] for r in rows], 0)}


def test_compact_layout_equals_padded_layout(tokenizer):
    vae = loud_vae(tokenizer)
    texts = [a for a, _ in PAIRS[:4]]
    compact = UniVAECollator(tokenizer, max_chars=10)(texts)
    padded = padded_batch(tokenizer, texts, 12)
    assert compact["input_ids"].shape[1] < padded["input_ids"].shape[1]
    a, ta = vae.decoder_logits(compact)
    b, tb = vae.decoder_logits(padded)
    assert torch.equal(ta, tb)
    assert (a - b).abs().max() <= TOL * b.abs().max().clamp_min(1)
    vae.eval()
    with torch.no_grad():
        la, lb = vae(**compact)["loss"].item(), vae(**padded)["loss"].item()
    assert abs(la - lb) <= 1e-5
    # the decoder's start position does not depend on the length: positions start at enc_len
    pos = compact["position_ids"]
    seg = compact["token_type_ids"]
    att = compact["attention_mask"].bool()
    first_dec = [int(pos[r][(seg[r] == 1) & att[r]][0]) for r in range(len(texts))]
    assert first_dec == [12] * len(texts)


def test_encoder_mu_equals_the_full_forward(tokenizer):
    vae = loud_vae(tokenizer)
    texts = [a for a, _ in PAIRS[:3]]
    mus = []
    b = UniVAECollator(tokenizer, 10)(texts)
    with torch.no_grad():
        roformer_forward(vae.backbone.roformer, b["input_ids"], b["token_type_ids"], positions=b["position_ids"],
                         masks=vae._masks(b["token_type_ids"], b["attention_mask"]), hook=vae._hook(collect=mus))
    full = torch.cat(mus, -1)
    enc = vae.encode(tokenizer, texts)
    assert enc.shape == (3, 16)
    assert (enc - full).abs().max() <= TOL
    assert torch.allclose(split_blocks(enc, 2).norm(dim=-1), torch.ones(3, 2), atol=1e-5)


def test_training_uses_the_latent(tokenizer):
    """8 different sentences: a decoder without z can memorise them but must guess the first character
    (log 8 = 2.08 nats); after training, the true z makes that cheap and a shuffled z expensive."""
    torch.manual_seed(0)
    vae = UniVAE(make_backbone(vocab_size=len(tokenizer), layers=2), num_latent_layers=1, z_dim=8,
                 kappa=32.0, enc_len=12)
    texts = [a for a, _ in PAIRS]
    batch = UniVAECollator(tokenizer, 10)(texts)
    opt = torch.optim.Adam(vae.parameters(), lr=5e-3)
    vae.train()
    first = None
    for _ in range(80):
        loss = vae(**batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.3 * first
    res = reconstruction(vae, tokenizer, texts, batch_size=8, greedy_decode=False)
    assert res["true"]["tokens"] == sum(len(t) + 1 for t in texts)  # characters + [SEP]
    # per sentence: the true z beats the best z-free guess of the first character (log 8 = 2.08 nats)
    assert res["true"]["ce_per_sentence"] < res["shuffled"]["ce_per_sentence"] - 1.0
    assert res["true"]["char_acc"] > res["shuffled"]["char_acc"]


def test_latent_utilities(tokenizer):
    vae = loud_vae(tokenizer)
    assert vae.kl_nats() == pytest.approx(2 * vmf_kl(8, 16.0))
    z = vae.sample_prior(5, torch.Generator().manual_seed(0))
    assert torch.allclose(split_blocks(z, 2).norm(dim=-1), torch.ones(5, 2), atol=1e-6)
    zero = torch.zeros(2, 16)
    assert torch.equal(normalize_blocks(zero, 2), zero)
    g = torch.Generator().manual_seed(1)
    for n in range(2, 9):
        p = derangement(n, g)
        assert sorted(p.tolist()) == list(range(n)) and (p != torch.arange(n)).all()
    p, q = torch.nn.functional.normalize(torch.randn(2, 8, generator=g), dim=-1)
    assert torch.allclose(slerp(p, q, 0.0), p) and torch.allclose(slerp(p, q, 1.0), q, atol=1e-6)
    mid = slerp(p, q, 0.5)
    assert abs(float(mid.norm()) - 1) < 1e-6 and abs(float(mid @ p) - float(mid @ q)) < 1e-6
    res = interpolate(vae, tokenizer, PAIRS[0][0], PAIRS[1][0], steps=4)
    assert len(res["texts"]) == 4 and res["dist_to_a"][0] == 0 and res["dist_to_b"][-1] == 0
    sw = swap_test(vae, tokenizer, [PAIRS[0][0], PAIRS[1][0]], draws=2)
    assert set(sw["rows"]) == {"none", "layer 1 (block 0)", "layer 2 (block 1)"}
    assert sw["rows"]["none"]["same_as_reconstruction"] == 1.0
