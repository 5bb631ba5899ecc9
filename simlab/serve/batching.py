"""``MicroBatcher``: one inference thread that merges the inputs of concurrent requests into token-budget batches.

What text-embeddings-inference and infinity do (specs/serve.md §1), on a CPU:

- a batch costs its *padded* tokens, max_len × n (TEI's ``--max-batch-tokens``), so the worker looks at the
  inputs waiting in the oldest requests (a window of ``WINDOW_TOKENS`` or 4 budgets, whichever is more), sorts
  them by length (infinity) and packs the longest first until the next one would overflow the budget (on a CPU a
  small budget is fastest: its activations stay in cache); a long client batch is split over several passes,
  so no batch size below the request cap ever errors;
- no timer: a batch is formed as soon as the worker is free (TEI), so a lone request never waits for company;
- a request whose client went away, or whose deadline passed, is dropped before it is computed (TEI drops
  disconnected clients; infinity #546 asked for the deadline);
- the queue is bounded in inputs (TEI counts per input): a full queue is a 429 with a Retry-After estimated from
  the measured throughput.

>>> import numpy as np
>>> b = MicroBatcher(max_batch_tokens=8)
>>> b.start()
>>> job = b.submit([[1, 2], [3, 4, 5]], forward=lambda key, ids: np.array([[len(r)] for r in ids], "float32"))
>>> job.future.result(timeout=5).ravel().tolist()
[2.0, 3.0]
>>> b.stop()
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field

import numpy as np

WINDOW_TOKENS = 16_384  # inputs looked at per batch: at least this many tokens (and 4 budgets)
WINDOW_BUDGETS = 4


class QueueFull(Exception):
    """The queue holds too many inputs; ``retry_after`` is the estimated wait in seconds."""

    def __init__(self, queued: int, retry_after: int):
        super().__init__(f"the server is overloaded ({queued} inputs queued); retry after {retry_after} s")
        self.queued, self.retry_after = queued, retry_after


class Dropped(Exception):
    """The request was dropped before it was computed: ``reason`` is "disconnected", "deadline" or "stopped"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(eq=False)
class Job:
    """One request's inputs. ``future`` resolves to the (n, d) float32 outputs in input order."""

    ids: list[list[int]]
    forward: object  # forward(key, ids) -> (n, d) array
    key: object = None  # jobs with the same key share forward passes
    deadline: float = math.inf  # time.monotonic() after which the job is dropped
    future: Future = field(default_factory=Future)
    remaining: deque = field(default_factory=deque)
    out: np.ndarray | None = None
    done: int = 0
    cancelled: bool = False
    t_submit: float = field(default_factory=time.perf_counter)
    t_start: float | None = None  # first forward that holds one of its inputs
    inference_s: float = 0.0  # summed time of the forward passes that held its inputs
    batches: int = 0

    def cancel(self, reason: str = "disconnected") -> None:
        """Drop the job now (client gone, deadline passed): its future fails with Dropped(reason) at once and the
        worker skips the inputs not computed yet."""
        self.cancelled = True
        _fail(self, Dropped(reason))


class MicroBatcher:
    """The queue and its single inference thread (``start`` / ``stop``); ``submit`` from any thread."""

    def __init__(self, max_batch_tokens: int = 16_384, max_batch_inputs: int = 256, max_queue_inputs: int = 8192,
                 metrics=None):
        self.max_batch_tokens, self.max_batch_inputs = int(max_batch_tokens), int(max_batch_inputs)
        self.max_queue_inputs = int(max_queue_inputs)
        self.metrics = metrics
        self._jobs: deque[Job] = deque()
        self._queued = 0  # inputs not yet taken into a batch
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop = False
        self._rate = None  # measured inputs per second (exponential average), for Retry-After
        self.batches = 0
        self.dropped = 0  # jobs dropped before they were fully computed

    # -- client side ---------------------------------------------------------------------------------
    def submit(self, ids: list[list[int]], forward, key=None, deadline: float = math.inf) -> Job:
        """Queue one request's token-id rows; QueueFull when the queue would exceed its input cap."""
        job = Job(ids=ids, forward=forward, key=key, deadline=deadline)
        job.remaining.extend(range(len(ids)))
        with self._cond:
            if self._stop:
                raise Dropped("stopped")
            if self._queued and self._queued + len(ids) > self.max_queue_inputs:
                raise QueueFull(self._queued, self.retry_after())
            self._jobs.append(job)
            self._queued += len(ids)
            self._gauge()
            self._cond.notify()
        if not ids:
            job.future.set_result(np.zeros((0, 0), np.float32))
        return job

    def retry_after(self) -> int:
        """Seconds until the queue has drained at the measured rate (at least 1)."""
        rate = self._rate or 50.0
        return max(1, math.ceil(self._queued / rate))

    @property
    def queued(self) -> int:
        return self._queued

    # -- the worker ----------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="simlab-inference", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the batch in progress; queued jobs fail with Dropped("stopped")."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._cond:
            for job in self._jobs:
                _fail(job, Dropped("stopped"))
            self._jobs.clear()
            self._queued = 0

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stop and not self._jobs:
                    self._cond.wait()
                if self._stop:
                    return
                self._prune()
                batch = self._take()
            if batch:
                self._run(batch)

    def _prune(self) -> None:
        """Drop cancelled and expired jobs (their not yet computed inputs leave the queue)."""
        now = time.monotonic()
        keep = deque()
        for job in self._jobs:
            if job.cancelled or now > job.deadline:
                self._queued -= len(job.remaining)
                job.remaining.clear()
                reason = "deadline" if now > job.deadline else "disconnected"
                _fail(job, Dropped(reason))
                self.dropped += 1
                if self.metrics is not None:
                    self.metrics.dropped.labels(reason).inc()
            elif job.remaining:
                keep.append(job)
        self._jobs = keep
        self._gauge()

    def _take(self) -> list[tuple[Job, int]]:
        """The next batch: inputs of the oldest jobs with the oldest job's key, longest first, within budget."""
        if not self._jobs:
            return []
        key = self._jobs[0].key
        window, tokens = [], 0
        for job in self._jobs:
            if job.key != key:
                continue
            for i in job.remaining:
                window.append((len(job.ids[i]), job, i))
                tokens += len(job.ids[i])
            if tokens >= max(WINDOW_TOKENS, WINDOW_BUDGETS * self.max_batch_tokens):
                break
        window.sort(key=lambda t: -t[0])  # stable: FIFO among equal lengths
        longest = max(window[0][0], 1)
        n = max(1, min(len(window), self.max_batch_inputs, self.max_batch_tokens // longest))
        chosen = window[:n]
        for _, job, i in chosen:
            job.remaining.remove(i)
        self._queued -= len(chosen)
        self._jobs = deque(j for j in self._jobs if j.remaining)
        self._gauge()
        return [(job, i) for _, job, i in chosen]

    def _run(self, batch: list[tuple[Job, int]]) -> None:
        job0 = batch[0][0]
        ids = [job.ids[i] for job, i in batch]
        t0 = time.perf_counter()
        for job, _ in batch:
            if job.t_start is None:
                job.t_start = t0
        try:
            X = np.asarray(job0.forward(job0.key, ids), dtype=np.float32)
        except Exception as exc:  # a failing forward fails the requests in this batch, not the worker
            with self._cond:
                for job in {id(j): j for j, _ in batch}.values():
                    self._queued -= len(job.remaining)
                    job.remaining.clear()
                    _fail(job, exc)
                self._jobs = deque(j for j in self._jobs if j.remaining)
            return
        dt = time.perf_counter() - t0
        self.batches += 1
        rate = len(ids) / max(dt, 1e-6)
        self._rate = rate if self._rate is None else 0.8 * self._rate + 0.2 * rate
        if self.metrics is not None:
            self.metrics.observe_batch(dt, len(ids), len(ids) * max(len(r) for r in ids))
        for job in {id(j): j for j, _ in batch}.values():
            job.inference_s += dt
            job.batches += 1
        for (job, i), x in zip(batch, X):
            if job.out is None:
                job.out = np.empty((len(job.ids), X.shape[1]), np.float32)
            job.out[i] = x
            job.done += 1
            if job.done == len(job.ids):
                try:
                    job.future.set_result(job.out)
                except InvalidStateError:  # dropped while its last batch ran
                    pass

    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.set(self._queued)


def _fail(job: Job, exc: BaseException) -> None:
    try:
        job.future.set_exception(exc)
    except InvalidStateError:  # already answered (or already dropped)
        pass
