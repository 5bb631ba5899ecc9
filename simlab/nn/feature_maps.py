"""Non-negative feature maps φ for linear attention, sim(q, k) = φ(q)ᵀφ(k).

kexue.fm/archives/7546 (elu+1, softmax over features), kexue.fm/archives/7921 (Performer FAVOR+) and
kexue.fm/archives/8338 (the exponential is the natural activation).

Every map returns ``(features, log_scale)`` meaning φ(x) = features · exp(log_scale[..., None]):

* ``features`` has its largest coordinate equal to 1 for the log-space maps (exp, FAVOR+; in [1, 1 + max x]
  for elu+1) and all coordinates floored at sqrt(finfo.tiny), so a token's features never underflow,
  whatever its input (fp32 inputs of -1e4 still give positive denominators);
* ``log_scale`` (shape (..., T), or ``None`` = 0) is the per-token constant that was factored out.

For a query the per-token constant cancels between numerator and denominator, so attention drops it. For a
key it does not cancel; linear attention re-applies it relative to a running maximum (see
linear_attention.py), which is exact and never uses statistics of future keys (unlike the global key max of
performer-pytorch, issue #82).

>>> import torch
>>> f, c = elu_plus_one(torch.tensor([[-1e4, -2e4]]))     # elu+1 itself underflows to 0 in fp32
>>> f.tolist(), c.tolist()                                # φ = f · exp(c), largest feature is 1
([[1.0, 1.0842021724855044e-19]], [-10000.0])
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

Features = tuple[torch.Tensor, torch.Tensor | None]
FEATURE_MAPS = ("elu", "relu", "exp", "softmax", "favor")


def _floor(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).tiny ** 0.5


def _normalise_log(log_phi: torch.Tensor) -> Features:
    """exp(log φ - max) and the max: φ = features · exp(log_scale).

    Features are floored at sqrt(finfo.tiny) (1e-19 in fp32/bf16, 1e-154 in fp64) so that a product of a
    query and a key feature is never below the smallest normal number: every denominator stays > 0 even
    when the supports of φ(q) and φ(k) do not overlap in floating point. The floor is negligible next to the
    largest coordinate, which is 1 (it is larger in fp16: 8e-3).
    """
    log_scale = log_phi.amax(dim=-1)  # (..., T)
    log_floor = math.log(_floor(log_phi.dtype))
    features = torch.sub(log_phi, log_scale[..., None]).clamp_min_(log_floor).exp_()  # in place on a fresh temp
    return features, log_scale


def elu_plus_one(x: torch.Tensor) -> Features:
    """φ(x) = elu(x) + 1 (Katharopoulos et al.; 7546), shifted so that tokens never underflow.

    With s = min(max x, 0): features = elu(x - s) + 1, log_scale = s. For max x < 0 every x - s <= 0, where
    elu(y) + 1 = exp(y), so φ(x) = exp(x) = exp(x - s)·exp(s) exactly; for max x >= 0 nothing is shifted.
    The largest feature is then in [1, 1 + max x]: no underflow for very negative inputs (cf. fla #1261 for
    bf16 elu+1), no overflow unless |x| approaches 1e18 (fp32).
    """
    s = x.amax(dim=-1, keepdim=True).clamp_max(0)  # (..., T, 1)
    features = F.elu(x - s, inplace=True) + 1
    return features.clamp_min_(_floor(x.dtype)), s.squeeze(-1)


def relu_features(x: torch.Tensor) -> Features:
    """φ(x) = relu(x). Can be exactly 0 for a whole token: its denominator is then 0 (output 0)."""
    return torch.relu(x), None


def exp_features(x: torch.Tensor) -> Features:
    """φ(x) = exp(x) (8338: the activation Performer points to), max-stabilised per token."""
    return _normalise_log(x)


def softmax_features(x: torch.Tensor) -> Features:
    """φ(x) = softmax(x) over the feature dimension (per-vector form of Efficient Attention, 7546)."""
    return torch.softmax(x, dim=-1), None


def gaussian_orthogonal_random_matrix(
    num_features: int, dim: int, generator: torch.Generator | None = None, orthogonal: bool = True
) -> torch.Tensor:
    """ω of shape (num_features, dim) for FAVOR+ (Choromanski et al.; 7921).

    Rows come in blocks of ``dim`` orthonormal directions (QR of a Gaussian matrix), each row rescaled by the
    norm of an independent N(0, I_dim) vector (chi(dim) lengths), so every row is marginally N(0, I_dim).
    ``orthogonal=False`` gives iid Gaussian rows.
    """
    if num_features <= 0 or dim <= 0:
        raise ValueError(f"num_features and dim must be positive, got {num_features}, {dim}")
    if not orthogonal:
        return torch.randn(num_features, dim, generator=generator, dtype=torch.float64)
    g = torch.randn(math.ceil(num_features / dim), dim, dim, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(g)  # batched over blocks
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]  # Haar-distributed orthogonal blocks
    directions = q.transpose(-1, -2).reshape(-1, dim)[:num_features]  # (m, d), rows orthonormal per block
    norms = torch.randn(num_features, dim, generator=generator, dtype=torch.float64).norm(dim=-1)
    return directions * norms[:, None]


def favor_features(x: torch.Tensor, omega: torch.Tensor, scale: float | None = None) -> Features:
    """Positive random features φ(x) = exp(ωx' - |x'|²/2)/√m with x' = scale·x (7921 eq. (5)).

    With scale = d^(-1/4) (the default), E[φ(q)ᵀφ(k)] = exp(qᵀk/√d): softmax attention's kernel.
    """
    d = x.shape[-1]
    if omega.shape[-1] != d:
        raise ValueError(f"omega has dim {omega.shape[-1]}, inputs have feature dim {d}")
    scale = d**-0.25 if scale is None else scale
    xs = x * scale
    proj = xs @ omega.to(x.dtype).T  # (..., T, m)
    log_phi = proj - 0.5 * (xs * xs).sum(-1, keepdim=True) - 0.5 * math.log(omega.shape[0])
    return _normalise_log(log_phi)


class FavorPlus(nn.Module):
    """FAVOR+ feature map with a stored random matrix ω and optional periodic redraw (7921).

    ``redraw_interval``: in training mode ω is redrawn every that many forward calls (None: never;
    performer-pytorch's default is 1000). ``redraw()`` draws a new ω explicitly.

    >>> import torch
    >>> fm = FavorPlus(dim=16, num_features=64, generator=torch.Generator().manual_seed(0))
    >>> f, c = fm(torch.randn(2, 5, 16))
    >>> tuple(f.shape), tuple(c.shape)
    ((2, 5, 64), (2, 5))
    """

    def __init__(
        self,
        dim: int,
        num_features: int | None = None,
        orthogonal: bool = True,
        redraw_interval: int | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.dim = dim
        self.num_features = num_features or max(1, int(dim * math.log(dim)))  # performer-pytorch default
        self.orthogonal = orthogonal
        if redraw_interval is not None and redraw_interval <= 0:
            raise ValueError(f"redraw_interval must be positive or None, got {redraw_interval}")
        self.redraw_interval = redraw_interval
        self.calls_since_redraw = 0
        omega = gaussian_orthogonal_random_matrix(self.num_features, dim, generator, orthogonal)
        self.register_buffer("omega", omega.float())

    @torch.no_grad()
    def redraw(self, generator: torch.Generator | None = None) -> None:
        omega = gaussian_orthogonal_random_matrix(self.num_features, self.dim, generator, self.orthogonal)
        self.omega.copy_(omega.to(self.omega.dtype))
        self.calls_since_redraw = 0

    def forward(self, x: torch.Tensor) -> Features:
        if self.training and self.redraw_interval is not None:
            if self.calls_since_redraw >= self.redraw_interval:
                self.redraw()
            self.calls_since_redraw += 1
        return favor_features(x, self.omega)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_features={self.num_features}, redraw_interval={self.redraw_interval}"


FeatureMap = Callable[[torch.Tensor], Features]

_PURE: dict[str, FeatureMap] = {
    "elu": elu_plus_one,
    "relu": relu_features,
    "exp": exp_features,
    "softmax": softmax_features,
}


def get_feature_map(name: str | FeatureMap) -> FeatureMap:
    """Feature map by name (elu, relu, exp, softmax) or a callable passed through. FAVOR+ needs
    a ``FavorPlus`` instance because it holds ω."""
    if callable(name):
        return name
    if name == "favor":
        raise ValueError("feature map 'favor' holds random features: pass a FavorPlus(dim, num_features) instance")
    if name not in _PURE:
        raise ValueError(f"unknown feature map {name!r}; choose from {FEATURE_MAPS} or pass a callable")
    return _PURE[name]
