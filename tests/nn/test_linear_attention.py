"""Linear attention vs the explicit quadratic form, causality, stability, FAVOR+ convergence, RoPE numerator."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F

from simlab.nn.feature_maps import (
    FavorPlus,
    elu_plus_one,
    exp_features,
    favor_features,
    gaussian_orthogonal_random_matrix,
    get_feature_map,
    relu_features,
    softmax_features,
)
from simlab.nn.linear_attention import LinearAttention, linear_attention, linear_attention_step
from simlab.nn.rope import apply_rope

B, H, T, D = 2, 3, 21, 8
MAPS = ["elu", "relu", "exp", "softmax", "favor"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def make_map(name):
    if name == "favor":
        return FavorPlus(D, num_features=32, generator=gen(99)).double()
    return get_feature_map(name)


def qkv(seed=0, dtype=torch.float64, t=T, scale=1.0):
    q, k, v = torch.randn(3, B, H, t, D, dtype=dtype, generator=gen(seed)).unbind(0)
    return q * scale, k * scale, v


def true_phi(fm, x):
    f, c = fm(x)
    return f if c is None else f * torch.exp(c)[..., None]


def quadratic_reference(q, k, v, fm, causal=False, rope=None, mask=None):
    """Σ_j num_ij v_j / Σ_j sim_ij with the n x n matrices written out."""
    pq, pk = true_phi(fm, q), true_phi(fm, k)
    sim = pq @ pk.transpose(-1, -2)  # (B, H, T, T)
    num = rope(pq) @ rope(pk).transpose(-1, -2) if rope is not None else sim
    keep = torch.ones_like(sim, dtype=torch.bool)
    if causal:
        keep = keep & torch.ones(sim.shape[-2:], dtype=torch.bool).tril()
    if mask is not None:
        keep = keep & mask[:, None, None, :].bool()
    sim, num = sim * keep, num * keep
    # convention: a token whose similarities are all 0 (possible with relu) gets output 0, not 0/0
    return torch.nan_to_num((num @ v) / sim.sum(-1, keepdim=True), nan=0.0)


def test_feature_maps_match_their_formulas():
    x = torch.randn(4, 7, D, dtype=torch.float64, generator=gen(1)) * 3
    torch.testing.assert_close(true_phi(elu_plus_one, x), F.elu(x) + 1)
    torch.testing.assert_close(true_phi(exp_features, x), torch.exp(x))
    torch.testing.assert_close(true_phi(relu_features, x), torch.relu(x))
    torch.testing.assert_close(true_phi(softmax_features, x), torch.softmax(x, -1))
    omega = gaussian_orthogonal_random_matrix(20, D, gen(2))
    xs = x * D**-0.25
    ref = torch.exp(xs @ omega.T - (xs**2).sum(-1, keepdim=True) / 2) / 20**0.5  # 7921 eq. (5)
    torch.testing.assert_close(true_phi(functools.partial(favor_features, omega=omega), x), ref)


@pytest.mark.parametrize("name", MAPS)
def test_noncausal_equals_quadratic(name):
    fm = make_map(name)
    q, k, v = qkv(2)
    torch.testing.assert_close(linear_attention(q, k, v, fm), quadratic_reference(q, k, v, fm), atol=1e-10, rtol=1e-9)


@pytest.mark.parametrize("name", MAPS)
@pytest.mark.parametrize("chunk", [1, 4, 16, 64])
def test_causal_equals_masked_quadratic_for_any_chunk_size(name, chunk):
    fm = make_map(name)
    q, k, v = qkv(3)
    out = linear_attention(q, k, v, fm, causal=True, chunk_size=chunk)
    torch.testing.assert_close(out, quadratic_reference(q, k, v, fm, causal=True), atol=1e-10, rtol=1e-9)


@pytest.mark.parametrize("name", MAPS)
def test_causal_future_token_does_not_change_the_past(name):
    fm = make_map(name)
    q, k, v = qkv(4)
    out = linear_attention(q, k, v, fm, causal=True, chunk_size=8)
    t = 13  # inside a chunk, so the intra-chunk path is exercised too
    q2, k2, v2 = q.clone(), k.clone(), v.clone()
    q2[..., t:, :] += 5.0
    k2[..., t:, :] = 40.0  # a huge future key: a sequence-global key max (performer-pytorch #82) would leak it
    v2[..., t:, :] = -7.0
    out2 = linear_attention(q2, k2, v2, fm, causal=True, chunk_size=8)
    torch.testing.assert_close(out2[..., :t, :], out[..., :t, :], atol=1e-12, rtol=0)
    assert (out2[..., t:, :] - out[..., t:, :]).abs().max() > 1e-3  # the change is visible from t on
    # appending tokens leaves earlier outputs unchanged (prefix run vs full run)
    short = linear_attention(q[..., :t, :], k[..., :t, :], v[..., :t, :], fm, causal=True, chunk_size=8)
    torch.testing.assert_close(short, out[..., :t, :], atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("name", ["elu", "exp", "favor"])
@pytest.mark.parametrize("use_rope", [False, True])
def test_recurrent_steps_match_parallel_form(name, use_rope):
    fm = make_map(name)
    q, k, v = qkv(5, t=11)
    rope_full = functools.partial(apply_rope, layout="half") if use_rope else None
    rope_step = (lambda x, pos: apply_rope(x, offset=pos, layout="half")) if use_rope else None
    par = linear_attention(q, k, v, fm, causal=True, chunk_size=4, rope=rope_full)
    state, outs = None, []
    for t in range(11):
        o, state = linear_attention_step(q[..., t, :], k[..., t, :], v[..., t, :], fm, state, rope=rope_step)
        outs.append(o)
    torch.testing.assert_close(torch.stack(outs, -2), par, atol=1e-10, rtol=1e-9)


@pytest.mark.parametrize("causal", [False, True])
def test_rope_numerator_only(causal):
    fm = make_map("elu")
    q, k, v = qkv(6)
    rope0 = functools.partial(apply_rope, layout="interleaved")
    out = linear_attention(q, k, v, fm, causal=causal, rope=rope0, chunk_size=5)
    torch.testing.assert_close(out, quadratic_reference(q, k, v, fm, causal, rope=rope0), atol=1e-10, rtol=1e-9)
    # numerator depends on relative positions only: shifting every position changes nothing
    rope17 = functools.partial(apply_rope, offset=17, layout="interleaved")
    torch.testing.assert_close(linear_attention(q, k, v, fm, causal=causal, rope=rope17, chunk_size=5), out)
    # denominator is the un-rotated one: rotated denominator would give a different result
    assert (out - linear_attention(q, k, v, fm, causal=causal)).abs().max() > 1e-3


def logspace_reference(q, k, v, log_phi, causal):
    """Weights ∝ Σ_r exp(log φ(q)_r + log φ(k)_r), evaluated with logsumexp in float64."""
    lq, lk = log_phi(q.double()), log_phi(k.double())
    logw = torch.logsumexp(lq[..., :, None, :] + lk[..., None, :, :], dim=-1)  # (B, H, T, T)
    if causal:
        logw = logw.masked_fill(~torch.ones(logw.shape[-2:], dtype=torch.bool).tril(), float("-inf"))
    return torch.softmax(logw, -1) @ v.double()


LOG_PHI = {"elu": lambda x: torch.where(x >= 0, torch.log1p(x.clamp_min(0)), x), "exp": lambda x: x}


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("offset", [-1e4, -300.0, 1e3])
@pytest.mark.parametrize("name", ["elu", "exp"])
def test_fp32_exact_under_huge_common_offsets(causal, offset, name):
    """fp32 inputs near -1e4 (naive elu+1 and exp underflow to 0 -> 0/0) or +1e3 (exp overflows):
    the log-space maps still give the exact weights, checked against a float64 logsumexp reference."""
    q, k, v = qkv(7, dtype=torch.float32)
    k = k * 2 + 0.5 * torch.arange(T, dtype=torch.float32)[:, None]  # keys differ by e^{0.5 j} in weight
    q, k = q + offset, k + offset
    out = linear_attention(q, k, v, name, causal=causal, chunk_size=8)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), logspace_reference(q, k, v, LOG_PHI[name], causal), atol=1e-4, rtol=1e-4)
    if offset < 0 or name == "exp":  # the plain fp32 map breaks here (elu+1 at +1e3 is harmless: x + 1)
        naive = true_phi(get_feature_map(name), q.double()).float()
        assert (naive == 0).all() or not torch.isfinite(naive).all()


@pytest.mark.parametrize("causal", [False, True])
def test_fp32_denominators_positive_for_very_negative_inputs(causal):
    """Random inputs of magnitude up to ~4e4: all outputs finite convex combinations of v (den > 0)."""
    q, k, v = qkv(8, dtype=torch.float32)
    q, k = -1e4 * q.abs(), -1e4 * k.abs()
    assert ((F.elu(q) + 1) @ (F.elu(k) + 1).transpose(-1, -2) == 0).any()  # the naive product underflows
    for fm in ["elu", "exp", "softmax", FavorPlus(D, 32, generator=gen(8))]:
        out = linear_attention(q, k, v, fm, causal=causal, chunk_size=8)
        assert torch.isfinite(out).all()
        assert (out >= v.amin(-2, keepdim=True) - 1e-4).all() and (out <= v.amax(-2, keepdim=True) + 1e-4).all()
    # relu: every feature is 0 here; the documented convention is output 0 (never NaN)
    assert (linear_attention(q, k, v, "relu", causal=causal, chunk_size=8) == 0).all()


@pytest.mark.parametrize("name", ["elu", "exp", "softmax", "favor"])
def test_outputs_are_convex_combinations(name):
    q, k, v = qkv(9, scale=3.0)
    out = linear_attention(q, k, v, make_map(name), causal=True, chunk_size=4)
    assert (out >= v.amin(-2, keepdim=True) - 1e-9).all() and (out <= v.amax(-2, keepdim=True) + 1e-9).all()


def test_key_padding_mask_equals_truncation():
    q, k, v = qkv(10)
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[1, 15:] = False
    out = linear_attention(q, k, v, "exp", key_padding_mask=mask)
    torch.testing.assert_close(out[1], linear_attention(q[1:], k[1:, :, :15], v[1:, :, :15], "exp")[0])
    torch.testing.assert_close(out, quadratic_reference(q, k, v, get_feature_map("exp"), mask=mask))
    outc = linear_attention(q, k, v, "elu", causal=True, key_padding_mask=mask, chunk_size=4)
    torch.testing.assert_close(outc, quadratic_reference(q, k, v, get_feature_map("elu"), causal=True, mask=mask))


def softmax_attention(q, k, v):
    return torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, -1) @ v


def test_favor_error_falls_with_feature_count():
    """Mean error vs exact softmax attention over 20 seeds: m = 1024 well below m = 16 (loose bound)."""
    d = 16
    q, k, v = torch.randn(3, 1, 1, 64, d, dtype=torch.float64, generator=gen(11)).unbind(0)
    q, k = q * 0.8, k * 0.8
    exact = softmax_attention(q, k, v)
    err = {}
    for m in (16, 1024):
        errs = []
        for seed in range(20):
            fm = FavorPlus(d, m, generator=gen(1000 + seed)).double()
            errs.append((linear_attention(q, k, v, fm) - exact).pow(2).mean().sqrt().item())
        err[m] = sum(errs) / len(errs)
    assert err[1024] < 0.5 * err[16], err


def test_favor_kernel_estimate_is_unbiased():
    """E_ω[φ(q)ᵀφ(k)] = exp(qᵀk/√d): with many iid features the estimate is within a few % (7921)."""
    d = 8
    q, k = torch.randn(2, 6, d, dtype=torch.float64, generator=gen(12)).unbind(0)
    q, k = q * 0.5, k * 0.5
    omega = gaussian_orthogonal_random_matrix(200_000, d, gen(13), orthogonal=False)
    fq = true_phi(functools.partial(favor_features, omega=omega), q)
    fk = true_phi(functools.partial(favor_features, omega=omega), k)
    torch.testing.assert_close(fq @ fk.T, torch.exp(q @ k.T / d**0.5), rtol=0.05, atol=0)


def test_orthogonal_random_features_and_redraw():
    omega = gaussian_orthogonal_random_matrix(2 * D, D, gen(14))
    block = omega[:D] / omega[:D].norm(dim=-1, keepdim=True)
    torch.testing.assert_close(block @ block.T, torch.eye(D, dtype=torch.float64), atol=1e-10, rtol=0)
    fm = FavorPlus(D, 16, redraw_interval=2)
    w0 = fm.omega.clone()
    fm.eval()
    for _ in range(5):
        fm(torch.randn(3, D))
    assert torch.equal(fm.omega, w0)  # no redraw in eval mode
    fm.train()
    fm(torch.randn(3, D)), fm(torch.randn(3, D))
    assert torch.equal(fm.omega, w0)
    fm(torch.randn(3, D))  # third call: interval reached
    assert not torch.equal(fm.omega, w0)


def test_module_and_bad_inputs():
    q, k, v = qkv(15, dtype=torch.float32)
    att = LinearAttention(D, "favor", num_features=16, causal=True, chunk_size=4)
    assert att(q, k, v).shape == v.shape
    assert sorted(att.state_dict()) == ["favor.omega"]
    with pytest.raises(ValueError, match="FavorPlus"):
        linear_attention(q, k, v, "favor")
    with pytest.raises(ValueError, match="unknown feature map"):
        linear_attention(q, k, v, "gelu")
    with pytest.raises(ValueError, match="T_q == T_k"):
        linear_attention(q[..., :3, :], k, v, "elu", causal=True)
    with pytest.raises(ValueError, match="key_padding_mask"):
        linear_attention(q, k, v, "elu", key_padding_mask=torch.ones(B, T + 1))
    with pytest.raises(ValueError, match="num_features"):
        LinearAttention(D, "elu", num_features=8)


@pytest.mark.parametrize("dtype,jump", [(torch.float64, 100.0), (torch.float64, 300.0), (torch.float32, 60.0)])
@pytest.mark.parametrize("use_rope", [False, True])
def test_causal_key_jumps_both_reference_paths(dtype, jump, use_rope):
    """A key far above all earlier keys inside a chunk: small jumps use one reference per chunk, jumps beyond
    a quarter of the exponent range (177 in fp64, 22 in fp32) switch to per-query references. Both exact."""
    q, k, v = qkv(16, dtype=dtype)
    k = k.clone()
    k[..., 10, :] += jump  # chunk 8..15, token 10
    rope = functools.partial(apply_rope, layout="half") if use_rope else None
    out = linear_attention(q, k, v, "exp", causal=True, chunk_size=8, rope=rope)
    if dtype == torch.float64:
        ref = quadratic_reference(q, k, v, get_feature_map("exp"), causal=True, rope=rope)
        torch.testing.assert_close(out, ref, atol=1e-9, rtol=1e-8)
    else:
        assert not use_rope or torch.isfinite(out).all()
        if not use_rope:
            torch.testing.assert_close(out.double(), logspace_reference(q, k, v, LOG_PHI["exp"], True), atol=1e-4, rtol=1e-4)
    # tokens before the jump are unaffected by it
    base = linear_attention(q[..., :10, :], k[..., :10, :], v[..., :10, :], "exp", causal=True, chunk_size=8, rope=rope)
    torch.testing.assert_close(out[..., :10, :], base, atol=1e-6 if dtype == torch.float32 else 1e-12, rtol=1e-6)


@pytest.mark.parametrize("name", ["elu", "exp", "favor"])
@pytest.mark.parametrize("causal", [False, True])
def test_gradients_match_quadratic_form(name, causal):
    """Training goes through the in-place feature-map ops and both chunked paths: gradients must be exact."""
    fm = make_map(name)
    q, k, v = (t.requires_grad_() for t in qkv(17, t=13))
    r = torch.randn(B, H, 13, D, dtype=torch.float64, generator=gen(18))
    rope = functools.partial(apply_rope, layout="interleaved")
    fast = torch.autograd.grad((linear_attention(q, k, v, fm, causal=causal, chunk_size=4, rope=rope) * r).sum(), (q, k, v))
    ref = torch.autograd.grad((quadratic_reference(q, k, v, fm, causal=causal, rope=rope) * r).sum(), (q, k, v))
    for a, b in zip(fast, ref):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-8)
