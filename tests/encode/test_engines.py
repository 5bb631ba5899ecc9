"""Engines × precisions: every pooling on every engine against the torch fp32 reference, stated cosine bounds,
the exported graph converted once, cache keys and records carrying engine + precision, and ``auto``.

Bounds (tiny 3-block model, d = 32), from each format's rounding, not from one machine's output:
- fp32 engines reorder float32 sums: relative vector error ≤ 1e-4 (≈ 800 float32 ulps over 3 blocks).
- bf16 (unit roundoff 2⁻⁹ ≈ 2e-3): ≤ 8 roundings per block in series, 3 blocks → relative error ≲ 0.05, so
  1 − cos ≤ ½·0.05² ≈ 1.2e-3.
- int8 (per-tensor step = range/255, per-channel weights): ≲ 2 % relative error per quantised matmul, ≈ 7 in
  series → relative error ≲ 0.2, so cos ≥ 0.98.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from simlab.encode import POOLINGS, Encoder
from simlab.encode.cache import VectorCache, cache_key
from simlab.encode.engines import resolve, supported
from simlab.testing import make_tiny_bert

WORDS = "the a cat dog sat ran on mat fast slow big small red blue 猫 狗 坐 跑 在 上 大 小 红 蓝".split()
TEXTS = [" ".join(np.random.default_rng(i).choice(WORDS, 2 + i % 9)) for i in range(50)]
CALIB = [" ".join(np.random.default_rng(1000 + i).choice(WORDS, 3 + i % 6)) for i in range(40)]
HAS = {e: importlib.util.find_spec(m) is not None for e, m in (("onnx", "onnxruntime"), ("openvino", "openvino"))}
BOUNDS = {"fp32": ("rel", 1e-4), "bf16": ("cos", 1.2e-3), "int8": ("cos", 0.02)}
COMBOS = [("torch", "bf16"), ("torch", "int8"), ("onnx", "fp32"), ("onnx", "int8"), ("openvino", "fp32"),
          ("openvino", "int8")]


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("engine-cache")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-eng"))


@pytest.fixture(scope="module")
def reference(tiny):
    return Encoder(tiny, max_length=16).encode_all(TEXTS)


def _encoder(tiny, engine, precision, monkeypatch, cache_root):
    if engine in HAS and not HAS[engine]:
        pytest.skip(f"{engine} is not installed (simlab[{engine}])")
    monkeypatch.setenv("SIMLAB_CACHE", str(cache_root))
    return Encoder(tiny, max_length=16, engine=engine, precision=precision, calibration=CALIB, num_threads=1)


def within_bound(got, ref, precision) -> tuple[bool, float]:
    """(ok, worst) for rows of ``got`` against ``ref`` under the precision's stated bound."""
    kind, bound = BOUNDS[precision]
    a, b = np.atleast_2d(got).astype(np.float64), np.atleast_2d(ref).astype(np.float64)
    if kind == "rel":
        worst = float((np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)).max())
    else:
        worst = float(1 - (np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())
    return worst <= bound, worst


@pytest.mark.parametrize("engine,precision", COMBOS)
def test_every_pooling_within_its_bound(tiny, reference, engine, precision, monkeypatch, cache_root):
    enc = _encoder(tiny, engine, precision, monkeypatch, cache_root)
    got = enc.encode_all(TEXTS)
    assert set(got) == set(POOLINGS) == set(reference)  # the one graph gives every pooling, pooler ones included
    for p in POOLINGS:
        assert got[p].shape == (len(TEXTS), 32) and got[p].dtype == np.float32
        ok, worst = within_bound(got[p], reference[p], precision)
        assert ok, (p, worst)
    # encode() of one sentence (another batch shape) goes through the same graph, within the same bound
    ok, worst = within_bound(enc.encode(TEXTS[3], pooling="last2avg"), reference["last2avg"][3], precision)
    assert ok, worst


@pytest.mark.parametrize("engine,precision", [("onnx", "fp32"), ("openvino", "fp32"), ("onnx", "int8")])
def test_exported_graph_is_reused_not_rebuilt(tiny, engine, precision, monkeypatch, cache_root):
    from simlab.encode.engines import store

    first = _encoder(tiny, engine, precision, monkeypatch, cache_root)
    first.encode(TEXTS[:2])
    folder = first.runner.folder
    assert (folder / store.META).is_file()

    def no_conversion(*a, **k):
        raise AssertionError("converted again")

    mod = "simlab.encode.engines.onnx_engine" if engine == "onnx" else "simlab.encode.engines.openvino_engine"
    monkeypatch.setattr(f"{mod}.{'export_onnx' if engine == 'onnx' else 'convert_ir'}", no_conversion)
    n = len(store.CONVERSIONS)
    again = _encoder(tiny, engine, precision, monkeypatch, cache_root)
    np.testing.assert_array_equal(again.encode(TEXTS[:5]), first.encode(TEXTS[:5]))
    assert again.runner.folder == folder and len(store.CONVERSIONS) == n
    # other calibration sentences are another int8 model (its key holds their digest); fp32 ignores them
    if precision == "int8":
        other = Encoder(tiny, max_length=16, engine=engine, precision=precision, calibration=CALIB[:20])
        with pytest.raises(AssertionError, match="converted again"):
            other.encode(TEXTS[:2])


def test_cache_keys_and_records_carry_engine_and_precision(tiny, tmp_path):
    plain = Encoder(tiny, max_length=16)
    bf16 = Encoder(tiny, max_length=16, engine="torch", precision="bf16")
    int8 = Encoder(tiny, max_length=16, engine="torch", precision="int8")
    assert (plain.variant, bf16.variant, int8.variant) == ("", "torch-bf16", "torch-int8")
    keys = {cache_key(e.identity, 16, "", "cls", "abc", e.variant) for e in (plain, bf16, int8)}
    assert len(keys) == 3
    assert cache_key(plain.identity, 16, "", "cls", "abc") in keys  # torch/fp32 keeps its old keys (caches stay valid)
    info = bf16.info()
    assert (info["engine"], info["precision"]) == ("torch", "bf16")
    cache = VectorCache(tmp_path / "v")
    v_plain = cache.embed(plain, TEXTS, ["cls"], 16)["cls"]
    v_bf16 = cache.embed(bf16, TEXTS, ["cls"], 16)["cls"]
    assert cache.misses == 2 and not np.array_equal(v_plain, v_bf16)  # no cross-precision cache hits
    assert np.array_equal(cache.embed(bf16, TEXTS, ["cls"], 16)["cls"], v_bf16) and cache.hits == 1


def test_grid_records_carry_engine_and_precision(tiny):
    from simlab.grid.cells import ModelSpec
    from simlab.grid.models import LazyEncoder

    lazy = LazyEncoder(ModelSpec("tiny", str(tiny), ("STS13",)), engine="torch", precision="int8")
    assert lazy.variant == "torch-int8" and not lazy.loaded
    assert (lazy.info()["engine"], lazy.info()["precision"]) == ("torch", "int8")
    assert lazy.load().variant == "torch-int8"


def test_resolve_auto_and_unsupported_combinations():
    assert resolve("torch", "fp32") == ("torch", "fp32")
    engine, precision = resolve("auto", "auto")
    assert supported(engine, precision) is None and precision != "int8"  # auto never picks int8 (README)
    assert resolve("torch", "auto") == ("torch", "fp32")
    assert resolve("auto", "int8")[1] == "int8"
    from simlab.errors import BadInputError

    with pytest.raises(BadInputError, match="unknown engine"):
        resolve("tensorrt", "fp32")
    if HAS["onnx"]:
        with pytest.raises(BadInputError, match="no bf16 kernels"):
            resolve("onnx", "bf16")


@pytest.mark.skipif(not HAS["onnx"], reason="onnxruntime is not installed")
def test_engine_on_gpu_device_is_refused(tiny):
    with pytest.raises(ValueError, match="runs on the CPU"):
        Encoder(tiny, engine="onnx", precision="fp32", device="cuda")
