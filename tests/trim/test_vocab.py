"""simlab.trim.vocab against brute force (Python sets and loops)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.errors import BadInputError
from simlab.trim.vocab import changed_share, count_ids, kept_ids, remap


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 19), max_size=8), max_size=10), st.sets(st.integers(0, 19), max_size=4),
       st.integers(1, 3))
def test_kept_ids_match_brute_force(lists, required, min_count):
    counts = count_ids(lists, 20)
    brute = {i: sum(ids.count(i) for ids in lists) for i in range(20)}
    assert counts.tolist() == [brute[i] for i in range(20)]
    keep = kept_ids(counts, required, min_count)
    assert keep.tolist() == sorted({i for i, c in brute.items() if c >= min_count} | required)
    table = remap(keep, 20)
    for new, old in enumerate(keep):
        assert table[old] == new
    assert sorted(np.flatnonzero(table < 0).tolist()) == sorted(set(range(20)) - set(keep.tolist()))


def test_changed_share_counts_dropped_and_renumbered():
    table = remap(np.array([0, 2, 3]), 4)  # 1 dropped; 2 -> 1, 3 -> 2
    old = [[0, 2], [1], [3, 3], [2]]
    new = [[0, 1], [0], [2, 2], [2]]  # the last one is wrong (2 must become 1)
    assert changed_share(old, new, table) == (2, 4)


def test_bad_values_are_refused():
    with pytest.raises(BadInputError):
        kept_ids(np.ones(3), min_count=0)
    with pytest.raises(BadInputError):
        kept_ids(np.ones(3), required=[3])
    with pytest.raises(BadInputError):
        count_ids([[5]], 3)
