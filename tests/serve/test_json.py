"""The response writer: orjson's float32 decimals read back to the very float32 values the standard json module
writes (both exact), and the standard path still works where orjson is absent."""

from __future__ import annotations

import json
import sys

import numpy as np
from fastapi.responses import JSONResponse
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simlab.serve.routes import FastJSONResponse, vectors_payload

FINITE32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


def _vectors(body: bytes) -> np.ndarray:
    return np.array([d["embedding"] for d in json.loads(body)["data"]], dtype=np.float32)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 8)), elements=FINITE32))
def test_orjson_and_the_standard_module_write_the_same_float32(Y):
    payload = {"object": "list", "data": vectors_payload(Y, "float")}
    fast = FastJSONResponse(payload).body
    plain = JSONResponse({"object": "list", "data": [
        {"object": "embedding", "index": i, "embedding": row} for i, row in enumerate(Y.tolist())]}).body
    assert np.array_equal(_vectors(fast), Y) and np.array_equal(_vectors(plain), Y)


def test_without_orjson_the_standard_module_writes_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "orjson", None)  # import orjson now raises ImportError
    Y = np.array([[0.1, -2.5e-7, 3.0]], np.float32)
    body = FastJSONResponse({"data": vectors_payload(Y, "float"), "usage": {"total_tokens": 3}}).body
    assert np.array_equal(_vectors(body), Y) and json.loads(body)["usage"] == {"total_tokens": 3}
