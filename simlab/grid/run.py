"""Run the study grid (kexue.fm/archives/8321: models × poolings × {none, whitening, whitening-k} × tasks).

Cost model: for each (model, task, max_length) the task's unique sentences are encoded in ONE forward pass
that yields every pooling (:meth:`simlab.encode.Encoder.encode_all`), through the on-disk
:class:`~simlab.encode.cache.VectorCache`; per pooling the whitening is fitted once and sliced for every k
(:func:`simlab.evaluate.scoring.score_poolings`, the loop ``simlab eval`` runs too: one projection per pooling,
every k a running sum over columns). Each cell is appended to ``DIR/results.jsonl`` as soon as it is scored, so a killed run resumes where it stopped; a fully cached rerun never loads a model.

>>> from simlab.grid import GridConfig, parse_models, run_grid
>>> cfg = GridConfig(parse_models("minilm:STS13"), whiten="none,full,256", k_sweep=True)   # doctest: +SKIP
>>> result = run_grid(cfg, "results/grid")                                               # doctest: +SKIP
>>> len(result.records)                                                                  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from simlab.grid.cells import Cell, GridConfig, ModelPlan, plan_model
from simlab.grid.models import LazyEncoder
from simlab.grid.store import ResultStore


@dataclass
class GridResult:
    records: list[dict]  # in plan order
    config: dict
    plans: dict[str, ModelPlan]
    seconds: float = 0.0
    cells_total: int = 0
    cells_scored: int = 0  # scored in this run (the rest were already stored)
    units_encoded: list[str] = field(default_factory=list)  # "model|task" whose vectors were (partly) computed
    units_cached: list[str] = field(default_factory=list)  # "model|task" served entirely from the vector cache
    models_loaded: list[str] = field(default_factory=list)
    discarded_bytes: int = 0  # half-written line dropped on resume
    unavailable: dict[str, list[str]] = field(default_factory=dict)  # model -> requested poolings it lacks
    warnings: list[str] = field(default_factory=list)  # "model|task|pooling: message" from the whitening fits


def run_grid(config: GridConfig, out: str | os.PathLike, *, data_dir=None, cache=None, batch_size: int = 64,
             threads: int | None = None, progress: bool = True,
             on_cell: Callable[[int, str], None] | None = None) -> GridResult:
    """Score every missing cell of ``config`` into ``out``; return all cells' records.

    ``cache`` is a :class:`~simlab.encode.cache.VectorCache` (default folder ``cache_dir("vectors")``).
    ``threads`` limits torch AND the BLAS under numpy (threadpoolctl); None leaves both at their defaults.
    A rerun or resume with the same ``threads`` reproduces every score bit for bit. A different thread count
    can change OpenBLAS's summation order (≈1e-16 relative in the scatter and projection GEMMs); a
    near-singular covariance amplifies that, and on cosines that tie massively (a random tiny model) it can
    move a Spearman in the 4th digit (seen with the random model of tests/grid/test_grid_resume.py).
    ``on_cell(n, key)`` is called after the n-th cell of this run is stored (tests use it to simulate a crash).
    """
    from threadpoolctl import threadpool_limits

    from simlab.encode.cache import VectorCache
    from simlab.evaluate.protocol import get_protocol
    from simlab.evaluate.runner import embed_task
    from simlab.evaluate.scoring import score_poolings
    from simlab.paths import data_dir as resolve_data_dir

    t0 = time.perf_counter()
    root = resolve_data_dir(data_dir)
    cache = cache if cache is not None else VectorCache()
    protocol = get_protocol(config.protocol)
    encoders = {m.name: _lazy_encoder(m, config, protocol, threads) for m in config.models}
    max_lengths = {name: _max_length(enc, config, protocol) for name, enc in encoders.items()}
    plans = {m.name: plan_model(config, m, encoders[m.name].dim, encoders[m.name].poolings) for m in config.models}
    identities = {name: enc.identity for name, enc in encoders.items()}
    all_cells = [c for m in config.models for t in m.tasks for _, _, c in plans[m.name].cells(t)]
    result = GridResult([], {}, plans, cells_total=len(all_cells),
                        unavailable={n: p.unavailable for n, p in plans.items() if p.unavailable})

    def embed(encoder, texts, poolings, max_length, bs, show_progress_bar=None):
        misses = cache.misses
        vecs = cache.embed(encoder, texts, poolings, max_length, bs, show_progress_bar=show_progress_bar)
        unit = f"{encoder.name}|{current_task}"
        (result.units_encoded if cache.misses > misses else result.units_cached).append(unit)
        return vecs

    # BLAS threads too (numpy's SVD / matmul): on a busy machine 2 spinning OpenBLAS threads can be 20x slower
    blas = threadpool_limits(threads) if threads else contextlib.nullcontext()
    with blas, ResultStore(out) as store:
        store.open(config.to_json(identities))
        result.config = config.to_json(identities)
        result.discarded_bytes = store.discarded
        done = sum(c.key in store.records for c in all_cells)
        bar = _progress(len(all_cells), done, progress)
        try:
            for m in config.models:
                plan, enc = plans[m.name], encoders[m.name]
                for place, current_task in enumerate(m.tasks, 1):
                    todo = [(p, s, c) for p, s, c in plan.cells(current_task) if c.key not in store.records]
                    if not todo:
                        continue
                    label = f"{current_task} ({place}/{len(m.tasks)}, {m.name})"  # what is being encoded
                    bar.set_postfix_str(label)
                    poolings = list(dict.fromkeys(p for p, _, _ in todo))
                    tv = embed_task(enc, current_task, poolings, data_dir=root, fit_on=config.fit_on,
                                    batch_size=batch_size, skip_bad_lines=config.skip_bad_lines,
                                    max_length=max_lengths[m.name], embed=embed,
                                    show_progress_bar=label if progress else False,
                                    splits=protocol.splits_for(current_task, config.split))
                    wanted = {p: [s for pp, s, _ in todo if pp == p] for p in poolings}
                    split = protocol.eval_split(current_task, config.split)
                    for scored in score_poolings(tv, wanted, enc.info(), split, enc.prefix):
                        p = scored.pooling
                        result.warnings += [f"{m.name}|{current_task}|{p}: {w}" for w in scored.warnings]
                        for s, rec in zip(wanted[p], scored.records):
                            key = Cell(m.name, current_task, p, s.label).key
                            store.append(key, {"cell": key, **rec}, sync=False)
                            result.cells_scored += 1
                            bar.update(1)
                            if on_cell is not None:
                                on_cell(result.cells_scored, key)
                        store.sync()
        finally:
            bar.close()
        result.records = [store.records[c.key] for c in all_cells if c.key in store.records]
    result.models_loaded = [n for n, e in encoders.items() if e.loaded]
    result.seconds = time.perf_counter() - t0
    return result


def _lazy_encoder(spec, config: GridConfig, protocol, threads) -> LazyEncoder:
    """The model's LazyEncoder with the prefix of ``--prefix``, else of the protocol (cmteb: the model's prompt)."""
    enc = LazyEncoder(spec, config.prefix, threads, config.engine, config.precision)
    if config.prefix is None and protocol.prompt is not None:
        from simlab.evaluate.protocol import model_prompts, prompt_text

        enc.prefix = prompt_text(protocol, model_prompts(enc.path, enc.ref.prefixes))
    return enc


def _max_length(enc: LazyEncoder, config: GridConfig, protocol) -> int | None:
    """``--max-length``, else the protocol's: None = each task's own (study), the model's maximum (cmteb)."""
    if config.max_length or protocol.max_length != "model":
        return config.max_length
    from simlab.evaluate.protocol import model_max_length

    return model_max_length(enc)


def _progress(total: int, done: int, enabled: bool):
    """A tqdm bar over cells (rate and ETA count only this run's cells)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, disable=not enabled, unit="cell", desc="grid", dynamic_ncols=True,
                smoothing=0.05)
