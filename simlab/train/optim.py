"""AdaFactor as bert4keras implements it, the optimizer of the CLUE baselines (kexue.fm/archives/8739).

bojone/CLUE-bert4keras ``src/snippets.py`` builds ``AdaFactor(learning_rate=5e-4, beta1=0.9,
min_dim_size_to_factor=10**6)``: with that threshold no matrix of a base model is factored, so the second
moment is kept in full, like Adam. The update per parameter ``p`` with gradient ``g`` at step ``t = 1, 2, ...``
(bert4keras ``optimizers.AdaFactorV1.get_updates``; Shazeer & Stern 2018, arXiv:1804.04235, Alg. 4)::

    β2_t = 1 − t^(−0.8)                                 # decay_rate 0.8 (t = 1 gives β2 = 0: v = g²)
    v_t  = β2_t · v_{t−1} + (1 − β2_t) · (g² + ε1)      # ε1 = 1e-30
    u    = g / sqrt(v_t + ε1)
    u    = u / max(1, RMS(u) / d)                        # update clipping, d = 1.0
    m_t  = β1 · m_{t−1} + (1 − β1) · u;  u = m_t         # β1 = 0.9, no bias correction
    u    = u · max(RMS(p), ε2)                           # multiply_by_parameter_scale, ε2 = 1e-3
    p    = p − lr · u                                    # lr = 5e-4, constant, no warmup

with RMS(x) = sqrt(mean(x²)) over the whole tensor. Only the unfactored branch is implemented (the one 8739 uses).
Optional decoupled weight decay ``p -= lr · wd · p`` (bert4keras ``extend_with_weight_decay``) is off by default.

Step counter: bert4keras' gradient accumulation (``extend_with_gradient_accumulation``) counts micro-batches in
``t``; here ``t`` counts optimizer steps, which is what ``Trainer``'s gradient accumulation calls. With
accumulation 1 (most tasks) the two agree exactly.

>>> import torch
>>> w = torch.nn.Parameter(torch.ones(3))
>>> opt = AdaFactor([w], lr=5e-4)
>>> w.grad = torch.tensor([1.0, -2.0, 0.5]); opt.step()
>>> [round(x, 6) for x in w.tolist()]    # step 1: u = sign(g) (v = g²), m = 0.1·u, scale RMS(w) = 1
[0.99995, 1.00005, 0.99995]
"""

from __future__ import annotations

import torch

__all__ = ["AdaFactor"]


class AdaFactor(torch.optim.Optimizer):
    """bert4keras AdaFactor (unfactored), a ``torch.optim.Optimizer`` usable with ``Trainer``.

    ``beta2=None`` gives the schedule 1 − t^(−decay_rate); a float fixes it. State is kept in float32 whatever the
    parameter dtype. Pass it to ``Trainer`` as ``optimizer_cls_and_kwargs=(AdaFactor, {"lr": 5e-4})``.

    >>> import torch
    >>> model = torch.nn.Linear(4, 2)
    >>> opt = AdaFactor(model.parameters())       # lr 5e-4, beta1 0.9: the 8739 settings
    >>> model(torch.randn(3, 4)).sum().backward(); opt.step()
    """

    def __init__(self, params, lr: float = 5e-4, beta1: float = 0.9, beta2: float | None = None,
                 decay_rate: float = 0.8, eps1: float = 1e-30, eps2: float = 1e-3, clip_threshold: float | None = 1.0,
                 multiply_by_parameter_scale: bool = True, weight_decay: float = 0.0):
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if not 0.0 <= beta1 < 1.0:
            raise ValueError(f"beta1 must be in [0, 1), got {beta1}")
        if beta2 is not None and not 0.0 <= beta2 < 1.0:
            raise ValueError(f"beta2 must be None (schedule) or in [0, 1), got {beta2}")
        if clip_threshold is not None and clip_threshold <= 0:
            raise ValueError(f"clip_threshold must be positive or None, got {clip_threshold}")
        defaults = dict(lr=lr, beta1=beta1, beta2=beta2, decay_rate=decay_rate, eps1=eps1, eps2=eps2,
                        clip_threshold=clip_threshold, multiply_by_parameter_scale=multiply_by_parameter_scale,
                        weight_decay=weight_decay)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, beta1, eps1 = group["lr"], group["beta1"], group["eps1"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("AdaFactor does not support sparse gradients")
                self._update(p, group, lr, beta1, eps1)
        return loss

    def _update(self, p, group, lr, beta1, eps1) -> None:
        """One parameter's update, in place, with few passes over memory (the embedding matrix of a multilingual
        model has ~10^8 entries): v, one buffer for u, m, and p itself."""
        g = p.grad.float()
        state = self.state[p]
        if not state:
            state["step"] = torch.zeros((), dtype=torch.float32)
            state["v"] = torch.zeros_like(g, memory_format=torch.preserve_format)
            if beta1 > 0:
                state["m"] = torch.zeros_like(g, memory_format=torch.preserve_format)
        state["step"] += 1
        t = float(state["step"])
        beta2 = group["beta2"] if group["beta2"] is not None else 1.0 - t ** (-group["decay_rate"])
        v = state["v"]
        v.mul_(beta2).addcmul_(g, g, value=1.0 - beta2).add_((1.0 - beta2) * eps1)  # β2 v + (1-β2)(g² + ε1)
        u = v.add(eps1).sqrt_()
        torch.div(g, u, out=u)  # u = g / sqrt(v + ε1)
        n = u.numel() ** 0.5
        # update clipping u / max(1, RMS(u)/d) and the (1 - β1) of the moving average, as one factor
        factor = torch.ones((), device=u.device)
        if group["clip_threshold"] is not None:
            factor = torch.clamp(torch.linalg.vector_norm(u) / (n * group["clip_threshold"]), min=1.0).reciprocal()
        if beta1 > 0:
            m = state["m"]
            u.mul_(factor * (1.0 - beta1))
            u = m.mul_(beta1).add_(u)  # m_t, also the update direction
        else:
            u.mul_(factor)
        p32 = p if p.dtype == torch.float32 else p.float()
        scale = torch.ones((), device=u.device)
        if group["multiply_by_parameter_scale"]:
            scale = torch.clamp(torch.linalg.vector_norm(p32) / n, min=group["eps2"])
        if group["weight_decay"]:
            p32.mul_(1.0 - lr * group["weight_decay"])
        p32.addcmul_(u, scale, value=-lr)  # p − lr · u · max(RMS(p), ε2)
        if p32 is not p:
            p.copy_(p32)
