"""The 8541 losses against numpy references, and against sentence-transformers where they coincide.

Tolerances: float32 inputs, losses are means of O(1) terms computed in float32 → relative error ~ a few ulp
times log-sum-exp / matrix-product depth; 1e-5 relative (≈ 100 float32 ulp) is a safe bound for D ≤ 64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simlab.finetune.losses import (
    CosALoss,
    CosineMatrixDistillLoss,
    MaskedSoftmaxLoss,
    cos_a_loss,
    cos_b_loss,
    cos_c_loss,
    cosine_matrix_distill,
    group_mask,
    masked_group_cross_entropy,
    sbert_features,
)

RTOL = 1e-5


def np_masked_ce(logits: np.ndarray, labels: np.ndarray) -> float:
    """Reference: softmax over the label's own group (0-1 binary, 2-4 NLI), float64."""
    out = []
    for z, y in zip(logits.astype(np.float64), labels):
        group = z[:2] if y < 2 else z[2:]
        k = y if y < 2 else y - 2
        out.append(-(group[k] - np.log(np.exp(group - group.max()).sum()) - group.max()))
    return float(np.mean(out))


@pytest.mark.parametrize("labels", [[0, 1, 1, 0], [2, 3, 4, 3], [0, 4, 1, 2, 3, 0, 4]], ids=["binary", "nli", "mixed"])
def test_masked_ce_matches_numpy_on_both_groups(labels):
    g = torch.Generator().manual_seed(len(labels))
    logits = torch.randn(len(labels), 5, generator=g) * 3
    y = torch.tensor(labels)
    got = float(masked_group_cross_entropy(logits, y))
    assert got == pytest.approx(np_masked_ce(logits.numpy(), np.array(labels)), rel=RTOL)


def test_masked_ce_ignores_the_other_group_and_its_gradient():
    logits = torch.randn(3, 5, requires_grad=True)
    y = torch.tensor([1, 3, 0])
    masked_group_cross_entropy(logits, y).backward()
    mask = group_mask(y).numpy()
    assert mask.tolist() == [[1, 1, 0, 0, 0], [0, 0, 1, 1, 1], [1, 1, 0, 0, 0]]
    assert np.all(logits.grad.numpy()[~mask] == 0)  # the other group gets exactly no gradient
    with pytest.raises(ValueError, match="no group"):
        group_mask(torch.tensor([5]))


def test_sbert_features_order():
    u = torch.tensor([[1.0, -2.0]])
    v = torch.tensor([[4.0, 3.0]])
    assert sbert_features(u, v).tolist() == [[1.0, -2.0, 4.0, 3.0, 3.0, 5.0]]  # [u, v, |u−v|]


@pytest.fixture(scope="module")
def st_model(tmp_path_factory):
    from simlab.finetune.model import build_student
    from simlab.testing import make_tiny_bert

    folder = make_tiny_bert(tmp_path_factory.mktemp("loss-model") / "tiny")
    model, _ = build_student(str(folder), "last-avg", max_length=16)
    model.eval()  # no dropout: two forwards give the same vectors
    return model


def _features(model, texts):
    return {k: v for k, v in model.tokenize(texts).items()}


TEXTS1 = ["the cat sat", "a dog ran fast", "猫 坐 在 上", "red mat"]
TEXTS2 = ["the dog sat", "a cat ran", "狗 跑", "blue big mat"]


def test_masked_head_is_softmaxloss_with_the_masked_ce(st_model):
    """Same classifier weights in sentence-transformers' own SoftmaxLoss (bias zeroed) → same loss: the feature
    order [u, v, |u−v|] and the plumbing are ST's."""
    from sentence_transformers.sentence_transformer.losses import SoftmaxLoss

    ours = MaskedSoftmaxLoss(st_model)
    assert ours.classifier.bias is None and ours.classifier.weight.shape == (5, 3 * 32)
    ref = SoftmaxLoss(st_model, 32, num_labels=5, loss_fct=masked_group_cross_entropy)
    with torch.no_grad():
        ref.classifier.weight.copy_(ours.classifier.weight)
        ref.classifier.bias.zero_()
    y = torch.tensor([0, 3, 1, 4])
    with torch.no_grad():
        a = ours([_features(st_model, TEXTS1), _features(st_model, TEXTS2)], y)
        b = ref([_features(st_model, TEXTS1), _features(st_model, TEXTS2)], y)
        u = st_model.encode(TEXTS1, convert_to_tensor=True)
        v = st_model.encode(TEXTS2, convert_to_tensor=True)
        logits = torch.cat([u, v, (u - v).abs()], 1) @ ours.classifier.weight.T
    assert float(a) == pytest.approx(float(b), rel=RTOL)
    assert float(a) == pytest.approx(np_masked_ce(logits.numpy(), y.numpy()), rel=1e-4)


def _np_cos(t, kind):
    rng = np.random.default_rng(0)
    cos = rng.uniform(-1, 1, size=len(t))
    if kind == "a":
        ref = t * (cos - 1) ** 2 + (1 - t) * cos**2
    elif kind == "b":
        ref = t * (cos - 1) ** 2 + (1 - t) * (cos + 1) ** 2
    else:
        ref = t * np.maximum(0.9 - cos, 0) + (1 - t) * np.maximum(cos - 0.1, 0)
    return cos, float(ref.mean())


@pytest.mark.parametrize("kind,fn", [("a", cos_a_loss), ("b", cos_b_loss), ("c", cos_c_loss)])
def test_cosine_losses_match_numpy(kind, fn):
    t = np.array([1, 0, 1, 1, 0, 0, 1, 0], dtype=np.float64)
    cos, ref = _np_cos(t, kind)
    got = float(fn(torch.tensor(cos, dtype=torch.float32), torch.tensor(t, dtype=torch.float32)))
    assert got == pytest.approx(ref, rel=RTOL, abs=1e-7)


def test_cos_a_is_sentence_transformers_mse(st_model):
    """t ∈ {0,1}: t(cos−1)² + (1−t)cos² = (cos−t)², ST's default CosineSimilarityLoss."""
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

    y = torch.tensor([1.0, 0.0, 1.0, 0.0])
    with torch.no_grad():
        a = CosALoss(st_model)([_features(st_model, TEXTS1), _features(st_model, TEXTS2)], y)
        b = CosineSimilarityLoss(st_model)([_features(st_model, TEXTS1), _features(st_model, TEXTS2)], y)
    assert float(a) == pytest.approx(float(b), rel=RTOL)


def np_distill(s, t, w=100.0):
    def cm(x):
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        return x @ x.T

    return w * float(np.mean((cm(s.astype(np.float64)) - cm(t.astype(np.float64))) ** 2))


def test_cosine_matrix_distill_matches_numpy():
    rng = np.random.default_rng(1)
    s, t = rng.normal(size=(6, 8)).astype(np.float32), rng.normal(size=(6, 5)).astype(np.float32)
    got = float(cosine_matrix_distill(torch.from_numpy(s), torch.from_numpy(t)))
    assert got == pytest.approx(np_distill(s, t), rel=1e-5)
    with pytest.raises(ValueError, match="rows"):
        cosine_matrix_distill(torch.from_numpy(s), torch.from_numpy(t[:5]))


def test_distill_wrapper_is_base_plus_numpy_distill(st_model, tmp_path):
    from simlab.finetune.model import build_student
    from simlab.testing import make_tiny_bert

    teacher, _ = build_student(str(make_tiny_bert(tmp_path / "t", seed=3)), "cls", max_length=16)
    base = MaskedSoftmaxLoss(st_model)
    loss = CosineMatrixDistillLoss(st_model, teacher, base=base)
    assert not any(p.requires_grad for p in teacher.parameters())
    y = torch.tensor([0, 3, 1, 4])
    with torch.no_grad():
        out = loss([_features(st_model, TEXTS1), _features(st_model, TEXTS2)], y)
        main = base([_features(st_model, TEXTS1), _features(st_model, TEXTS2)], y)
    s = st_model.encode(TEXTS1 + TEXTS2)
    t = teacher.encode(TEXTS1 + TEXTS2)
    assert float(out["main"]) == pytest.approx(float(main), rel=RTOL)
    assert float(out["distill"]) == pytest.approx(np_distill(s, t), rel=1e-4)
