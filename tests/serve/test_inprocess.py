"""The application in process (the real start-up on the tiny model, httpx's ASGI transport): back-pressure (429 +
Retry-After), deadlines (503 + Retry-After), a client that goes away (dropped before it is computed), the
envelope for malformed input, and a hypothesis fuzz of the request schemas: no 500, no crash, every error in
OpenAI's envelope."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simlab.serve.app import create_app
from simlab.serve.config import Limits, ServeConfig
from simlab.serve.lifecycle import ServerState
from simlab.serve.startup import load
from tests.serve.conftest import POOLING


@pytest.fixture(scope="module")
def state(tiny, whitening_file):
    cfg = ServeConfig(model=str(tiny), pooling=POOLING, whitening=str(whitening_file), threads=1,
                      limits=Limits(max_queue_inputs=4, max_inputs=64, max_tokens_per_request=3000,
                                    max_payload_bytes=150_000))
    s = ServerState(cfg)
    load(s, log=lambda msg: None)
    assert s.phase == "ready", s.error
    yield s
    s.close()


def test_serving_keeps_numpy_blas_single_threaded(state):
    """An OpenBLAS worker spins after every call; the request path's small products need no threads."""
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i["user_api"] == "blas" and "mkl" not in i["internal_api"]]
    assert blas and all(i["num_threads"] == 1 for i in blas)


@pytest.fixture
def gate(state):
    """Hold the inference thread inside its forward pass until the gate opens; record what it computed."""
    key = state.pipeline.key
    real = state.forwards[key]
    ev, seen = threading.Event(), []

    def held(rows):
        seen.extend(tuple(r) for r in rows)
        ev.wait(20)
        return real(rows)

    state.forwards[key] = held
    yield ev, seen
    ev.set()
    state.forwards[key] = real


def run(coro):
    return asyncio.run(coro)


def client(state):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(state)), base_url="http://t")


def test_full_queue_is_429_with_retry_after(state, gate):
    async def go():
        async with client(state) as c:
            first = asyncio.create_task(c.post("/v1/embeddings", json={"input": "the cat"}))
            await asyncio.sleep(0.3)  # the worker now holds the first request
            queued = asyncio.create_task(c.post("/v1/embeddings", json={"input": ["a dog"] * 4}))
            await asyncio.sleep(0.3)
            over = await c.post("/v1/embeddings", json={"input": "a red cat"})
            gate[0].set()
            return over, await first, await queued

    over, first, queued = run(go())
    assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
    assert over.json()["error"]["code"] == "server_overloaded"
    assert over.json()["error"]["type"] == "rate_limit_error"
    assert first.status_code == queued.status_code == 200


def test_deadline_is_503_with_retry_after(state, gate):
    async def go():
        async with client(state) as c:
            first = asyncio.create_task(c.post("/v1/embeddings", json={"input": "the cat"}))
            await asyncio.sleep(0.3)
            t0 = time.perf_counter()
            late = await c.post("/v1/embeddings", json={"input": "a dog ran"}, headers={"x-request-timeout": "0.3"})
            waited = time.perf_counter() - t0
            gate[0].set()
            await first
            return late, waited

    late, waited = run(go())
    assert late.status_code == 503 and late.headers["retry-after"]
    assert late.json()["error"]["code"] == "queue_timeout"
    assert waited < 5


def test_disconnected_client_is_dropped_before_compute(state, gate):
    """Drive the ASGI app by hand: the body, then ``http.disconnect`` while the request waits in the queue."""
    app = create_app(state)
    marker = "big red mat"
    ids = tuple(state.pipeline.tokenize([marker])[0][0])

    async def request(body: bytes, disconnect_after: float | None):
        sent, messages = False, []

        async def receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(disconnect_after if disconnect_after is not None else 60)
            return {"type": "http.disconnect"}

        async def send(message):
            messages.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/v1/embeddings", "raw_path": b"/v1/embeddings", "query_string": b"",
                 "headers": [(b"content-type", b"application/json"), (b"host", b"t")], "client": ("127.0.0.1", 1),
                 "server": ("t", 80)}
        await app(scope, receive, send)
        return messages[0]["status"]

    async def go():
        first = asyncio.create_task(request(json.dumps({"input": "the cat"}).encode(), None))
        for _ in range(600):  # until the worker holds the first request in its forward pass (a loaded machine
            if gate[1]:       # may take longer than any fixed sleep; then both would share one batch)
                break
            await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        status = await request(json.dumps({"input": marker}).encode(), 0.2)
        answered = time.perf_counter() - t0
        gate[0].set()
        return status, answered, await first

    status, answered, first = run(go())
    assert status == 499 and answered < 5 and first == 200
    time.sleep(0.2)  # the worker prunes the dropped job on its next round
    assert ids not in gate[1]


@pytest.mark.parametrize("body, ctype, code", [
    (b'{"input": ', "application/json", "invalid_json"),
    (b'{"input": "a", }', "application/json", "invalid_json"),
    (b"\xff\xfe", "application/json", "invalid_json"),
    (b'[1, 2]', "application/json", "invalid_type"),
    (b'{"input": 5}', "application/json", "invalid_type"),
    (b'{"input": [-1]}', "application/json", "invalid_type"),
    (b'{"input": "a", "dimensions": "8"}', "application/json", "invalid_dimensions"),
    (b'{"input": "a", "whiten": "no"}', "application/json", "invalid_type"),
    (b'{"model": "x"}', "application/json", "missing_required_parameter"),
    (b'input=a', "application/x-www-form-urlencoded", "invalid_type"),
])
def test_malformed_and_wrong_types_are_400_envelopes(state, body, ctype, code):
    async def go():
        async with client(state) as c:
            return await c.post("/v1/embeddings", content=body, headers={"content-type": ctype})

    r = run(go())
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["code"] == code, err


def test_100k_character_input_is_truncated_not_refused(state):
    async def go():
        async with client(state) as c:
            return await c.post("/v1/embeddings", json={"input": "cat " * 25_000})

    r = run(go())
    assert r.status_code == 200
    assert r.json()["usage"]["prompt_tokens"] == state.pipeline.max_tokens


def test_body_over_the_cap_is_413_before_parsing(state):
    """Both a declared Content-Length and a chunked body (no length) over the cap; the chunked one is cut off
    while streaming, and is not valid JSON, so only a check before parsing can answer 413."""
    async def chunks():
        yield b'{"input": "'
        for _ in range(40):
            yield b"cat " * 1000  # 160 kB in all, over the 150 kB cap; never closed

    async def go():
        async with client(state) as c:
            declared = await c.post("/v1/embeddings", content=b"x" * 150_001,
                                    headers={"content-type": "application/json"})
            chunked = await c.post("/v1/embeddings", content=chunks(), headers={"content-type": "application/json"})
            return declared, chunked

    for r in run(go()):
        assert r.status_code == 413, r.text
        assert r.json()["error"]["code"] == "payload_too_large"


json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False, allow_infinity=False)
                           | st.text(max_size=30), lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
inputs = st.one_of(st.text(max_size=80), st.lists(st.text(max_size=40), max_size=70),
                   st.lists(st.integers(-5, 200_000), max_size=10),
                   st.lists(st.lists(st.integers(0, 100), max_size=5), max_size=5), json_values)
embedding_bodies = st.fixed_dictionaries({}, optional={
    "input": inputs, "model": st.one_of(st.text(max_size=20), json_values),
    "encoding_format": st.one_of(st.sampled_from(["float", "base64", "int8", ""]), json_values),
    "dimensions": st.one_of(st.integers(-3, 40), json_values), "user": json_values,
    "input_type": st.one_of(st.sampled_from(["query", "passage", "doc"]), json_values),
    "whiten": st.one_of(st.booleans(), json_values), "normalize": st.booleans(), "truncate": st.booleans()})
similarity_bodies = st.fixed_dictionaries({}, optional={
    "pairs": st.one_of(st.lists(st.lists(st.text(max_size=20), max_size=3), max_size=4), json_values),
    "dimensions": st.one_of(st.integers(-3, 40), json_values), "whiten": json_values})
search_bodies = st.fixed_dictionaries({}, optional={
    "index": st.one_of(st.just("none"), json_values), "query": json_values, "queries": json_values,
    "top_k": st.one_of(st.integers(-2, 2000), json_values)})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(route_body=st.one_of(st.tuples(st.just("/v1/embeddings"), embedding_bodies | json_values),
                            st.tuples(st.just("/v1/similarity"), similarity_bodies),
                            st.tuples(st.just("/v1/search"), search_bodies)))
def test_fuzz_no_500(state, route_body):
    from starlette.testclient import TestClient

    route, body = route_body
    with TestClient(create_app(state), raise_server_exceptions=False) as c:
        r = c.post(route, json=body)
    assert r.status_code in (200, 400, 404, 413), (route, body, r.status_code, r.text[:500])
    if r.status_code != 200:
        err = r.json()["error"]
        assert set(err) == {"message", "type", "param", "code"} and err["message"]
