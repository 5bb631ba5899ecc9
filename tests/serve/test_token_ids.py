"""Token-id input through tiktoken: ids decode to the text they encode, are re-tokenised with the model's own
tokenizer (so the served vector is the text's vector), and an id outside the encoding is a 400. cl100k_base cannot
be downloaded here, so a byte-level tiktoken ``Encoding`` built in the test stands in for it: the decode path and
the request path are tiktoken's and simlab's own either way."""

from __future__ import annotations

import asyncio
import base64

import httpx
import numpy as np
import pytest

tiktoken = pytest.importorskip("tiktoken")

from simlab.serve.app import create_app  # noqa: E402
from simlab.serve.config import ServeConfig  # noqa: E402
from simlab.serve.errors import APIError  # noqa: E402
from simlab.serve.lifecycle import ServerState  # noqa: E402
from simlab.serve.startup import load  # noqa: E402
from simlab.serve.tokens import TokenIds  # noqa: E402
from tests.serve.conftest import POOLING, sentences  # noqa: E402

TEXTS = ["今天天气很好", "the cat sat on the mat", "一个女孩在梳头。"]


def byte_encoding():
    """A tiktoken Encoding whose ids are the UTF-8 bytes (0-255) plus one merge, so multi-byte text round-trips."""
    ranks = {bytes([i]): i for i in range(256)}
    ranks[b"th"] = 256
    return tiktoken.Encoding(name="bytes-test", pat_str=r"""\S+|\s+""", mergeable_ranks=ranks, special_tokens={})


def test_ids_decode_to_their_text_and_foreign_ids_are_400():
    enc = byte_encoding()
    ids = TokenIds(enc)
    rows = [enc.encode(t) for t in TEXTS]
    assert any(256 in r for r in rows)  # the merge was used, so this is not a plain bytes() round trip
    assert ids.decode(rows) == TEXTS
    with pytest.raises(APIError) as err:
        ids.decode([rows[0], [1, enc.n_vocab + 5]])
    assert err.value.status == 400 and err.value.code == "invalid_token_id" and "input 1" in str(err.value)


@pytest.fixture(scope="module")
def state(tiny):
    s = ServerState(ServeConfig(model=str(tiny), pooling=POOLING, threads=1, token_ids="reject"))
    load(s, log=lambda msg: None)
    assert s.phase == "ready", s.error
    s.token_ids = TokenIds(byte_encoding())  # what from_mode gives when cl100k_base is in tiktoken's cache
    yield s
    s.close()


def _post(state, body):
    async def go():
        transport = httpx.ASGITransport(app=create_app(state))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.post("/v1/embeddings", json=body)

    return asyncio.run(go())


def _vectors(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.array([d["embedding"] for d in response.json()["data"]], dtype=np.float32)


def test_token_id_requests_get_the_texts_vectors(state):
    enc = state.token_ids.encoding
    texts = TEXTS + sentences(3, seed=9)
    by_text = _vectors(_post(state, {"input": texts}))
    by_ids = _vectors(_post(state, {"input": [enc.encode(t) for t in texts]}))
    np.testing.assert_array_equal(by_ids, by_text)  # the same text, so the same tokens and the same batch rows
    one = _post(state, {"input": enc.encode(TEXTS[0]), "encoding_format": "base64"})
    assert one.status_code == 200
    vec = np.frombuffer(base64.b64decode(one.json()["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_allclose(vec, by_text[0], rtol=0, atol=4 * np.finfo(np.float32).eps)
    bad = _post(state, {"input": [[1, 2, 10**6]]})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_token_id"
    assert bad.json()["error"]["param"] == "input"
