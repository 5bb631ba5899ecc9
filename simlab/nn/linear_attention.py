"""Linear attention sim(q, k) = φ(q)ᵀφ(k), non-causal and causal (chunked), with RoPE in the numerator.

kexue.fm/archives/7546 eq. (2)-(4), kexue.fm/archives/8338, kexue.fm/archives/8265 eq. (19):

    out_i = Σ_j [R_i φ(q_i)]ᵀ [R_j φ(k_j)] v_j / Σ_j φ(q_i)ᵀ φ(k_j)

(R = RoPE applied to the features, numerator only, as 8265 prescribes; without ``rope`` both use φ.)
Non-causal: φ(Q) (φ(K)ᵀ V) costs O(n m d_v). Causal: chunks of C tokens; inside a chunk the masked
quadratic form, across chunks a carried state S = Σ φ(k_j) v_jᵀ and z = Σ φ(k_j): O(n C m + n m d_v) time,
memory linear in n.

Feature maps return (features, log_scale) (see feature_maps.py). Key log-scales c_j are re-applied
relative to a reference that cancels between numerator and denominator, so the result is exact:
non-causal, the maximum over keys; causal, a prefix statistic only (never a future one, unlike the global
key max of performer-pytorch #82) — the running max at each chunk's first token, or, when a key in the
chunk jumps far above it (e^22 in fp32), each query's own running max m_i = max_{j≤i} c_j.

>>> import torch
>>> q, k, v = torch.randn(3, 1, 2, 10, 8).unbind(0)                 # (B, H, T, D)
>>> a = linear_attention(q, k, v, "elu", causal=True, chunk_size=4)
>>> b = linear_attention(q, k, v, "elu", causal=True, chunk_size=3)
>>> torch.allclose(a, b, atol=1e-5)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from simlab.nn.feature_maps import FavorPlus, FeatureMap, get_feature_map

Rope = Callable[[torch.Tensor], torch.Tensor]


def _key_weights(ck: torch.Tensor | None, fk: torch.Tensor, mask: torch.Tensor | None):
    """Zero padded keys; return features and log-scales (finfo.min for padded keys)."""
    if ck is None:
        ck = torch.zeros(fk.shape[:-1], dtype=fk.dtype, device=fk.device)
    if mask is not None:
        if mask.shape != (fk.shape[0], fk.shape[-2]):
            raise ValueError(f"key_padding_mask must have shape (B, T_k) = {(fk.shape[0], fk.shape[-2])}, got {tuple(mask.shape)}")
        keep = mask.to(torch.bool)[:, None, :]  # (B, 1, T)
        fk = fk * keep[..., None]
        ck = ck.masked_fill(~keep, torch.finfo(ck.dtype).min)
    return fk, ck


def linear_attention_features(
    fq: torch.Tensor,
    fk: torch.Tensor,
    v: torch.Tensor,
    key_log_scale: torch.Tensor | None = None,
    *,
    causal: bool = False,
    rope: Rope | None = None,
    key_padding_mask: torch.Tensor | None = None,
    chunk_size: int = 64,
) -> torch.Tensor:
    """Linear attention on precomputed features fq (B, H, Tq, m), fk (B, H, Tk, m), v (B, H, Tk, dv).

    φ(k_j) = fk_j · exp(key_log_scale_j). ``rope`` rotates the (B, H, T, m) features of the numerator.
    """
    if fq.shape[-1] != fk.shape[-1] or fk.shape[-2] != v.shape[-2]:
        raise ValueError(f"shape mismatch: fq {tuple(fq.shape)}, fk {tuple(fk.shape)}, v {tuple(v.shape)}")
    fk, ck = _key_weights(key_log_scale, fk, key_padding_mask)
    if causal:
        if fq.shape[-2] != fk.shape[-2]:
            raise ValueError(f"causal attention needs T_q == T_k, got {fq.shape[-2]} and {fk.shape[-2]}")
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        return _causal_chunked(fq, fk, ck, v, rope, chunk_size)
    w = torch.exp(ck - ck.amax(dim=-1, keepdim=True))[..., None]  # (B, H, Tk, 1); common factor cancels
    if rope is None:  # numerator and denominator in one pass: v gets a column of ones
        out = fq @ (fk.transpose(-1, -2) @ _values_and_ones(v, w))  # (B, H, Tq, dv+1)
        return out[..., :-1] / out[..., -1:].clamp_min(torch.finfo(out.dtype).tiny)
    rq, rk = rope(fq), rope(fk)
    num = rq @ (rk.transpose(-1, -2) @ (v * w))  # (B, H, Tq, m) @ (B, H, m, dv) -> (B, H, Tq, dv)
    den = fq @ (fk.transpose(-1, -2) @ w)  # (B, H, Tq, 1)
    return num / den.clamp_min(torch.finfo(den.dtype).tiny)


def _causal_chunked(fq, fk, ck, v, rope: Rope | None, C: int) -> torch.Tensor:
    B, H, T, m = fq.shape
    rq, rk = (rope(fq), rope(fk)) if rope is not None else (fq, fk)
    N = -(-T // C)
    pad = N * C - T
    if pad:
        fq, fk, rq, rk, v = (F.pad(t, (0, 0, 0, pad)) for t in (fq, fk, rq, rk, v))
        ck = F.pad(ck, (0, pad), value=torch.finfo(ck.dtype).min)
    run_max = torch.cummax(ck, dim=-1).values  # (B, H, Tp): m_i = max_{j<=i} c_j, a prefix statistic
    ref = run_max[..., ::C]  # (B, H, N): running max at each chunk's first token
    chunk = lambda t: t.reshape(B, H, N, C, *t.shape[3:])  # noqa: E731
    fq, fk, rq, rk, v, ck, run_max = map(chunk, (fq, fk, rq, rk, v, ck, run_max))
    delta = ck - ref[..., None]  # (B, H, N, C): key log-weight relative to its chunk's reference
    # Fast path: one reference per chunk. Exact whenever no key in a chunk exceeds the chunk-start maximum
    # by more than a quarter of the dtype's exponent range (e^22 in fp32); otherwise per-pair references.
    if delta.amax().item() <= 0.25 * math.log(torch.finfo(ck.dtype).max):
        out = _causal_shared_reference(fq, fk, rq, rk, v, delta, ref, rope is not None)
    else:
        out = _causal_per_query_reference(fq, fk, rq, rk, v, ck, run_max, rope is not None)
    return out.reshape(B, H, N * C, -1)[:, :, :T]


def _needs_grad(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def _scan(local: torch.Tensor, decay: torch.Tensor, inner: bool) -> torch.Tensor:
    """Exclusive scan over chunks (dim 2): state_0 = 0 and state_{n+1} = decay_n · (state_n + local_n)
    (``inner``) or decay_n · state_n + local_n. Inference writes the states in place."""
    B, H, N = local.shape[:3]
    decay = decay.reshape(B, H, N - 1, *[1] * (local.ndim - 3))
    if _needs_grad(local, decay):
        state = torch.zeros_like(local[:, :, 0])
        states = [state]
        for n in range(N - 1):
            d, x = decay[:, :, n], local[:, :, n]
            state = d * (state + x) if inner else d * state + x
            states.append(state)
        return torch.stack(states, dim=2)
    states = torch.empty_like(local)
    states[:, :, 0].zero_()
    for n in range(N - 1):
        if inner:
            torch.add(states[:, :, n], local[:, :, n], out=states[:, :, n + 1]).mul_(decay[:, :, n])
        else:
            torch.addcmul(local[:, :, n], decay[:, :, n], states[:, :, n], out=states[:, :, n + 1])
    return states


def _values_and_ones(v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """[v·w, w] of shape (..., dv+1): one matmul then gives numerator and denominator together."""
    if _needs_grad(v, w):
        return torch.cat([v, torch.ones_like(w)], dim=-1) * w
    out = v.new_empty(*v.shape[:-1], v.shape[-1] + 1)
    torch.mul(v, w, out=out[..., :-1])
    out[..., -1:] = w
    return out


def _causal_shared_reference(fq, fk, rq, rk, v, delta, ref, rotated: bool):
    """Weights exp(c_j - r_n) with r_n = running max at the start of chunk n (from past tokens only)."""
    w = torch.exp(delta)[..., None]  # (B, H, N, C, 1)
    # state of chunk n: Σ_{j<start(n)} φ(k_j) v_jᵀ e^{c_j - r_n}; re-referenced by e^{r_n - r_{n+1}} (<= 1)
    decay = torch.exp(ref[..., :-1] - ref[..., 1:])  # (B, H, N-1)
    if not rotated:  # numerator and denominator in one pass: v gets a column of ones
        vw1 = _values_and_ones(v, w)  # (B, H, N, C, dv+1)
        S = _scan(fk.transpose(-1, -2) @ vw1, decay, inner=True)  # (B, H, N, m, dv+1)
        intra = (fq @ fk.transpose(-1, -2)).tril_() @ vw1  # (B, H, N, C, dv+1)
        out = torch.baddbmm(intra.flatten(0, 2), fq.flatten(0, 2), S.flatten(0, 2)).view_as(intra)  # + fq @ S
        return out[..., :-1] / out[..., -1:].clamp_min(torch.finfo(out.dtype).tiny)
    vw = v * w
    A_den = (fq @ fk.transpose(-1, -2)).tril_()  # (B, H, N, C, C), masked quadratic form inside a chunk
    A_num = (rq @ rk.transpose(-1, -2)).tril_() if rotated else A_den
    num = A_num @ vw  # (B, H, N, C, dv)
    den = (A_den @ w).squeeze(-1)  # (B, H, N, C)
    S = _scan(rk.transpose(-1, -2) @ vw, decay, inner=True)  # (B, H, N, m, dv)
    z = _scan((w.transpose(-1, -2) @ fk).squeeze(-2), decay, inner=True)  # (B, H, N, m)
    num = num + rq @ S
    den = den + (fq @ z[..., None]).squeeze(-1)
    return num / den.clamp_min(torch.finfo(den.dtype).tiny)[..., None]


def _causal_per_query_reference(fq, fk, rq, rk, v, ck, run_max, rotated: bool):
    """Weights exp(c_j - m_i) with each query's own running max m_i (all exponents <= 0)."""
    C = fq.shape[-2]
    causal_mask = torch.ones(C, C, dtype=torch.bool, device=fq.device).tril()
    G = torch.exp((ck[..., None, :] - run_max[..., :, None]).masked_fill(~causal_mask, float("-inf")))  # (B,H,N,C,C)
    A_den = (fq @ fk.transpose(-1, -2)) * G
    A_num = (rq @ rk.transpose(-1, -2)) * G if rotated else A_den
    num = A_num @ v  # (B, H, N, C, dv)
    den = A_den.sum(dim=-1)  # (B, H, N, C)
    end_max = run_max[..., -1]  # (B, H, N)
    w = torch.exp(ck - end_max[..., None])[..., None]  # (B, H, N, C, 1), <= 1
    prev_end = F.pad(end_max, (1, 0), value=torch.finfo(ck.dtype).min)  # (B, H, N+1): state n relative to it
    decay = torch.exp(prev_end[..., : end_max.shape[-1] - 1] - end_max[..., :-1])  # (B, H, N-1) <= 1
    S = _scan(rk.transpose(-1, -2) @ (v * w), decay, inner=False)  # (B, H, N, m, dv)
    z = _scan((w.transpose(-1, -2) @ fk).squeeze(-2), decay, inner=False)
    factor = torch.exp(prev_end[..., :-1, None] - run_max)  # (B, H, N, C), <= 1
    num = num + factor[..., None] * (rq @ S)
    den = den + factor * (fq @ z[..., None]).squeeze(-1)
    return num / den.clamp_min(torch.finfo(den.dtype).tiny)[..., None]


def linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    feature_map: str | FeatureMap = "elu",
    *,
    causal: bool = False,
    rope: Rope | None = None,
    key_padding_mask: torch.Tensor | None = None,
    chunk_size: int = 64,
) -> torch.Tensor:
    """Linear attention of q (B, H, Tq, d), k (B, H, Tk, d), v (B, H, Tk, dv) -> (B, H, Tq, dv).

    ``feature_map``: "elu", "relu", "exp", "softmax" or a callable such as ``FavorPlus``.
    ``rope``: rotation applied to the numerator's features, e.g. ``functools.partial(apply_rope, layout="half")``.
    ``key_padding_mask``: (B, Tk), True/1 = real token.

    >>> import torch
    >>> q, k, v = torch.randn(3, 2, 4, 16, 8).unbind(0)
    >>> linear_attention(q, k, v, "exp").shape
    torch.Size([2, 4, 16, 8])
    """
    fm = get_feature_map(feature_map)
    fq, _ = fm(q)  # a query's constant cancels in num/den
    fk, ck = fm(k)
    return linear_attention_features(
        fq, fk, v, ck, causal=causal, rope=rope, key_padding_mask=key_padding_mask, chunk_size=chunk_size
    )


@dataclass
class LinearAttentionState:
    """Recurrent (decoding) state: S = Σ φ(k_j) v_jᵀ (rotated for the numerator), z = Σ φ(k_j), both ×exp(-ref)."""

    S: torch.Tensor  # (B, H, m, dv)
    z: torch.Tensor  # (B, H, m)
    ref: torch.Tensor  # (B, H) running max of key log-scales
    position: int = 0


def linear_attention_step(
    q_t: torch.Tensor,
    k_t: torch.Tensor,
    v_t: torch.Tensor,
    feature_map: str | FeatureMap = "elu",
    state: LinearAttentionState | None = None,
    rope: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, LinearAttentionState]:
    """One causal decoding step (7546's RNN form) for q_t, k_t (B, H, d), v_t (B, H, dv).

    ``rope(x, position)`` rotates (B, H, 1, m) features at ``position``. Returns (out_t (B, H, dv), new state).
    """
    fm = get_feature_map(feature_map)
    fq, _ = fm(q_t[:, :, None])  # (B, H, 1, m)
    fk, ck = fm(k_t[:, :, None])
    ck = torch.zeros(fk.shape[:-1], dtype=fk.dtype, device=fk.device) if ck is None else ck  # (B, H, 1)
    pos = 0 if state is None else state.position
    rq, rk = (rope(fq, pos), rope(fk, pos)) if rope is not None else (fq, fk)
    if state is None:
        B, H, _, m = fk.shape
        state = LinearAttentionState(
            S=v_t.new_zeros(B, H, m, v_t.shape[-1]), z=v_t.new_zeros(B, H, m), ref=ck[..., 0].clone()
        )
    ref = torch.maximum(state.ref, ck[..., 0])
    decay, w = torch.exp(state.ref - ref), torch.exp(ck[..., 0] - ref)  # both <= 1
    S = decay[..., None, None] * state.S + w[..., None, None] * rk[:, :, 0, :, None] * v_t[:, :, None, :]
    z = decay[..., None] * state.z + w[..., None] * fk[:, :, 0]
    num = (rq[:, :, 0, :, None] * S).sum(-2)  # (B, H, dv)
    den = (fq[:, :, 0] * z).sum(-1, keepdim=True)  # (B, H, 1)
    out = num / den.clamp_min(torch.finfo(den.dtype).tiny)
    return out, LinearAttentionState(S, z, ref, pos + 1)


class LinearAttention(nn.Module):
    """Linear attention with a named feature map; holds FAVOR+'s random features when ``feature_map='favor'``.

    >>> import torch
    >>> att = LinearAttention(16, "favor", num_features=64, causal=True)
    >>> q, k, v = torch.randn(3, 1, 2, 12, 16).unbind(0)
    >>> att(q, k, v).shape
    torch.Size([1, 2, 12, 16])
    """

    def __init__(
        self,
        head_dim: int,
        feature_map: str = "elu",
        *,
        causal: bool = False,
        chunk_size: int = 64,
        num_features: int | None = None,
        redraw_interval: int | None = None,
    ):
        super().__init__()
        self.causal, self.chunk_size, self.feature_map_name = causal, chunk_size, feature_map
        if feature_map == "favor":
            self.favor = FavorPlus(head_dim, num_features, redraw_interval=redraw_interval)
        else:
            if num_features is not None:
                raise ValueError(f"num_features only applies to feature_map='favor', not {feature_map!r}")
            get_feature_map(feature_map)  # validates the name

    def forward(self, q, k, v, rope: Rope | None = None, key_padding_mask: torch.Tensor | None = None):
        fm = self.favor if self.feature_map_name == "favor" else self.feature_map_name
        return linear_attention(
            q, k, v, fm, causal=self.causal, rope=rope,
            key_padding_mask=key_padding_mask, chunk_size=self.chunk_size,
        )

    def extra_repr(self) -> str:
        return f"feature_map={self.feature_map_name!r}, causal={self.causal}, chunk_size={self.chunk_size}"
