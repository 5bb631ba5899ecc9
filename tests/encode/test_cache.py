"""Vector cache: key sensitivity, corruption detection, reuse without re-encoding."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.encode.cache import VectorCache, cache_key, texts_hash


class FakeEncoder:
    def __init__(self, identity="m@abc", prefix=""):
        self.identity, self.prefix, self.calls = identity, prefix, []

    def encode_all(self, texts, poolings, max_length, batch_size, show_progress_bar=None):
        self.calls.append(list(poolings))
        rng = np.random.default_rng(len(texts))
        return {p: rng.normal(size=(len(texts), 4)).astype(np.float32) + i for i, p in enumerate(poolings)}


def test_key_changes_with_every_part():
    base = dict(identity="m@abc", max_length=64, prefix="", pooling="cls", text_digest=texts_hash(["a", "b"]))
    k0 = cache_key(**base)
    variants = [dict(identity="m@abd"), dict(max_length=128), dict(prefix="query: "), dict(pooling="last-avg"),
                dict(text_digest=texts_hash(["a", "c"])), dict(text_digest=texts_hash(["b", "a"]))]
    keys = {cache_key(**{**base, **v}) for v in variants}
    assert k0 not in keys and len(keys) == len(variants)
    assert texts_hash(["ab", "c"]) != texts_hash(["a", "bc"])


def test_reuse_and_partial_encoding(tmp_path):
    cache, enc = VectorCache(tmp_path), FakeEncoder()
    texts = ["x", "y", "z"]
    first = cache.embed(enc, texts, ["cls", "last-avg"], 64)
    again = cache.embed(enc, texts, ["cls", "last-avg", "first-last-avg"], 64)
    assert enc.calls == [["cls", "last-avg"], ["first-last-avg"]]  # only the missing pooling was encoded
    np.testing.assert_array_equal(first["cls"], again["cls"])
    assert (cache.hits, cache.misses) == (2, 3)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_file_is_rejected_and_rebuilt(tmp_path, damage):
    cache, enc = VectorCache(tmp_path), FakeEncoder()
    texts = ["x", "y", "z"]
    good = cache.embed(enc, texts, ["cls"], 64)["cls"]
    (path,) = list(tmp_path.rglob("*.safetensors"))
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) - 7])
    else:
        path.write_bytes(raw[:-1] + bytes([raw[-1] ^ 0xFF]))
    assert cache.get(path.stem) is None and not path.exists()
    rebuilt = cache.embed(enc, texts, ["cls"], 64)["cls"]
    assert len(enc.calls) == 2
    np.testing.assert_array_equal(rebuilt, good)
    assert cache.get(path.stem) is not None


def test_other_engines_vectors_are_kept_per_cpu_kind(tmp_path, monkeypatch):
    """openvino bf16 on an AMX Xeon and on an AVX2-only CPU are different kernels: one never reads the other's
    vectors; torch fp32 (variant "") is shared across kinds, as before."""
    import simlab.machine

    cache, texts = VectorCache(tmp_path), ["x", "y"]
    bf16, fp32 = FakeEncoder(), FakeEncoder()
    bf16.variant, fp32.variant = "openvino-bf16", ""
    for kind in ("x86-amx", "x86-avx2", "x86-amx"):
        monkeypatch.setattr(simlab.machine, "cpu_kind", lambda kind=kind: kind)
        cache.embed(bf16, texts, ["cls"], 64)
        cache.embed(fp32, texts, ["cls"], 64)
    assert len(bf16.calls) == 2 and len(fp32.calls) == 1
