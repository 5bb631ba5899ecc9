"""Suite-wide settings: never reach for a model hub during tests (none is reachable here)."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The CLI's --engine/--precision default is auto (the fastest installed engine); the suite pins the exact torch/fp32
# path so tiny-model tests compare bit-for-bit and no test converts models unasked. Engine tests pass them explicitly.
os.environ.setdefault("SIMLAB_ENGINE", "torch")
os.environ.setdefault("SIMLAB_PRECISION", "fp32")


@pytest.fixture
def one_torch_thread():
    """Tiny tensors: a second OpenMP thread only spins on shared cores (0.9 s vs 0.03 s per ViT step)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
