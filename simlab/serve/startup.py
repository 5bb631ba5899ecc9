"""Start-up of ``simlab serve`` (in a thread, while ``/health`` already answers and ``/ready`` says 503):
the encoder, the whitening (loaded and checked, or fitted), the indexes, the batcher, then the self-check.

The self-check embeds the probe sentences through the serving path (token ids merged into one micro-batch, the
configured engine and precision) and compares each with the torch fp32 reference computed on its own (the
study's exact path, :meth:`Pipeline.forward_reference`): ``/ready`` stays 503 below the threshold
(fp32 0.9999, bf16 0.995, int8 0.98: what simlab's engines keep, README "Encoding speed"), and ``/info`` reports it.
Different batch shapes change float32 rounding only, so torch fp32 passes at ≈ 1 − 1e-7.

>>> state = ServerState(ServeConfig(model="minilm"))                  # doctest: +SKIP
>>> load(state); state.phase                                          # doctest: +SKIP
'ready'
"""

from __future__ import annotations

import time

import numpy as np

from simlab.serve.batching import MicroBatcher
from simlab.serve.config import ServeConfig
from simlab.serve.lifecycle import ServerState
from simlab.serve.pipeline import Pipeline
from simlab.serve.probes import PROBES

MIN_COSINE = {"fp32": 0.9999, "bf16": 0.995, "int8": 0.98}


def single_threaded_blas():
    """Limit numpy's BLAS (OpenBLAS) to one thread for the life of the server; returns threadpoolctl's limiter.

    The request path calls BLAS only for small products (the whitening projection, scores), where threads gain
    nothing, and an OpenBLAS worker keeps spinning after every call: on 2 cores under a one-client load of
    32-sentence requests it took 0.44 of a core while the two inference threads got 0.71 each, and a 32-sentence
    forward pass took 169.6 ms instead of 103.3 (``benchmarks/profile_serve.py``, docs/serve.md). torch's own
    GEMMs are not numpy's BLAS and keep their threads.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def load(state: ServerState, log=print) -> None:
    """Fill ``state`` and set its phase to ready (or failed, with ``state.error``)."""
    from simlab.serve.search import EncoderCache, load_index
    from simlab.serve.tokens import TokenIds

    cfg: ServeConfig = state.config
    t0 = time.perf_counter()
    try:
        state.blas_limit = single_threaded_blas()
        state.token_ids = TokenIds.from_mode(cfg.token_ids)
        encoders = EncoderCache(cfg.threads)
        encoder, ref = encoders.get(cfg.model, cfg.engine, cfg.precision)
        log(f"loaded {encoder.identity} ({encoder.engine}/{encoder.precision})")
        prefix = ref.prefixes.get(cfg.prefix, cfg.prefix) if cfg.prefix else ""
        state.pipeline = Pipeline(encoder, cfg.pooling, prefix=prefix, prefixes=ref.prefixes,
                                  max_tokens=cfg.limits.max_tokens_per_input)
        white, state.whitening_note = whitening_for(cfg, state.pipeline, log)
        state.pipeline.set_whitening(white, cfg.default_dimensions)
        for spec in cfg.indexes:
            state.indexes[spec.name] = load_index(spec, encoders)
            log(f"index {spec.name}: {state.indexes[spec.name].index!r}")
        pipelines = [state.pipeline] + [i.pipeline for i in state.indexes.values()]
        state.forwards = {p.key: p.forward for p in pipelines}
        lim = cfg.limits
        state.batcher = MicroBatcher(lim.max_batch_tokens, lim.max_batch_inputs, lim.max_queue_inputs, state.metrics)
        state.batcher.start()
        state.self_check = self_check(state)
        floor = cfg.self_check_min_cosine or MIN_COSINE.get(encoder.precision, 0.98)
        state.self_check["threshold"] = floor
        if state.self_check["min_cosine"] < floor:
            from simlab.errors import ModelError

            raise ModelError(f"start-up self-check failed: {encoder.engine}/{encoder.precision} vectors have cosine "
                             f"{state.self_check['min_cosine']:.5f} to the torch fp32 reference (need ≥ {floor}); "
                             f"use --engine torch --precision fp32")
        state.loaded_seconds = time.perf_counter() - t0
        state.phase = "ready"
        log(f"ready in {state.loaded_seconds:.1f} s (self-check min cosine {state.self_check['min_cosine']:.6f})")
    except BaseException as exc:  # reported by the CLI as one line; the server stops
        state.error = exc
        state.phase = "failed"


def whitening_for(cfg: ServeConfig, pipeline: Pipeline, log):
    """(Whitening or None, provenance note): ``--whitening FILE`` checked, or ``--fit-whitening`` fitted on the
    serving path's own vectors (same prefix and max tokens as the requests will have)."""
    from simlab.serve import provenance
    from simlab.whitening import Whitening

    encoder = pipeline.encoder
    if cfg.whitening:
        white = Whitening.load(cfg.whitening)
        note = {"file": cfg.whitening, "model": provenance.check_model(white, encoder, cfg.whitening)}
        note.update(provenance.check_pooling(white, encoder, cfg.pooling, cfg.whitening, PROBES))
        return white, note
    if cfg.fit_whitening:
        texts, what = fit_texts(cfg.fit_whitening, cfg.data_dir)
        t0 = time.perf_counter()
        X = pipeline.embed_offline(texts)
        white = Whitening(n_components=cfg.whitening_k, fit_on=f"{what} pooling={cfg.pooling}",
                          source_model=encoder.identity).fit(X)
        log(f"fitted a whitening on {len(X)} {cfg.pooling} vectors of {what} in {time.perf_counter() - t0:.1f} s")
        note = {"fitted_at_startup": what, "vectors": len(X)}
        if not what.startswith("file:"):  # an STS task: its scored split is among the fitted vectors
            from simlab.serve.info import suggested_ks
            from simlab.serve.quality import quality_by_k

            note["quality"] = quality_by_k(cfg.fit_whitening, cfg.data_dir, texts, X, white,
                                           suggested_ks(int(white.n_components_)))
            log(f"quality per k on {note['quality']['task']} {note['quality']['split']}: raw "
                f"{note['quality']['raw']}, " + ", ".join(f"k={k} {v}" for k, v in note["quality"]["by_k"].items()))
        return white, note
    return None, None


def fit_texts(source: str, data_dir: str | None) -> tuple[list[str], str]:
    """Sentences of a task (every split, as ``simlab whiten --task``) or of a corpus file."""
    from pathlib import Path

    if Path(source).is_file():
        from simlab.retrieval import read_corpus

        return list(read_corpus(source).texts), f"file:{source}"
    from simlab.data import fit_sentences, get_task

    spec = get_task(source)
    return list(fit_sentences(spec.name, "all", data_dir=data_dir)), f"all splits of {spec.name}"


def self_check(state: ServerState) -> dict:
    """Probe sentences through the batcher vs one-by-one torch fp32: min cosine and max |difference|."""
    p = state.pipeline
    ids, _ = p.tokenize(list(PROBES))
    job = state.batcher.submit(ids, forward=lambda key, rows: state.forwards[key](rows), key=p.key)
    served = job.future.result(timeout=600)
    ref = np.concatenate([p.forward_reference([row]) for row in ids])
    cos = np.sum(served * ref, axis=1) / (np.linalg.norm(served, axis=1) * np.linalg.norm(ref, axis=1))
    return {"probes": len(ids), "min_cosine": float(cos.min()), "max_abs_diff": float(np.abs(served - ref).max()),
            "engine": p.encoder.engine, "precision": p.encoder.precision}
