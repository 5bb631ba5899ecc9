"""The HTTP routes: OpenAI's ``/v1/embeddings`` (and ``/embeddings``) and ``/v1/models``; simlab's
``/v1/search``, ``/v1/indexes``, ``/v1/similarity``; operations ``/health``, ``/ready``, ``/info``, ``/metrics``.

Embedding a request: validate (pydantic, then the limits), decode token ids, tokenise in a worker thread, queue
the token ids for the inference thread (:mod:`simlab.serve.batching`) while watching for the client going away,
then whiten / normalise and encode (float or little-endian float32 base64). Timing headers carry
text-embeddings-inference's names, in milliseconds.

>>> vectors_payload(np.ones((1, 2), "float32"), "base64")[0]["embedding"]
'AACAPwAAgD8='
"""

from __future__ import annotations

import asyncio
import base64
import time

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from simlab.serve import schemas as S
from simlab.serve.batching import Dropped, QueueFull
from simlab.serve.errors import APIError
from simlab.serve.limits import check_counts, check_inputs

ERRORS = {code: {"model": S.ErrorResponse, "description": d} for code, d in (
    (400, "invalid request (OpenAI envelope; also schema errors and malformed JSON)"),
    (401, "missing or wrong API key"), (413, "payload over the cap"),
    (429, "queue full (Retry-After)"), (503, "starting up or draining (Retry-After)"))}
router = APIRouter()


def vectors_payload(Y: np.ndarray, encoding_format: str) -> list[dict]:
    """OpenAI's ``data`` list; float rows stay float32 numpy arrays, which :class:`FastJSONResponse` writes."""
    if encoding_format == "base64":
        Y = np.ascontiguousarray(Y, dtype="<f4")
        return [{"object": "embedding", "index": i, "embedding": base64.b64encode(row.tobytes()).decode("ascii")}
                for i, row in enumerate(Y)]
    return [{"object": "embedding", "index": i, "embedding": row} for i, row in enumerate(Y)]


class FastJSONResponse(JSONResponse):
    """JSON through orjson (numpy float32 rows as their shortest round-trip decimals: 0.2 ms for 32 × 256 floats,
    against 3.3 ms for ``tolist`` + the standard json module, ``benchmarks/profile_serve.py``: time the event loop
    takes from the forward pass); the standard module where orjson is not installed."""

    def render(self, content) -> bytes:
        try:
            import orjson
        except ImportError:
            return super().render(_plain(content))
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


def _plain(value):
    """``value`` with numpy arrays as lists (for the standard json module)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.tolist() if isinstance(value, np.ndarray) else value


def as_rows(value) -> tuple[list, bool]:
    """(inputs, are_token_ids) of OpenAI's ``input`` union."""
    if isinstance(value, str):
        return [value], False
    if value and all(isinstance(v, int) for v in value):
        return [list(value)], True
    return list(value), bool(value) and isinstance(value[0], list)


async def embed(request: Request, pipeline, texts: list[str], input_type=None, truncate: bool = True):
    """Pooled vectors (n, d) of ``texts`` and (token count, timings) through the batcher."""
    state = request.app.state.serve
    t0 = time.perf_counter()
    ids, counts = await run_in_threadpool(pipeline.tokenize, texts, input_type, truncate)
    total = check_counts(counts, state.config.limits)
    t_tok = time.perf_counter() - t0
    state.metrics.tokenization_seconds.observe(t_tok)
    timeout = _timeout(request, state.config.limits.queue_timeout_s)
    try:
        job = state.batcher.submit(ids, forward=lambda key, rows: state.forwards[key](rows), key=pipeline.key,
                                   deadline=time.monotonic() + timeout)
    except QueueFull as exc:
        raise APIError(429, str(exc), code="server_overloaded", type="rate_limit_error",
                       headers={"Retry-After": str(exc.retry_after)}) from None
    except Dropped:
        raise state.not_ready_error() from None
    watcher = asyncio.create_task(_watch_disconnect(request, job))
    try:
        X = await asyncio.wait_for(asyncio.wrap_future(job.future), timeout + 1.0)
    except (TimeoutError, Dropped) as exc:
        job.cancel("deadline" if isinstance(exc, TimeoutError) else "disconnected")
        if isinstance(exc, Dropped) and exc.reason == "disconnected":
            raise APIError(499, "the client closed the request", code="client_closed_request") from None
        if isinstance(exc, Dropped) and exc.reason == "stopped":
            raise state.not_ready_error() from None
        raise APIError(503, f"the request waited longer than its deadline of {timeout:g} s in the queue; retry "
                            f"later", code="queue_timeout", headers={"Retry-After": str(state.batcher.retry_after())}
                       ) from None
    finally:
        watcher.cancel()
    queue_s = (job.t_start or time.perf_counter()) - job.t_submit
    state.metrics.queue_seconds.observe(queue_s)
    state.metrics.tokens.inc(total)
    state.metrics.inputs.inc(len(texts))
    timing = {"tokens": total, "characters": sum(len(t) for t in texts), "tokenization": t_tok, "queue": queue_s,
              "inference": job.inference_s, "batches": job.batches, "start": t0}
    return X, timing


def _timeout(request: Request, default: float) -> float:
    value = request.headers.get("x-request-timeout")
    try:
        return min(default, max(0.001, float(value))) if value else default
    except ValueError:
        raise APIError(400, "the X-Request-Timeout header must be a number of seconds", code="invalid_header"
                       ) from None


async def _watch_disconnect(request: Request, job) -> None:
    """Cancel ``job`` when the client goes away (ASGI ``http.disconnect`` once the body has been read)."""
    try:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                job.cancel()
                return
    except (asyncio.CancelledError, RuntimeError):
        return


def timing_headers(timing: dict, extra: dict | None = None) -> dict:
    ms = lambda s: f"{1000 * s:.3f}"  # noqa: E731
    total = time.perf_counter() - timing["start"]
    return {"x-compute-type": "cpu", "x-total-time": ms(total), "x-tokenization-time": ms(timing["tokenization"]),
            "x-queue-time": ms(timing["queue"]), "x-inference-time": ms(timing["inference"]),
            "x-compute-time": ms(timing["tokenization"] + timing["inference"]),
            "x-compute-tokens": str(timing["tokens"]), "x-compute-characters": str(timing["characters"]),
            "x-batches": str(timing["batches"]), **(extra or {})}


def check_model(state, model: str | None) -> dict:
    """Lenient by default: a header warns about another model name; ``--strict-model`` answers 404."""
    served = state.pipeline.name
    if model is None or model == served or model == state.config.model:
        return {}
    if state.config.strict_model:
        raise APIError(404, f"the model '{model}' is not served here; this server serves '{served}' (GET /v1/models)",
                       param="model", code="model_not_found")
    return {"x-simlab-warning": f"model '{model}' is not served here; answered with '{served}'"}


@router.post("/v1/embeddings", response_model=S.EmbeddingResponse, responses=ERRORS, tags=["openai"])
@router.post("/embeddings", response_model=S.EmbeddingResponse, responses=ERRORS, tags=["openai"],
             include_in_schema=False)
async def create_embeddings(body: S.EmbeddingRequest, request: Request):
    """Embed text, OpenAI's contract; ``dimensions`` = the number of whitened components k."""
    state = request.app.state.serve
    p = state.pipeline
    rows, are_ids = as_rows(body.input)
    check_inputs(rows, state.config.limits)
    p.check_dimensions(body.dimensions, body.whiten)
    headers = check_model(state, body.model)
    texts = state.token_ids.decode(rows) if are_ids else rows
    if are_ids:
        check_inputs(texts, state.config.limits)
    X, timing = await embed(request, p, texts, body.input_type, body.truncate)
    Y = p.project(X, body.dimensions, body.whiten, body.normalize)
    payload = {"object": "list", "data": vectors_payload(Y, body.encoding_format), "model": p.name,
               "usage": {"prompt_tokens": timing["tokens"], "total_tokens": timing["tokens"]}}
    return FastJSONResponse(payload, headers=timing_headers(timing, headers))


@router.post("/v1/search", response_model=S.SearchResponse, responses={**ERRORS, 404: ERRORS[400]},
             tags=["simlab"])
async def search(body: S.SearchRequest, request: Request):
    """Top-k hits of an index (extension); the query is embedded the way the index was built."""
    state = request.app.state.serve
    served = state.indexes.get(body.index)
    if served is None:
        names = ", ".join(state.indexes) or "none (start the server with --index NAME=DIR)"
        raise APIError(404, f"no index named '{body.index}'; served indexes: {names}", param="index",
                       code="index_not_found")
    if (body.query is None) == (body.queries is None):
        raise APIError(400, "send exactly one of 'query' and 'queries'", param="query", code="invalid_value")
    queries = [body.query] if body.query is not None else list(body.queries)
    check_inputs(queries, state.config.limits)
    X, timing = await embed(request, served.pipeline, queries, body.input_type)
    hits = served.hits(served.pipeline.project(X), body.top_k, body.min_score, body.return_text)
    data = [{"object": "search_result", "index": i, "query": q, "hits": h}
            for i, (q, h) in enumerate(zip(queries, hits))]
    return JSONResponse({"object": "list", "data": data, "model": served.pipeline.name, "index": body.index,
                         "usage": {"prompt_tokens": timing["tokens"], "total_tokens": timing["tokens"]}},
                        headers=timing_headers(timing))


@router.get("/v1/indexes", tags=["simlab"])
async def list_indexes(request: Request):
    """The indexes this server searches (extension)."""
    state = request.app.state.serve
    return {"object": "list", "data": [i.describe() for i in state.indexes.values()]}


@router.post("/v1/similarity", response_model=S.SimilarityResponse, responses=ERRORS, tags=["simlab"])
async def similarity(body: S.SimilarityRequest, request: Request):
    """Cosine of sentence pairs through the embeddings pipeline (whitened to ``dimensions`` unless whiten=false)."""
    state = request.app.state.serve
    p = state.pipeline
    texts = [s for pair in body.pairs for s in pair]
    check_inputs(texts, state.config.limits)
    p.check_dimensions(body.dimensions, body.whiten)
    X, timing = await embed(request, p, texts, body.input_type)
    Y = p.project(X, body.dimensions, body.whiten).astype(np.float64)
    scores = np.sum(Y[0::2] * Y[1::2], axis=1)
    return JSONResponse({"object": "list", "model": p.name,
                         "data": [{"object": "similarity", "index": i, "score": float(s)} for i, s in enumerate(scores)],
                         "usage": {"prompt_tokens": timing["tokens"], "total_tokens": timing["tokens"]}},
                        headers=timing_headers(timing))


@router.get("/v1/models", response_model=S.ModelList, tags=["openai"])
async def list_models(request: Request):
    state = request.app.state.serve
    p = state.pipeline
    return {"object": "list", "data": [{"id": p.name, "object": "model", "created": int(state.started),
                                        "owned_by": "simlab", "dimensions": p.out_dim, "max_tokens": p.max_tokens}]}


@router.get("/health", tags=["operations"])
async def health(request: Request):
    """Liveness: the process answers (always 200, even while loading or draining)."""
    return {"status": "ok", "phase": request.app.state.serve.phase}


@router.get("/ready", tags=["operations"], responses={503: ERRORS[503]})
async def ready(request: Request):
    """Readiness: 200 once the model is loaded and the self-check passed; 503 while starting or draining."""
    state = request.app.state.serve
    if state.phase != "ready":
        raise state.not_ready_error()
    return {"status": "ready", "self_check": state.self_check}


@router.get("/info", tags=["operations"])
async def info(request: Request):
    """Model, weights hash, engine, precision, pooling, whitening (supported k), limits, version."""
    from simlab.serve.info import describe

    return describe(request.app.state.serve)


@router.get("/metrics", tags=["operations"], response_class=Response)
async def metrics(request: Request):
    from simlab.serve.metrics import CONTENT_TYPE

    return Response(request.app.state.serve.metrics.render(), media_type=CONTENT_TYPE)
