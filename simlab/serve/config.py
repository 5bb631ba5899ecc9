"""``ServeConfig`` and ``Limits``: everything ``simlab serve`` is started with, built by the CLI by field name.

The request limits are OpenAI's (platform.openai.com/docs/api-reference/embeddings/create: 2,048 inputs, 300,000
tokens summed per request) and text-embeddings-inference's batching knobs (``--max-batch-tokens`` 16,384, a
payload cap checked before parsing); every one is configurable and reported by ``GET /info``.

>>> cfg = ServeConfig(model="minilm", limits=Limits(max_inputs=64))
>>> cfg.limits.max_inputs, cfg.host
(64, '127.0.0.1')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Limits:
    """Per-request and queue limits (0 or None where a field says so means "the model's own")."""

    max_inputs: int = 2048  # inputs per request (OpenAI)
    max_tokens_per_input: int | None = None  # None: the model's max positions; longer inputs are truncated
    max_tokens_per_request: int = 300_000  # summed over the inputs, after truncation (OpenAI)
    max_payload_bytes: int = 16 * 1024 * 1024  # request body, checked before parsing -> 413
    max_header_bytes: int = 16 * 1024  # all request headers together (uvicorn's h11 limit) -> 431 / 400
    max_batch_tokens: int = 1_024  # padded tokens per forward pass (TEI's name; its GPU default 16,384 is 2.2x
    # slower per sentence on a CPU than 1,024: benchmarks/bench_batch_tokens.py, docs/serve.md)
    max_batch_inputs: int = 256  # sentences per forward pass
    max_queue_inputs: int = 8_192  # queued sentences before 429 (TEI counts per input too)
    queue_timeout_s: float = 30.0  # a request still queued after this is dropped (503, Retry-After)

    def describe(self) -> dict:
        return asdict(self)


@dataclass
class IndexSpec:
    """``--index NAME=DIR``."""

    name: str
    folder: str


@dataclass
class ServeConfig:
    """How ``simlab serve`` runs (the CLI fills these by field name)."""

    model: str = "e5-small"
    pooling: str = "first-last-avg"
    prefix: str | None = None  # default role or literal text when a request sends no input_type
    whitening: str | None = None  # a saved simlab whitening (.safetensors)
    fit_whitening: str | None = None  # a task name or a corpus file to fit one on at start-up
    whitening_k: int | None = None  # components kept when fitting at start-up (default: all)
    default_dimensions: int | None = None  # whitened k when a request sends no `dimensions` (default: all kept)
    indexes: list[IndexSpec] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: list[str] = field(default_factory=list)
    engine: str = "torch"
    precision: str = "fp32"
    threads: int | None = None
    limits: Limits = field(default_factory=Limits)
    token_ids: str = "auto"  # auto | tiktoken | reject: how [int] / [[int]] inputs are read
    strict_model: bool = False  # 404 for an unknown `model` instead of a warning header
    cors_origins: list[str] = field(default_factory=list)
    drain_timeout_s: float = 30.0
    self_check_min_cosine: float | None = None  # None: by precision (fp32 0.9999, bf16 0.995, int8 0.98)
    data_dir: str | None = None
    log_level: str = "warning"
