"""prepare_task builds the "all" / "test" fit sentences from the splits it already read: the same list, order and
sources as simlab.data.fit_sentences (which parses the files again)."""

from __future__ import annotations

import os

import pytest

from simlab.data import fit_sentences, get_task, load_task, resolve_tasks
from simlab.evaluate.task_vectors import _fit_from_splits

pytestmark = pytest.mark.skipif(not os.environ.get("SIMLAB_DATA"), reason="needs SIMLAB_DATA (CI has it)")


@pytest.mark.parametrize("task", resolve_tasks("all"))
def test_same_as_fit_sentences(task):
    spec, splits = get_task(task), load_task(task)
    for policy in ("all", "test", " ALL"):
        ours, ref = _fit_from_splits(spec, policy, splits), fit_sentences(task, policy)
        assert list(ours) == list(ref) and ours.policy == ref.policy and ours.sources == ref.sources
    assert _fit_from_splits(spec, "train", splits) is None  # other policies go through fit_sentences
