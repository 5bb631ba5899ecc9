"""``ServerState``: what a running ``simlab serve`` holds, and its phase: starting -> ready -> draining.

``LifecycleMiddleware`` gives API routes a 503 with ``Retry-After`` while the model loads and after SIGTERM (the
drain: requests already accepted finish, new ones are turned away), counts requests in flight so the drain knows
when it is done, and records per-route Prometheus metrics. ``/health`` (liveness) is always answered; ``/ready``
says whether the API is.

>>> s = ServerState(config=None)
>>> s.phase, s.is_api("/v1/embeddings"), s.is_api("/health")
('starting', True, False)
"""

from __future__ import annotations

import threading
import time

from simlab.serve.metrics import ServeMetrics

API_PREFIXES = ("/v1/", "/embeddings", "/info")
ROUTES = ("/v1/embeddings", "/embeddings", "/v1/search", "/v1/similarity", "/v1/indexes", "/v1/models", "/info",
          "/health", "/ready", "/metrics", "/")


class ServerState:
    """The served pipelines and indexes, the batcher, metrics and the phase (set by :mod:`simlab.serve.startup`)."""

    def __init__(self, config, metrics: ServeMetrics | None = None):
        self.config = config
        self.metrics = metrics or ServeMetrics()
        self.phase = "starting"  # starting | ready | draining | failed
        self.error: BaseException | None = None
        self.pipeline = None  # the main simlab.serve.pipeline.Pipeline
        self.indexes: dict = {}  # name -> simlab.serve.search.ServedIndex
        self.batcher = None
        self.token_ids = None
        self.blas_limit = None  # threadpoolctl's limiter: numpy's BLAS single-threaded while serving
        self.self_check: dict = {}
        self.whitening_note: dict | None = None  # where the whitening came from (and its quality per k)
        self.info: dict = {}
        self.started = time.time()
        self.loaded_seconds: float | None = None
        self._in_flight = 0
        self._lock = threading.Lock()
        self.idle = threading.Event()
        self.idle.set()

    def close(self) -> None:
        """Undo what start-up did to the process: stop the inference thread, give numpy's BLAS its threads back."""
        if self.batcher is not None:
            self.batcher.stop()
        if self.blas_limit is not None:
            self.blas_limit.restore_original_limits()
            self.blas_limit = None

    @staticmethod
    def is_api(path: str) -> bool:
        return path.startswith(API_PREFIXES)

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.idle.clear()
        self.metrics.in_flight.inc()

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                self.idle.set()
        self.metrics.in_flight.dec()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def not_ready_error(self):
        from simlab.serve.errors import APIError

        if self.phase == "draining":
            return APIError(503, "the server is shutting down (draining); retry on another instance or later",
                            code="not_ready", headers={"Retry-After": "5"})
        if self.phase == "failed":
            return APIError(503, f"the server failed to start: {self.error}", code="not_ready",
                            headers={"Retry-After": "30"})
        return APIError(503, "the model is still loading; retry shortly (GET /ready says when)", code="not_ready",
                        headers={"Retry-After": "2"})


class LifecycleMiddleware:
    """Pure ASGI: 503 for API routes unless ready; in-flight counting; request metrics by route and status."""

    def __init__(self, app, state: ServerState):
        self.app, self.state = app, state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        route = path if path in ROUTES else "other"
        t0 = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        state = self.state
        try:
            if state.is_api(path) and state.phase != "ready":
                from simlab.serve.errors import error_response

                await error_response(state.not_ready_error())(scope, receive, send_wrapper)
                return
            state.enter()
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                state.leave()
        finally:
            m = state.metrics
            m.requests.labels(route, str(status["code"])).inc()
            m.request_seconds.labels(route).observe(time.perf_counter() - t0)
