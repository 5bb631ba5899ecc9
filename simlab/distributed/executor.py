"""Executors: run ``fn(item, shared)`` over work items, in this process or on a Ray cluster.

Every corpus-scale pipeline (``simlab encode`` / ``whiten --vectors`` / ``index build --vectors``) is written once
as a per-shard function plus a driver loop over :meth:`Executor.map`; the executor only decides WHERE each call
runs. The per-shard functions are pure and deterministic (the same shard in → the same bytes out), which is what
makes a retried or repeated call harmless and the two executors' results identical.

>>> ex = LocalExecutor()
>>> sorted(r for _, r in ex.map(lambda x, k: x * k, [1, 2, 3], shared=10))
[10, 20, 30]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from simlab.distributed.threads import pin_threads


class Executor(Protocol):
    """Where the per-shard work runs."""

    name: str
    workers: int  # how many calls run at the same time

    def map(self, fn: Callable[[Any, Any], Any], items: Iterable, shared: Any = None,
            ordered: bool = False) -> Iterator[tuple[Any, Any]]:
        """Yield ``(item, fn(item, shared))`` for every item: in input order if ``ordered``, else as they finish.

        ``shared`` is sent to the workers once (a config, a trained empty index), not once per item.
        A failed call raises its exception in the driver; no further results are yielded.
        """

    def close(self) -> None:
        """Release the workers (and a cluster this executor started)."""


class LocalExecutor:
    """Everything in this process, one item after another, with math libraries pinned to ``threads``."""

    name = "local"

    def __init__(self, threads: int | None = None):
        self.threads = threads
        self.workers = 1

    def map(self, fn, items, shared=None, ordered=False):
        pin_threads(self.threads)
        for item in items:
            yield item, fn(item, shared)

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"one process{'' if self.threads is None else f', {self.threads} threads'}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_executor(ray: str | None, *, threads: int | None = None, workers: int | None = None,
                  max_retries: int = 3) -> Executor:
    """The executor for a CLI ``--ray`` value: None → this process; ``"local"`` → a local Ray cluster on this
    machine (``workers`` × ``threads`` CPUs; all CPUs by default); anything else → the address of an existing Ray
    cluster (``"auto"``, ``"HOST:PORT"``, ``"ray://HOST:10001"``).

    ``threads``: math threads per worker (Ray default 1; one process: library default). ``max_retries``: how often
    Ray reruns a task whose worker process died.
    """
    if ray is None:
        return LocalExecutor(threads)
    from simlab.distributed.ray import RayExecutor

    return RayExecutor(None if ray == "local" else ray, threads=threads or 1, workers=workers,
                       max_retries=max_retries)
