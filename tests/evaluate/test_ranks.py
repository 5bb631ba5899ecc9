"""``average_ranks`` (the grid's ranking) equals scipy.stats.rankdata, ties included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata

from simlab.evaluate.metrics import average_ranks


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(-1, 1, allow_nan=False, width=32) | st.sampled_from([0.0, 0.5, 1.0]), max_size=300))
def test_average_ranks_equal_scipy(xs):
    x = np.array(xs, dtype=np.float64)
    np.testing.assert_array_equal(average_ranks(x), rankdata(x) if len(x) else np.empty(0))


def test_integer_labels_and_all_ties():
    gold = np.array([3, 1, 3, 0, 1, 3])
    np.testing.assert_array_equal(average_ranks(gold), rankdata(gold))
    np.testing.assert_array_equal(average_ranks(np.ones(5)), np.full(5, 3.0))
