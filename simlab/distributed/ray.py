"""The Ray executor: each work item is one Ray task (``pip install 'simlab[ray]'``; ray is imported lazily).

Why Ray tasks and not Ray Data: the pipelines' unit of work is a shard whose output is written by the task itself,
atomically, and named by the shard (``shard-00042.npy``). That makes the two fault requirements plain:

- a worker dies mid-shard → Ray reruns the task (``max_retries``); the rerun writes the same bytes to the same
  names, and the half-written temp file of the dead attempt is never renamed into place, so every id lands
  exactly once;
- the driver dies → the finished shards are on disk with their sha256 in a done-record; a rerun verifies them
  and submits only the rest.

Ray Data would split the input into blocks of its own choosing and write outputs under generated names, so
neither "which ids are done" (resume) nor "the same batches as the one-process run" (bit-for-bit parity: batch
composition changes padding and so the floats) would hold without re-implementing the shard bookkeeping on top.
The driver keeps at most ``workers`` tasks in flight, so its memory does not grow with the number of shards.

>>> ex = RayExecutor(None, threads=1, workers=2)          # a local cluster on this machine   # doctest: +SKIP
>>> [r for _, r in ex.map(pow, [2, 3], shared=2, ordered=True)]                              # doctest: +SKIP
[4, 9]
"""

from __future__ import annotations

import logging
import os
from collections import deque

from simlab.distributed.threads import pin_threads

# forwarded to workers of an existing cluster (a local cluster started here inherits the environment anyway)
FORWARD_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM", "SIMLAB_CACHE", "SIMLAB_DATA",
               "HF_HOME")


def import_ray():
    """``import ray`` with an install hint."""
    try:
        import ray
    except ImportError as exc:
        from simlab.errors import BadInputError

        raise BadInputError("--ray needs Ray: pip install 'simlab[ray]'") from exc
    return ray


def _call(fn, item, shared, threads):
    """Runs in a Ray worker: pin the math threads (the parity requirement), then do the work."""
    pin_threads(threads)  # sets OMP_NUM_THREADS too, so a torch first imported inside fn starts pinned
    out = fn(item, shared)
    pin_threads(threads)  # and pins libraries fn loaded, for the next task in this worker process
    return out


def start_local_cluster(num_cpus: int, attempts: int = 3, **init_kwargs) -> None:
    """``ray.init`` a local cluster, retrying a failed start.

    Ray's raylet gives its dashboard agent about 20 s to report its ports and aborts otherwise; on an overloaded
    machine (many processes per core) the agent's imports can take longer. A retry finds its modules in the page
    cache and usually wins; if every attempt fails the error says why and what to do instead.
    """
    ray = import_ray()
    for attempt in range(1, attempts + 1):
        try:
            ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING, **init_kwargs)
            return
        except Exception as exc:  # Ray raises a bare Exception ("The current node timed out during startup")
            ray.shutdown()
            if attempt == attempts:
                from simlab.errors import SimlabError

                load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
                raise SimlabError(
                    f"Ray's local cluster did not start in {attempts} attempts ({exc}); its raylet allows its "
                    f"dashboard agent ~20 s to start, and this machine is busy (load {load:.1f} on "
                    f"{os.cpu_count()} CPUs). Retry later, or start a cluster once with `ray start --head` and "
                    f"pass its address: --ray HOST:PORT") from exc


class RayExecutor:
    """Ray tasks, ``threads`` CPUs each, at most ``workers`` at a time.

    ``address`` None starts a local cluster of ``workers × threads`` CPUs (all CPUs of this machine if ``workers``
    is None) unless Ray is already initialised in this process (then that cluster is used); otherwise it is the
    address of a running cluster (``ray start --head`` prints it; ``"auto"`` finds the local one).
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, threads: int = 1, workers: int | None = None,
                 max_retries: int = 3):
        ray = import_ray()
        self.threads, self.max_retries = int(threads), int(max_retries)
        self._owns = False
        if not ray.is_initialized():
            if address is None:
                n = workers or max(1, (os.cpu_count() or 1) // self.threads)
                start_local_cluster(num_cpus=n * self.threads)
            else:
                env = {k: os.environ[k] for k in FORWARD_ENV if k in os.environ}
                try:
                    ray.init(address=address, logging_level=logging.WARNING,
                             runtime_env={"env_vars": env} if env else None)
                except (ConnectionError, RuntimeError) as exc:
                    from simlab.errors import SimlabError

                    raise SimlabError(
                        f"could not connect to the Ray cluster at {address}: {str(exc).splitlines()[0]}. Check the "
                        f"address (`ray status` on the head node prints it); a cluster with token authentication "
                        f"(the default of recent Ray for clusters started by ray.init / ray start) also needs "
                        f"RAY_AUTH_MODE=token and its token (~/.ray/auth_token or RAY_AUTH_TOKEN) here") from exc
            self._owns = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        if cpus < self.threads:
            from simlab.errors import BadInputError

            raise BadInputError(f"the Ray cluster has {cpus} CPUs, fewer than --threads {self.threads} per worker")
        self.workers = min(workers or cpus // self.threads, cpus // self.threads)
        self.address = address or "local"
        self._remote = ray.remote(_call)

    def describe(self) -> str:
        return f"Ray ({self.address}), {self.workers} workers × {self.threads} threads"

    def map(self, fn, items, shared=None, ordered=False):
        ray = import_ray()
        shared_ref = ray.put(shared)
        task = self._remote.options(num_cpus=self.threads, max_retries=self.max_retries, retry_exceptions=False,
                                    name=getattr(fn, "__name__", "simlab"))  # shows as ray::NAME in ps
        items = iter(items)
        pending: deque = deque()  # (item, ref) in submission order
        try:
            while True:
                while len(pending) < self.workers:
                    item = next(items, _END)
                    if item is _END:
                        break
                    ref = task.remote(fn, item, shared_ref, self.threads)
                    pending.append((item, ref))
                if not pending:
                    return
                if ordered:
                    item, ref = pending.popleft()
                else:
                    ready, _ = ray.wait([r for _, r in pending], num_returns=1)
                    idx = next(i for i, (_, r) in enumerate(pending) if r == ready[0])
                    item, ref = pending[idx]
                    del pending[idx]
                yield item, self._get(ref)
        finally:
            for _, ref in pending:  # an error or an abandoned generator: stop the rest
                ray.cancel(ref, force=True)

    @staticmethod
    def _get(ref):
        ray = import_ray()
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            from simlab.errors import SimlabError

            cause = getattr(exc, "cause", None)
            if isinstance(cause, SimlabError):  # a user error (a bad line): one clean line, as without Ray
                raise cause from None
            raise

    def close(self) -> None:
        if self._owns:
            import_ray().shutdown()
            self._owns = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_END = object()
