"""GlobalPointer scores and its two losses against numpy formulas (kexue.fm 8373, 7359; bert4keras layers)."""

import numpy as np
import torch

from simlab.nn.globalpointer import (
    NEG_INF,
    GlobalPointer,
    globalpointer_ner_loss,
    globalpointer_span_crossentropy,
    multilabel_categorical_crossentropy,
)

EPS32 = np.finfo(np.float32).eps


def np_rope(x):
    """bert4keras SinusoidalPositionEmbedding('zero') + the GlobalPointer rotation, numpy float64, x (L, d)."""
    L, d = x.shape
    pos = np.arange(L)[:, None]
    theta = 10000.0 ** (-2 * np.arange(d // 2) / d)
    emb = np.stack([np.sin(pos * theta), np.cos(pos * theta)], axis=-1).reshape(L, d)  # [sin0, cos0, sin1, ...]
    cos_pos = np.repeat(emb[:, 1::2], 2, axis=-1)
    sin_pos = np.repeat(emb[:, ::2], 2, axis=-1)
    x2 = np.stack([-x[:, 1::2], x[:, ::2]], axis=-1).reshape(L, d)
    return x * cos_pos + x2 * sin_pos


def np_globalpointer(h, W, heads, head_size, mask):
    """(L, D) hidden, dense kernel W (2·heads·head_size, D) -> (heads, L, L) scores with masks, numpy."""
    L = h.shape[0]
    x = (h @ W.T).reshape(L, heads, 2 * head_size)
    out = np.zeros((heads, L, L))
    for a in range(heads):
        q, k = np_rope(x[:, a, :head_size]), np_rope(x[:, a, head_size:])
        s = q @ k.T / np.sqrt(head_size)
        s -= (1 - np.outer(mask, mask)) * NEG_INF
        s -= np.tril(np.ones((L, L)), -1) * NEG_INF
        out[a] = s
    return out


def test_globalpointer_matches_numpy():
    torch.manual_seed(0)
    B, L, D, H, d = 2, 7, 12, 3, 4
    gp = GlobalPointer(D, H, d)
    h = torch.randn(B, L, D)
    mask = torch.ones(B, L)
    mask[1, 5:] = 0
    got = gp(h, mask).detach().double().numpy()
    W = gp.dense.weight.detach().double().numpy()
    for b in range(B):
        ref = np_globalpointer(h[b].double().numpy(), W, H, d, mask[b].numpy())
        valid = ref > -NEG_INF / 2
        np.testing.assert_array_equal(got[b] > -NEG_INF / 2, valid)
        scale = np.abs(ref[valid]).max()
        np.testing.assert_allclose(got[b][valid], ref[valid], rtol=0, atol=64 * EPS32 * max(scale, 1.0))


def test_scores_depend_on_relative_position_only():
    """RoPE: shifting the same two tokens keeps their (start, end) score."""
    torch.manual_seed(1)
    gp = GlobalPointer(8, 1, 4)
    a, b = torch.randn(8), torch.randn(8)
    filler = torch.zeros(8)
    seq1 = torch.stack([a, b, filler, filler, filler])[None]
    seq2 = torch.stack([filler, filler, a, b, filler])[None]
    s1, s2 = gp(seq1)[0, 0, 0, 1].detach(), gp(seq2)[0, 0, 2, 3].detach()
    torch.testing.assert_close(s1, s2, rtol=0, atol=64 * EPS32 * max(abs(float(s1)), 1.0))


def np_mcce(y_true, y_pred):
    """log(1 + Σ_neg e^s) + log(1 + Σ_pos e^{-s}) per row (kexue.fm/archives/7359 eq. (11))."""
    out = []
    for t, s in zip(y_true, y_pred):
        neg, pos = s[t == 0], s[t == 1]
        out.append(np.log1p(np.exp(neg).sum()) + np.log1p(np.exp(-pos).sum()))
    return np.array(out)


def test_multilabel_categorical_crossentropy_matches_numpy_and_gradient():
    rng = np.random.default_rng(0)
    y_pred = rng.normal(scale=3, size=(6, 9))
    y_true = (rng.random((6, 9)) < 0.3).astype(np.float64)
    y_true[0] = 0  # a row without positives
    got = multilabel_categorical_crossentropy(torch.tensor(y_true), torch.tensor(y_pred)).numpy()
    np.testing.assert_allclose(got, np_mcce(y_true, y_pred), rtol=1e-12, atol=0)
    # analytic gradient vs central differences of the numpy formula (float64)
    x = torch.tensor(y_pred, requires_grad=True)
    multilabel_categorical_crossentropy(torch.tensor(y_true), x).sum().backward()
    num = np.zeros_like(y_pred)
    h = 1e-6
    for i in range(y_pred.shape[0]):
        for j in range(y_pred.shape[1]):
            up, dn = y_pred.copy(), y_pred.copy()
            up[i, j] += h
            dn[i, j] -= h
            num[i, j] = (np_mcce(y_true[i:i + 1], up[i:i + 1])[0] - np_mcce(y_true[i:i + 1], dn[i:i + 1])[0]) / (2 * h)
    np.testing.assert_allclose(x.grad.numpy(), num, rtol=0, atol=1e-6)


def test_masked_cells_do_not_change_the_losses():
    rng = np.random.default_rng(2)
    s = torch.tensor(rng.normal(size=(1, 2, 4, 4)))
    s_masked = s.clone()
    s_masked[..., 3] -= NEG_INF  # an excluded column, never a gold cell
    labels = torch.zeros(1, 2, 4, 4, dtype=torch.float64)
    labels[0, 0, 0, 1] = 1
    keep = torch.ones(4, 4, dtype=torch.bool)
    keep[:, 3] = False
    ref = np_mcce(labels.reshape(2, 16)[:, keep.reshape(-1)].numpy(), s.reshape(2, 16)[:, keep.reshape(-1)].numpy())
    np.testing.assert_allclose(float(globalpointer_ner_loss(s_masked, labels)), ref.mean(), rtol=1e-6)


def test_span_crossentropy_matches_numpy():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(3, 5, 5)).astype(np.float32)
    start, end = np.array([0, 2, 4]), np.array([0, 3, 4])
    flat = logits.reshape(3, 25).astype(np.float64)
    lse = np.log(np.exp(flat - flat.max(1, keepdims=True)).sum(1)) + flat.max(1)
    ref = np.mean(lse - flat[np.arange(3), start * 5 + end])
    got = float(globalpointer_span_crossentropy(torch.tensor(logits), torch.tensor(start), torch.tensor(end)))
    np.testing.assert_allclose(got, ref, rtol=16 * EPS32)
