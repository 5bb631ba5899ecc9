"""The OpenAI contract, with the official ``openai`` client against a live ``simlab serve`` on 127.0.0.1: float and
base64, one input and a batch, ``dimensions`` = whitening k, usage, the extensions, and the errors' param/code.

Served vectors must equal simlab's offline ``Encoder.encode`` (and ``Whitening.transform``) within float32
rounding. The bound is derived, not tuned: the two float32 forward passes differ only by batch shape, so by at most
twice the forward error of :func:`simlab.testing.forward_error` at u = 2⁻²⁴; whitening propagates that through |W|
(:func:`simlab.testing.unit_rows_bound`) and adds its own float64 rounding (:func:`simlab.testing.transform_error`).
"""

from __future__ import annotations

import base64

import numpy as np
import pytest

from simlab.testing import U32, forward_error, transform_error, unit_rows_bound
from tests.serve.conftest import API_KEY, POOLING, sentences

openai = pytest.importorskip("openai")


def raw_bound(encoder, X):
    return 2 * forward_error(encoder.model.config, 64, X, U32)[:, None] + U32 * np.abs(X)


def whitened_reference(X, white, k, dx):
    """(reference unit rows, per-row bound) for the first k whitened components of pooled X known within dx."""
    W = np.asarray(white.kernel_, dtype=np.float64)[:, :k]
    y = (np.asarray(X, dtype=np.float64) - white.mean_) @ W
    ref = y / np.linalg.norm(y, axis=1, keepdims=True)
    bound = unit_rows_bound(dx @ np.abs(W), y) + 2 * transform_error(X, white, k)
    return ref, bound


@pytest.fixture(scope="module")
def white(whitening_file):
    from simlab.whitening import Whitening

    return Whitening.load(whitening_file)


def vecs(resp) -> np.ndarray:
    assert [d.index for d in resp.data] == list(range(len(resp.data)))
    return np.array([d.embedding for d in resp.data], dtype=np.float64)


def test_raw_vectors_equal_offline_encode(client, encoder):
    texts = sentences(37, seed=5)
    resp = client.embeddings.create(input=texts, model="tiny", encoding_format="float",
                                    extra_body={"whiten": False, "normalize": False})
    X = encoder.encode(texts, pooling=POOLING)
    got = vecs(resp)
    assert got.shape == X.shape
    assert np.all(np.abs(got - X) <= raw_bound(encoder, X)), np.abs(got - X).max()


@pytest.mark.parametrize("k", [None, 8, 1])
def test_whitened_vectors_equal_offline_whitening(client, encoder, white, k):
    texts = sentences(23, seed=6)
    extra = {} if k is None else {"dimensions": k}
    resp = client.embeddings.create(input=texts, model="tiny", encoding_format="float", **extra)
    got = vecs(resp)
    X = encoder.encode(texts, pooling=POOLING)
    kk = k or white.n_components_
    ref, bound = whitened_reference(X, white, kk, raw_bound(encoder, X))
    assert got.shape == (len(texts), kk)
    err = np.linalg.norm(got - ref, axis=1)
    assert np.all(err <= bound), (err.max(), bound.min())
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=kk * U32 * 4)


def test_default_base64_equals_float(client, server):
    """The client asks for base64 when no format is given and decodes it; both must give the same float32 bits."""
    import httpx

    texts = ["the cat sat on the mat", "猫 在 上"]
    floats = vecs(client.embeddings.create(input=texts, model="tiny", encoding_format="float"))
    default = vecs(client.embeddings.create(input=texts, model="tiny"))
    assert np.array_equal(floats.astype(np.float32), default.astype(np.float32))
    r = httpx.post(server.url + "/v1/embeddings", json={"input": texts, "encoding_format": "base64"},
                   headers={"Authorization": f"Bearer {API_KEY}"})
    raw = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in r.json()["data"]])
    assert np.array_equal(raw, floats.astype(np.float32))


def test_single_string_and_usage(client, encoder):
    text = "the big red dog ran fast"
    resp = client.embeddings.create(input=text, model="tiny", encoding_format="float")
    assert len(resp.data) == 1 and resp.object == "list"
    n = len(encoder.tokenizer(text)["input_ids"])  # [CLS] ... [SEP]: special tokens counted, as OpenAI's usage
    assert resp.usage.prompt_tokens == resp.usage.total_tokens == n
    batch = sentences(9, seed=2)
    resp = client.embeddings.create(input=batch, model="tiny", encoding_format="float")
    assert resp.usage.prompt_tokens == sum(len(ids) for ids in encoder.tokenizer(batch)["input_ids"])


def test_large_batch_split_on_the_server(client, encoder):
    """A client batch larger than a micro-batch's budget is split by the server, never refused."""
    texts = sentences(64, seed=8, lo=20, hi=60)  # the request cap of this server; ~64 × 40 tokens
    resp = client.embeddings.create(input=texts, model="tiny", encoding_format="float",
                                    extra_body={"whiten": False, "normalize": False})
    X = encoder.encode(texts, pooling=POOLING)
    assert np.all(np.abs(vecs(resp) - X) <= raw_bound(encoder, X))


def test_models_route(client):
    models = client.models.list()
    assert len(models.data) == 1 and models.data[0].object == "model"


@pytest.mark.parametrize("kwargs, param, code", [
    ({"input": "a cat", "dimensions": 25}, "dimensions", "invalid_dimensions"),  # the whitening keeps 24
    ({"input": "a cat", "dimensions": 0}, "dimensions", "invalid_dimensions"),
    ({"input": ""}, "input", "empty_input"),
    ({"input": []}, "input", "empty_input"),
    ({"input": ["a"] * 65}, "input", "too_many_inputs"),
    ({"input": [[1, 2, 3]]}, "input", "token_ids_unsupported"),
    ({"input": "a cat", "encoding_format": "int8"}, "encoding_format", "invalid_value"),
    ({"input": "a cat", "extra_body": {"truncate": False, "input": "cat " * 100}}, "input",
     "context_length_exceeded"),
    ({"input": ["cat " * 60] * 60}, "input", "too_many_tokens"),  # 60 × 62 tokens > 3,000 per request
])
def test_errors_through_the_client(client, kwargs, param, code):
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="tiny", **kwargs)
    err = info.value
    assert err.status_code == 400 and err.param == param and err.code == code, err.body


def test_token_ids_error_names_the_client_setting(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="tiny", input=[1, 2, 3])
    assert "check_embedding_ctx_length=False" in info.value.message


def test_wrong_key_is_401(server):
    bad = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.embeddings.create(model="tiny", input="a cat")
    assert info.value.code == "invalid_api_key"
