"""MicroBatcher properties (hypothesis): every input answered exactly once and in its request's order, the padded
token budget respected (a single input longer than the budget goes alone), same-key batching, deadlines and
cancelled jobs dropped before they are computed, a full queue refused with a Retry-After."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.serve.batching import Dropped, MicroBatcher, QueueFull


class Recorder:
    """A forward that returns each row's identity (its first id) and records every batch."""

    def __init__(self, gate: threading.Event | None = None):
        self.batches, self.gate = [], gate
        self.lock = threading.Lock()

    def __call__(self, key, rows):
        if self.gate is not None:
            self.gate.wait(10)
        with self.lock:
            self.batches.append((key, [list(r) for r in rows]))
        return np.array([[r[0], len(r)] for r in rows], dtype=np.float32)


requests = st.lists(st.lists(st.integers(1, 40), min_size=1, max_size=30), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(lengths=requests, budget=st.integers(8, 200), max_inputs=st.integers(1, 64))
def test_every_input_once_in_order_within_budget(lengths, budget, max_inputs):
    fwd = Recorder(gate=threading.Event())  # held until all requests are queued, so batches merge requests
    b = MicroBatcher(max_batch_tokens=budget, max_batch_inputs=max_inputs, max_queue_inputs=10**6)
    b.start()
    try:
        jobs, uid = [], 0
        for lens in lengths:
            rows = []
            for n in lens:
                rows.append([uid] + [0] * (n - 1))  # the first id names the input
                uid += 1
            jobs.append((rows, b.submit(rows, forward=fwd)))
        fwd.gate.set()
        for rows, job in jobs:
            out = job.future.result(timeout=30)
            assert out[:, 0].tolist() == [r[0] for r in rows]  # each input's own result, in request order
            assert out[:, 1].tolist() == [len(r) for r in rows]
    finally:
        b.stop()
    seen = [r[0] for _, rows in fwd.batches for r in rows]
    assert sorted(seen) == list(range(uid))  # every input computed exactly once
    for _, rows in fwd.batches:
        longest = max(len(r) for r in rows)
        assert len(rows) <= max_inputs
        assert len(rows) == 1 or longest * len(rows) <= budget


def test_batches_merge_requests_and_keep_keys_apart():
    fwd = Recorder(gate=threading.Event())
    b = MicroBatcher(max_batch_tokens=1000)
    b.start()
    try:
        jobs = [b.submit([[i, 0]], forward=fwd, key="a" if i % 2 else "b") for i in range(10)]
        fwd.gate.set()
        for j in jobs:
            j.future.result(timeout=10)
    finally:
        b.stop()
    assert len(fwd.batches) <= 3  # the first (alone, while the gate held), then one per key
    for key, rows in fwd.batches:
        assert {("a" if r[0] % 2 else "b") for r in rows} == {key}


def test_cancelled_and_expired_jobs_are_not_computed():
    gate = threading.Event()
    fwd = Recorder(gate)
    b = MicroBatcher(max_batch_tokens=2)  # one 2-token input per batch
    b.start()
    try:
        first = b.submit([[100, 0]], forward=fwd)
        time.sleep(0.1)  # the worker is now blocked inside the first forward
        gone = b.submit([[200, 0]], forward=fwd)
        late = b.submit([[300, 0]], forward=fwd, deadline=time.monotonic() + 0.05)
        kept = b.submit([[400, 0]], forward=fwd)
        gone.cancel()
        with pytest.raises(Dropped, match="disconnected"):
            gone.future.result(timeout=1)  # answered at once, not after the worker frees up
        time.sleep(0.1)
        gate.set()
        assert kept.future.result(timeout=10)[0, 0] == 400
        with pytest.raises(Dropped, match="deadline"):
            late.future.result(timeout=10)
        first.future.result(timeout=10)
    finally:
        b.stop()
    computed = {r[0] for _, rows in fwd.batches for r in rows}
    assert computed == {100, 400}
    assert b.dropped >= 1


def test_full_queue_is_refused_with_retry_after():
    gate = threading.Event()
    b = MicroBatcher(max_batch_tokens=4, max_queue_inputs=5)
    b.start()
    try:
        b.submit([[1, 1]], forward=Recorder(gate))
        time.sleep(0.1)
        b.submit([[2, 2]] * 5, forward=Recorder(gate))
        with pytest.raises(QueueFull) as info:
            b.submit([[3, 3]], forward=Recorder(gate))
        assert info.value.retry_after >= 1
    finally:
        gate.set()
        b.stop()


def test_a_failing_forward_fails_its_requests_not_the_worker():
    calls = []

    def forward(key, rows):
        calls.append(len(rows))
        if rows[0][0] == 13:
            raise RuntimeError("boom")
        return np.zeros((len(rows), 2), np.float32)

    b = MicroBatcher()
    b.start()
    try:
        bad = b.submit([[13]], forward=forward)
        with pytest.raises(RuntimeError, match="boom"):
            bad.future.result(timeout=10)
        assert b.submit([[1]], forward=forward).future.result(timeout=10).shape == (1, 2)
    finally:
        b.stop()
