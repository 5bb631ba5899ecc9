"""``simlab serve``: an OpenAI-compatible embedding and search server where ``dimensions`` means whitening.

    simlab serve --model e5-small --fit-whitening LCQMC --index faq=faq-index --port 8000

One process, one inference thread (no --workers: each worker would load the model again on a 2-core machine).
Binds 127.0.0.1 unless --host says otherwise; no telemetry; CORS off unless --cors-origin. docs/serve.md.
"""

from __future__ import annotations

import argparse
import os

from simlab.cli.engine_opts import add_engine_args


def register(sub) -> None:
    from simlab.serve.config import Limits

    p = sub.add_parser("serve", help="OpenAI-compatible embedding + search server (dimensions = whitening k)",
                       description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="e5-small", help="short name (e5-small, minilm), local folder or HF id")
    p.add_argument("--pooling", default="first-last-avg",
                   help="cls, pooler, pooler-tanh, last-avg, first-last-avg or last2avg")
    p.add_argument("--prefix", default=None, help="default prefix when a request sends no input_type: a role the "
                   "model defines (e5: query, passage) or literal text")
    w = p.add_mutually_exclusive_group()
    w.add_argument("--whitening", metavar="FILE", help="a saved simlab whitening (.safetensors, `simlab whiten`), "
                   "checked against the model and pooling")
    w.add_argument("--fit-whitening", metavar="TASK|FILE", help="fit a whitening at start-up on a task's sentences "
                   "(e.g. LCQMC) or a corpus file (.txt / .jsonl)")
    p.add_argument("--whitening-k", type=int, default=None, help="with --fit-whitening: components kept (default d)")
    p.add_argument("--default-dimensions", type=int, default=None,
                   help="whitened k when a request sends no `dimensions` (default: all the whitening keeps)")
    p.add_argument("--index", action="append", default=[], metavar="NAME=DIR",
                   help="serve a `simlab index build` folder for /v1/search (repeatable)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 exposes the server to the network)")
    p.add_argument("--port", type=int, default=8000, help="port (0: a free one, printed at start)")
    p.add_argument("--api-key", action="append", default=[], metavar="KEY",
                   help="require 'Authorization: Bearer KEY' (repeatable; also $SIMLAB_API_KEYS, comma-separated)")
    add_engine_args(p, default="torch")
    p.set_defaults(precision="fp32")
    p.add_argument("--threads", type=int, default=None, help="inference threads (default: torch's)")
    p.add_argument("--max-batch-tokens", type=int, default=Limits.max_batch_tokens,
                   help="padded tokens (longest input x inputs) per forward pass; on a CPU small batches stay in "
                        "cache (benchmarks/bench_batch_tokens.py)")
    p.add_argument("--max-batch-inputs", type=int, default=256, help="sentences per forward pass")
    p.add_argument("--max-inputs", type=int, default=2048, help="inputs per request (OpenAI: 2048)")
    p.add_argument("--max-tokens-per-input", type=int, default=None,
                   help="truncate inputs to this many tokens (default: the model's maximum)")
    p.add_argument("--max-tokens-per-request", type=int, default=300_000, help="summed tokens per request")
    p.add_argument("--max-payload-bytes", type=int, default=16 * 1024 * 1024, help="request body cap (413)")
    p.add_argument("--max-queue-inputs", type=int, default=8192, help="queued inputs before 429")
    p.add_argument("--queue-timeout", type=float, default=30.0, help="seconds a request may wait in the queue")
    p.add_argument("--token-ids", choices=["auto", "tiktoken", "reject"], default="auto",
                   help="token-id input: decode with tiktoken's cl100k_base (if cached offline) or answer 400")
    p.add_argument("--strict-model", action="store_true", help="404 for a request naming another model")
    p.add_argument("--cors-origin", action="append", default=[], help="allow this browser origin (repeatable)")
    p.add_argument("--drain-timeout", type=float, default=30.0, help="seconds SIGTERM waits for requests in flight")
    p.add_argument("--data-dir", default=None, help="data folder for --fit-whitening TASK (default: $SIMLAB_DATA)")
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--write-openapi", metavar="FILE", default=None,
                   help="write the OpenAPI document to FILE and exit (no model is loaded)")
    p.set_defaults(func=run)


def _positive(args, *names) -> None:
    from simlab.errors import BadInputError

    for name in names:
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise BadInputError(f"--{name.replace('_', '-')} must be positive, got {value}")


def build_config(args):
    """ServeConfig from the parsed options, every check that needs no model done here (BadInputError)."""
    from pathlib import Path

    from simlab.encode.pooling import POOLINGS
    from simlab.errors import BadInputError, MissingFileError
    from simlab.serve.config import IndexSpec, Limits, ServeConfig

    _positive(args, "whitening_k", "default_dimensions", "max_batch_tokens", "max_batch_inputs", "max_inputs",
              "max_tokens_per_input", "max_tokens_per_request", "max_payload_bytes", "max_queue_inputs",
              "queue_timeout", "drain_timeout", "threads")
    if not 0 <= args.port <= 65535:
        raise BadInputError(f"--port must be in 0..65535, got {args.port}")
    if args.pooling not in POOLINGS:
        raise BadInputError(f"--pooling {args.pooling!r}: choose from {', '.join(POOLINGS)}")
    if args.whitening and not Path(args.whitening).is_file():
        raise MissingFileError(f"--whitening {args.whitening}: no such file (write one with `simlab whiten`)")
    if args.whitening_k is not None and not args.fit_whitening:
        raise BadInputError("--whitening-k applies to --fit-whitening (a saved whitening keeps its own k)")
    if args.default_dimensions is not None and not (args.whitening or args.fit_whitening):
        raise BadInputError("--default-dimensions needs a whitening (--whitening FILE or --fit-whitening TASK|FILE)")
    if args.fit_whitening and not Path(args.fit_whitening).is_file():
        from simlab.data import get_task

        get_task(args.fit_whitening)  # unknown task -> the list of valid ones
    indexes = []
    for item in args.index:
        name, sep, folder = item.partition("=")
        if not sep or not name.strip() or not folder.strip():
            raise BadInputError(f"--index {item!r}: expected NAME=DIR")
        if name in {i.name for i in indexes}:
            raise BadInputError(f"--index {name}: the name is used twice")
        if not (Path(folder) / "index.json").is_file():
            raise MissingFileError(f"--index {name}={folder}: not a simlab index folder (no index.json; build one "
                                   f"with `simlab index build`)")
        indexes.append(IndexSpec(name.strip(), folder))
    keys = list(args.api_key) + [k for k in os.environ.get("SIMLAB_API_KEYS", "").split(",") if k.strip()]
    if any(not k.strip() for k in args.api_key):
        raise BadInputError("--api-key must not be empty")
    _check_model_name(args.model)
    limits = Limits(max_inputs=args.max_inputs, max_tokens_per_input=args.max_tokens_per_input,
                    max_tokens_per_request=args.max_tokens_per_request, max_payload_bytes=args.max_payload_bytes,
                    max_batch_tokens=args.max_batch_tokens, max_batch_inputs=args.max_batch_inputs,
                    max_queue_inputs=args.max_queue_inputs, queue_timeout_s=args.queue_timeout)
    return ServeConfig(model=args.model, pooling=args.pooling, prefix=args.prefix, whitening=args.whitening,
                       fit_whitening=args.fit_whitening, whitening_k=args.whitening_k,
                       default_dimensions=args.default_dimensions, indexes=indexes, host=args.host, port=args.port,
                       api_keys=[k.strip() for k in keys], engine=args.engine, precision=args.precision,
                       threads=args.threads, limits=limits, token_ids=args.token_ids, strict_model=args.strict_model,
                       cors_origins=list(args.cors_origin), drain_timeout_s=args.drain_timeout,
                       data_dir=args.data_dir, log_level=args.log_level)


def _check_model_name(name: str) -> None:
    """A short name, a model folder or a hub id; checked without loading anything."""
    from pathlib import Path

    from simlab.errors import ModelError
    from simlab.models.registry import SHORT_NAMES

    path = Path(name).expanduser()
    if name in SHORT_NAMES or (path.is_dir() and (path / "config.json").is_file()):
        return
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(f"--model {name}: not a model folder (no config.json) and not a short name "
                         f"({', '.join(SHORT_NAMES)})")


def _need_serve_extra() -> None:
    from importlib.util import find_spec

    from simlab.errors import BadInputError

    for name in ("fastapi", "uvicorn", "prometheus_client", "pydantic"):  # found, not imported: options come first
        if find_spec(name) is None:
            raise BadInputError(f"simlab serve needs the optional package {name}: pip install 'simlab[serve]'")


def run(args) -> int:
    _need_serve_extra()
    if args.write_openapi:
        from simlab.serve.openapi import write_openapi

        write_openapi(args.write_openapi)
        return 0
    cfg = build_config(args)
    from simlab.serve.server import run as serve

    return serve(cfg)
