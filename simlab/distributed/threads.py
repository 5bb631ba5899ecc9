"""Pin the math libraries of a process to a fixed number of threads.

Why the encode parity needs it: how a float32 reduction is split over threads decides the order of the additions
(torch's parallel sum for the masked means, the GEMM kernels' blocking, LayerNorm's reductions). Float addition is
not associative, so two processes that run the same batches on different thread counts may differ in the last
bits. With the same shard → the same batches, and the same thread count in every worker, every process runs the
same kernels in the same order and the vectors agree bit for bit (on the same machine and library builds).

>>> pin_threads(1)
1
"""

from __future__ import annotations

import os
import sys

_PINNED: dict[str, int] = {}


def pin_threads(n: int | None) -> int | None:
    """Limit torch (intra-op) and every BLAS / OpenMP pool loaded now to ``n`` threads; None leaves them alone.

    Idempotent and cheap on repeat calls in the same process (Ray reuses worker processes for many tasks).
    """
    if n is None:
        return None
    n = int(n)
    if n < 1:
        from simlab.errors import BadInputError

        raise BadInputError(f"threads must be ≥ 1, got {n}")
    # for runtimes that start after this point: a torch first imported later takes its intra-op count from
    # OMP_NUM_THREADS but leaves MKL's own pool at MKL_NUM_THREADS, so an inherited MKL_NUM_THREADS=2 would
    # split the GEMMs of a "1-thread" worker over 2 threads and change the last bits of its vectors
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    if "torch" in sys.modules and _PINNED.get("torch") != n:
        import torch

        torch.set_num_threads(n)
        _PINNED["torch"] = n
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a declared dependency
        return n
    threadpool_limits(limits=n)  # numpy's OpenBLAS / MKL, faiss's OpenMP
    return n
