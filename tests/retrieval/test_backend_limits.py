"""The faiss knobs are checked before faiss sees them (issue 21: ``--hnsw-m 0`` aborted the process). The limits
are faiss's own: each lower bound builds and searches, and the upper bound of nbits is where faiss refuses."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.errors import BadInputError
from simlab.retrieval.backends import LIMITS, check_params, make_index, search_index

faiss = pytest.importorskip("faiss")


def unit(n=400, d=16, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind, key", [("hnsw", "M"), ("hnsw", "ef_search"), ("ivf", "nlist"), ("ivf", "nprobe"),
                                       ("ivfpq", "m"), ("ivfpq", "nbits")])
def test_lowest_accepted_value_works_in_faiss_and_below_is_refused(kind, key):
    lo = LIMITS[key][0]
    x = unit()
    _, rows = search_index(make_index(kind, x, **{key: lo}), x[:3], 5)
    assert rows.shape == (3, 5) and np.all(rows[:, 0] >= 0)
    for bad in (lo - 1, -3):
        with pytest.raises(BadInputError, match=f"{key} .*got {bad}"):
            check_params(kind, **{key: bad})
        with pytest.raises(BadInputError):  # make_index checks before any faiss call
            make_index(kind, x, **{key: bad})


def test_nbits_limit_is_faiss_own():
    hi = LIMITS["nbits"][1]
    faiss.IndexIVFPQ(faiss.IndexFlatIP(16), 16, 4, 4, hi, faiss.METRIC_INNER_PRODUCT)  # accepted by faiss
    with pytest.raises(RuntimeError, match="nbits"):
        faiss.IndexIVFPQ(faiss.IndexFlatIP(16), 16, 4, 4, hi + 1, faiss.METRIC_INNER_PRODUCT)
    with pytest.raises(BadInputError, match=r"\[1, 24\], got 25"):
        check_params("ivfpq", nbits=hi + 1)


def test_other_mistakes():
    with pytest.raises(BadInputError, match="must divide the vector dimension 16"):
        check_params("ivfpq", 16, m=5)
    with pytest.raises(BadInputError, match="no parameter 'M'"):
        check_params("ivf", M=8)
    with pytest.raises(BadInputError, match="got 2.5"):
        check_params("hnsw", M=2.5)
    assert check_params("ivfpq", 16, m=4, nbits=None) == {"m": 4}
