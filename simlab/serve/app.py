"""``create_app(state)``: the FastAPI application of ``simlab serve`` (routes, middlewares, error envelope,
the OpenAPI document).

Middlewares, outermost first: payload cap (413 before parsing) -> CORS (only with ``--cors-origin``) -> API key
(401) -> lifecycle (503 while starting or draining, in-flight count, request metrics). The OpenAPI document drops
FastAPI's 422 (every validation error is a 400 in OpenAI's envelope) and is committed as docs/serve-openapi.json.

>>> from simlab.serve.config import ServeConfig
>>> from simlab.serve.lifecycle import ServerState
>>> app = create_app(ServerState(ServeConfig(model="minilm")))
>>> "/v1/embeddings" in app.openapi()["paths"]
True
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from simlab.serve.auth import APIKeyMiddleware
from simlab.serve.errors import install_handlers
from simlab.serve.lifecycle import LifecycleMiddleware, ServerState
from simlab.serve.limits import PayloadLimitMiddleware

DESCRIPTION = """OpenAI-compatible sentence embeddings where `dimensions` means BERT-whitening k, plus search over
simlab indexes. Errors use OpenAI's envelope `{"error": {"message", "type", "param", "code"}}` (400 for schema
errors and malformed JSON, never 422). Extensions to OpenAI's request: `input_type`, `whiten`, `normalize`,
`truncate`."""


def create_app(state: ServerState, lifespan=None) -> FastAPI:
    """The application over ``state`` (filled by :func:`simlab.serve.startup.load`)."""
    import simlab
    from simlab.serve.playground import PAGE
    from simlab.serve.routes import router

    app = FastAPI(title="simlab serve", version=getattr(simlab, "__version__", "0"), description=DESCRIPTION,
                  lifespan=lifespan)
    app.state.serve = state
    app.include_router(router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def playground():
        return HTMLResponse(PAGE)

    install_handlers(app)
    cfg = state.config
    app.add_middleware(LifecycleMiddleware, state=state)
    if cfg.api_keys:
        app.add_middleware(APIKeyMiddleware, keys=list(cfg.api_keys))
    if cfg.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cfg.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["authorization", "content-type"])
    app.add_middleware(PayloadLimitMiddleware, max_bytes=cfg.limits.max_payload_bytes,
                       max_header_bytes=cfg.limits.max_header_bytes)
    app.openapi = lambda: openapi_document(app)
    return app


def openapi_document(app: FastAPI) -> dict:
    """FastAPI's document without 422s and the validation-error schemas (they are 400s here)."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        doc = get_openapi(title=app.title, version="1", description=app.description, routes=app.routes)
        for path in doc.get("paths", {}).values():
            for op in path.values():
                op.get("responses", {}).pop("422", None)
        schemas = doc.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        app.openapi_schema = doc
    return app.openapi_schema
