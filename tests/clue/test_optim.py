"""AdaFactor (bert4keras, 8739) against a float64 numpy reference, step by step; and gradient accumulation
through the CLUE Trainer: N micro-batches give the gradient of one N-times larger batch."""

import copy

import numpy as np
import pytest
import torch

from simlab.train.optim import AdaFactor

EPS32 = np.finfo(np.float32).eps


def reference_adafactor(params, grads_per_step, lr=5e-4, beta1=0.9, eps1=1e-30, eps2=1e-3, clip=1.0, decay=0.8,
                        beta2=None, wd=0.0):
    """bert4keras AdaFactorV1.get_updates, unfactored branch, in float64 numpy. Returns the parameter history
    and how many (step, param) updates were clipped."""
    p = [np.array(x, dtype=np.float64) for x in params]
    v = [np.zeros_like(x) for x in p]
    m = [np.zeros_like(x) for x in p]
    history, clipped = [], 0
    for t, grads in enumerate(grads_per_step, 1):
        b2 = 1.0 - t ** -decay if beta2 is None else beta2
        for i, g in enumerate(grads):
            g = np.asarray(g, dtype=np.float64)
            v[i] = b2 * v[i] + (1 - b2) * (g**2 + eps1)
            u = g / np.sqrt(v[i] + eps1)
            rms_u = np.sqrt(np.mean(u**2))
            clipped += int(rms_u / clip > 1.0)
            u = u / max(1.0, rms_u / clip)
            m[i] = beta1 * m[i] + (1 - beta1) * u
            u = m[i] * max(np.sqrt(np.mean(p[i] ** 2)), eps2)
            p[i] = p[i] - lr * u - lr * wd * p[i]  # bert4keras extend_with_weight_decay
        history.append([x.copy() for x in p])
    return history, clipped


def _problem(seed=0, steps=6):
    rng = np.random.default_rng(seed)
    shapes = [(7, 5), (5,), (3, 4, 2)]
    params = [rng.normal(size=s).astype(np.float32) for s in shapes]
    params[1] = np.full((5,), 1e-5, dtype=np.float32)  # RMS(p) < eps2: the 1e-3 floor applies
    # gradient scales change from step to step so that RMS(u) > 1 and the update clipping acts
    grads = [[(rng.normal(size=s) * rng.choice([0.01, 1.0, 30.0], size=s)).astype(np.float32) for s in shapes]
             for _ in range(steps)]
    return params, grads


@pytest.mark.parametrize("beta2,beta1,wd", [(None, 0.9, 0.0), (0.999, 0.9, 0.0), (None, 0.0, 0.0), (None, 0.9, 0.01)])
def test_adafactor_matches_numpy_step_by_step(beta2, beta1, wd):
    params, grads = _problem()
    ref, clipped = reference_adafactor(params, grads, beta2=beta2, beta1=beta1, wd=wd)
    assert clipped > 0  # the clipping branch was exercised
    ts = [torch.nn.Parameter(torch.tensor(p)) for p in params]
    opt = AdaFactor(ts, lr=5e-4, beta1=beta1, beta2=beta2, weight_decay=wd)
    for t, step_grads in enumerate(grads):
        for p, g in zip(ts, step_grads):
            p.grad = torch.tensor(g)
        opt.step()
        for k, (p, r) in enumerate(zip(ts, ref[t])):
            # float32 rounding of p - lr·u each step (|p| · eps per step), plus the update's own relative error
            tol = (t + 1) * 4 * EPS32 * np.abs(r).max() + 1e-5 * 5e-4 * max(np.abs(r).max(), 1e-3)
            np.testing.assert_allclose(p.detach().numpy(), r, rtol=0, atol=tol, err_msg=f"step {t + 1}, param {k}")


def test_first_step_is_scaled_sign_update():
    """t = 1: β2 = 0 so v = g² and u = sign(g); m = 0.1·u; step = lr · 0.1 · RMS(p)."""
    p = torch.nn.Parameter(torch.tensor([3.0, -4.0]))  # RMS = sqrt(12.5)
    opt = AdaFactor([p])
    p.grad = torch.tensor([0.2, 0.5])
    opt.step()
    expected = np.array([3.0, -4.0]) - 5e-4 * 0.1 * np.sqrt(12.5) * np.array([1.0, 1.0])
    np.testing.assert_allclose(p.detach().numpy(), expected, rtol=0, atol=8 * EPS32 * 4)


def test_state_dict_roundtrip_continues_identically():
    params, grads = _problem(seed=1, steps=4)
    a = [torch.nn.Parameter(torch.tensor(p)) for p in params]
    opt_a = AdaFactor(a)
    for step_grads in grads[:2]:
        for p, g in zip(a, step_grads):
            p.grad = torch.tensor(g)
        opt_a.step()
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    opt_b = AdaFactor(b)
    opt_b.load_state_dict(copy.deepcopy(opt_a.state_dict()))  # as from disk: no shared tensors
    for step_grads in grads[2:]:
        for pa, pb, g in zip(a, b, step_grads):
            pa.grad, pb.grad = torch.tensor(g), torch.tensor(g)
        opt_a.step()
        opt_b.step()
    for pa, pb in zip(a, b):
        assert torch.equal(pa, pb)


def test_bad_hyperparameters_raise():
    p = [torch.nn.Parameter(torch.zeros(2))]
    for kw in ({"lr": 0}, {"beta1": 1.0}, {"beta2": 1.5}, {"clip_threshold": 0}):
        with pytest.raises(ValueError):
            AdaFactor(p, **kw)


def _tiny_classifier(folder):
    from transformers import BertConfig, BertModel

    from simlab.clue.model import ClueModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                     max_position_embeddings=32, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return ClueModel(BertModel(cfg, add_pooling_layer=False), "classify", num_labels=3)


def _grads_after_first_step(tmp_path, batch_size, grad_accum, features):
    from transformers import TrainerCallback

    from simlab.clue.batching import Collator
    from simlab.clue.config import ClueConfig, resolved
    from simlab.clue.recipes import build_clue_trainer

    captured = {}

    class Capture(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, model=None, **kw):
            if not captured:
                captured.update({n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None})

    model = _tiny_classifier(tmp_path)
    cfg = resolved(ClueConfig(task="afqmc", recipe="8739", batch_size=batch_size, grad_accum=grad_accum, max_steps=1,
                              precision="fp32", save_steps=100, batching="random"))
    trainer = build_clue_trainer(model, features, Collator(pad_id=0, kind="classify"), tmp_path / f"run{grad_accum}",
                                 cfg, callbacks=[Capture()], stream=open("/dev/null", "w"))
    trainer.train()
    return captured, {n: p.detach().clone() for n, p in model.named_parameters()}


def test_grad_accumulation_equals_large_batch(tmp_path, one_torch_thread):
    rng = np.random.default_rng(0)
    features = [{"input_ids": [1] + list(rng.integers(5, 40, size=rng.integers(3, 12))) + [2],
                 "labels": int(rng.integers(0, 3))} for _ in range(16)]
    g_big, p_big = _grads_after_first_step(tmp_path, 8, 1, features)
    g_acc, p_acc = _grads_after_first_step(tmp_path, 4, 2, features)
    assert g_big.keys() == g_acc.keys() and len(g_big) > 10
    # mean of two half-batch means vs one mean: float32 summation-order differences only, measured against the
    # largest gradient entry (some gradients, e.g. attention key biases, are exactly 0 up to rounding)
    scale = max(float(g.abs().max()) for g in g_big.values())
    for name in g_big:
        torch.testing.assert_close(g_acc[name], g_big[name], rtol=0, atol=64 * EPS32 * scale, msg=name)
    for name in p_big:
        torch.testing.assert_close(p_acc[name], p_big[name], rtol=0, atol=1e-6, msg=name)
