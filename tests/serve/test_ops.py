"""Operations on the live server: /health, /ready, /info, /v1/models, /metrics (Prometheus), TEI's timing headers,
the header cap, the committed OpenAPI document, and the CLI's one-line errors before any model loads."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from simlab.testing import assert_bad_input
from tests.serve.conftest import API_KEY, POOLING, sentences

AUTH = {"Authorization": f"Bearer {API_KEY}"}
ROOT = Path(__file__).resolve().parents[2]


def test_health_ready_info(server, encoder):
    assert httpx.get(server.url + "/health").json()["status"] == "ok"  # open: no key needed
    ready = httpx.get(server.url + "/ready").json()
    assert ready["self_check"]["min_cosine"] >= 0.9999
    info = httpx.get(server.url + "/info", headers=AUTH).json()
    assert info["weights"] == encoder.identity and info["pooling"] == POOLING
    assert info["engine"] == "torch" and info["precision"] == "fp32"
    assert info["whitening"]["k_max"] == 24 and info["whitening"]["k"]["supported"] == [1, 24]
    assert info["whitening"]["provenance"]["model"].startswith("fitted on the same weights")
    assert info["limits"]["max_inputs"] == 64 and info["limits"]["max_tokens_per_input"] == 64
    assert info["telemetry"] == "none"
    assert httpx.get(server.url + "/info").status_code == 401  # the API key guards everything but probes


def test_metrics_and_timing_headers(server):
    r = httpx.post(server.url + "/v1/embeddings", json={"input": sentences(5, seed=3)}, headers=AUTH)
    assert r.status_code == 200
    for h in ("x-total-time", "x-tokenization-time", "x-queue-time", "x-inference-time", "x-compute-tokens"):
        assert float(r.headers[h]) >= 0
    assert int(r.headers["x-compute-tokens"]) == r.json()["usage"]["prompt_tokens"]
    text = httpx.get(server.url + "/metrics", headers=AUTH).text
    for name in ("simlab_serve_request_seconds_bucket", "simlab_serve_batch_seconds_bucket",
                 "simlab_serve_queue_depth", "simlab_serve_tokens_total", 'route="/v1/embeddings",status="200"'):
        assert name in text


def test_header_over_the_cap_is_refused(server):
    r = httpx.get(server.url + "/health", headers={"x-big": "a" * 20_000})
    assert r.status_code == 431 and r.json()["error"]["code"] == "headers_too_large"


def test_openapi_document_is_committed_and_current():
    from simlab.serve.openapi import render

    committed = ROOT / "docs" / "serve-openapi.json"
    assert committed.is_file(), "run: simlab serve --write-openapi docs/serve-openapi.json"
    assert json.loads(committed.read_text(encoding="utf-8")) == json.loads(render()), \
        "docs/serve-openapi.json is stale: simlab serve --write-openapi docs/serve-openapi.json"
    doc = json.loads(render())
    ops = [op for path in doc["paths"].values() for op in path.values()]
    assert not any("422" in op.get("responses", {}) for op in ops)
    props = doc["components"]["schemas"]["EmbeddingRequest"]["properties"]
    assert {"input_type", "whiten", "dimensions", "encoding_format"} <= set(props)


@pytest.mark.parametrize("args, needle", [
    (["--pooling", "max"], "--pooling"),
    (["--whitening", "/nonexistent/w.safetensors"], "--whitening"),
    (["--index", "faq"], "NAME=DIR"),
    (["--index", "faq=/nonexistent"], "index.json"),
    (["--port", "70000"], "--port"),
    (["--fit-whitening", "NOSUCHTASK"], "NOSUCHTASK"),
    (["--default-dimensions", "64"], "needs a whitening"),
    (["--whitening-k", "64"], "--fit-whitening"),
    (["--max-batch-tokens", "0"], "--max-batch-tokens"),
    (["--api-key", ""], "--api-key"),
    (["--model", "/nonexistent/model"], "--model"),
])
def test_bad_options_one_line_before_loading(args, needle):
    assert_bad_input(["serve", *args], needle, within=3)


def test_connections_get_tcp_nodelay():
    """The server's connections, accepted by asyncio from simlab's own listening socket as uvicorn does, send
    without Nagle's delay (with proto 0 asyncio skipped TCP_NODELAY and every response waited 40 ms for the
    client's delayed ACK)."""
    import asyncio
    import socket

    from simlab.serve.server import bind

    async def accepted_nodelay() -> int:
        seen = asyncio.get_running_loop().create_future()

        def protocol():
            class P(asyncio.Protocol):
                def connection_made(self, transport):
                    sock = transport.get_extra_info("socket")
                    seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            return P()

        listener = bind("127.0.0.1", 0)
        server = await asyncio.get_running_loop().create_server(protocol, sock=listener)
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()
            server.close()

    assert asyncio.run(accepted_nodelay()) != 0
