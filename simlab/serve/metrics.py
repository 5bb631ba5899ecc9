"""Prometheus metrics of ``simlab serve`` (``GET /metrics``), in a registry of the app's own so that several
servers (tests) in one process do not collide. Names follow text-embeddings-inference's ``te_*`` metrics with a
``simlab_serve_`` prefix.

>>> m = ServeMetrics()
>>> m.observe_batch(0.01, 4, 64)
>>> b"simlab_serve_batch_inputs_count 1.0" in m.render()
True
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
TOKENS = (16, 64, 256, 1024, 4096, 16384, 65536, 300_000)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServeMetrics:
    """Request and batch latency histograms, queue depth, tokens, inputs and dropped requests."""

    def __init__(self):
        r = self.registry = CollectorRegistry()
        p = "simlab_serve_"
        self.requests = Counter(p + "requests", "HTTP requests answered", ["route", "status"], registry=r)
        self.request_seconds = Histogram(p + "request_seconds", "request latency, receipt to response",
                                         ["route"], buckets=LATENCY, registry=r)
        self.queue_seconds = Histogram(p + "queue_seconds", "time from queueing to the first forward pass",
                                       buckets=LATENCY, registry=r)
        self.tokenization_seconds = Histogram(p + "tokenization_seconds", "tokenisation time per request",
                                              buckets=LATENCY, registry=r)
        self.batch_seconds = Histogram(p + "batch_seconds", "forward-pass time per micro-batch", buckets=LATENCY,
                                       registry=r)
        self.batch_inputs = Histogram(p + "batch_inputs", "inputs per micro-batch", buckets=SIZES, registry=r)
        self.batch_tokens = Histogram(p + "batch_padded_tokens", "padded tokens per micro-batch", buckets=TOKENS,
                                      registry=r)
        self.queue_depth = Gauge(p + "queue_depth", "inputs waiting for a forward pass", registry=r)
        self.in_flight = Gauge(p + "in_flight_requests", "requests being handled", registry=r)
        self.tokens = Counter(p + "tokens", "input tokens embedded (after truncation)", registry=r)
        self.inputs = Counter(p + "inputs", "inputs embedded", registry=r)
        self.dropped = Counter(p + "dropped", "requests dropped before computing", ["reason"], registry=r)

    def observe_batch(self, seconds: float, inputs: int, padded_tokens: int) -> None:
        self.batch_seconds.observe(seconds)
        self.batch_inputs.observe(inputs)
        self.batch_tokens.observe(padded_tokens)

    def render(self) -> bytes:
        return generate_latest(self.registry)
