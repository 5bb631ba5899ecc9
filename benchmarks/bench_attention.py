"""Forward time and peak tensor memory: linear attention (elu+1, FAVOR+) vs torch SDPA, causal and not.

    .venv/bin/python benchmarks/bench_attention.py --threads 1

Shapes: (B, H, n, d) = (1, 4, n, 64) fp32 on CPU, n = 256 .. 16384, inference mode. Time: median of
``--repeats`` calls after one warm-up call (a single call when the warm-up takes longer than 2 s).

Memory, two honest but different measures:

* ``tensor MiB``: peak bytes held by tensors *created during the call* (inputs excluded), tracked at the
  ATen dispatcher with a TorchDispatchMode (each op output's storage counted until its last tensor dies).
  It sees every tensor our Python implementation allocates, but SDPA is one opaque op: only its output is
  seen, not what its kernel allocates inside.
* ``RSS MiB``: growth of the peak resident set during one call (Linux VmHWM, reset through
  /proc/self/clear_refs just before), measured in a separate child process started with
  MALLOC_MMAP_THRESHOLD_=131072 so that large blocks are mmapped and returned to the OS on free instead
  of being recycled invisibly. It includes kernel-internal scratch (SDPA's flash-attention buffers), at
  page granularity. Timing runs in the parent with the normal allocator (fresh mmaps cost page faults).
Targets (issue 5): linear attention ≥ 8x faster than SDPA at n = 8192; memory linear in n.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import time
import weakref
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from simlab.nn.feature_maps import FavorPlus  # noqa: E402
from simlab.nn.linear_attention import linear_attention  # noqa: E402


class PeakTensorMemory(TorchDispatchMode):
    """Peak bytes of storages allocated by ATen ops inside the ``with`` block (views counted once)."""

    def __init__(self):
        super().__init__()
        self.live: dict[int, list[int]] = {}  # storage ptr -> [nbytes, tensors alive]
        self.current = self.peak = 0

    def _release(self, ptr: int) -> None:
        entry = self.live.get(ptr)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.live[ptr]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func.decompose(*args, **kwargs)  # composite ops (sdpa, matmul): look inside
        if out is NotImplemented:
            out = func(*args, **kwargs)
        inputs = {t.untyped_storage().data_ptr() for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        for t in tree_leaves(out):
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            ptr = storage.data_ptr()
            if ptr in self.live:
                self.live[ptr][1] += 1
            elif ptr in inputs or storage.nbytes() == 0:
                continue  # a view of an input created outside the block, or empty
            else:
                self.live[ptr] = [storage.nbytes(), 1]
                self.current += storage.nbytes()
                self.peak = max(self.peak, self.current)
            weakref.finalize(t, self._release, ptr)
        return out


def run_sdpa(q, k, v, causal):
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def make_linear(feature_map, chunk_size):
    def run(q, k, v, causal):
        return linear_attention(q, k, v, feature_map, causal=causal, chunk_size=chunk_size)

    return run


def time_call(fn, repeats: int) -> float:
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    if first > 2.0:
        return first
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_bytes(fn) -> int:
    with PeakTensorMemory() as mem:
        out = fn()
    del out
    return mem.peak


def _vm(field: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"{field}:\s+(\d+) kB", f.read()).group(1)) * 1024


def rss_peak_bytes(fn) -> int | None:
    """Peak RSS growth during fn() (Linux only; None when /proc/self/clear_refs is not writable)."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        before = _vm("VmRSS")
    except OSError:
        return None
    out = fn()
    peak = _vm("VmHWM")
    del out
    return peak - before


def rss_in_child(argv: list[str]) -> dict[tuple[bool, int, str], int | None]:
    """Run the RSS measurements in a child process with a fixed mmap threshold; {(causal, n, method): bytes}."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    cmd = [sys.executable, str(Path(__file__).resolve()), *argv, "--rss-child"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {(r["causal"], r["n"], r["method"]): r["rss"] for r in rows}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ns", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096, 8192, 16384])
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--favor-features", type=int, default=256, help="FAVOR+ feature count m (Performer: m = 4d)")
    ap.add_argument("--no-rss", action="store_true", help="skip the RSS child process")
    ap.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    favor = FavorPlus(args.d, args.favor_features, generator=torch.Generator().manual_seed(0))
    methods = {
        "sdpa": run_sdpa,
        "elu": make_linear("elu", args.chunk),
        f"favor{args.favor_features}": make_linear(favor, args.chunk),
    }
    if args.rss_child:
        g = torch.Generator().manual_seed(0)
        for causal in (False, True):
            for n in args.ns:
                q, k, v = torch.randn(3, args.batch, args.heads, n, args.d, generator=g).unbind(0)
                for name, fn in methods.items():
                    with torch.inference_mode():
                        fn(q[..., :64, :], k[..., :64, :], v[..., :64, :], causal)  # lazy initialisation
                        rss = rss_peak_bytes(functools.partial(fn, q, k, v, causal))
                    print(json.dumps({"causal": causal, "n": n, "method": name, "rss": rss}), flush=True)
        return 0
    rss_table = {} if args.no_rss else rss_in_child(argv)
    print(f"# torch {torch.__version__}, threads={torch.get_num_threads()}, B={args.batch}, H={args.heads}, "
          f"d={args.d}, fp32, chunk={args.chunk}")
    print("| causal | n | method | time ms | × vs sdpa | tensor MiB | RSS MiB | tensor MiB / same at n/2 |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    rows = []
    g = torch.Generator().manual_seed(0)
    for causal in (False, True):
        prev_mem: dict[str, float] = {}
        for n in args.ns:
            q, k, v = torch.randn(3, args.batch, args.heads, n, args.d, generator=g).unbind(0)
            base_ms = None
            for name, fn in methods.items():
                call = functools.partial(fn, q, k, v, causal)
                with torch.inference_mode():
                    ms = 1e3 * time_call(call, args.repeats)
                    mib = peak_bytes(call) / 2**20
                rss = rss_table.get((causal, n, name))
                base_ms = ms if name == "sdpa" else base_ms
                speed = base_ms / ms
                growth = f"{mib / prev_mem[name]:.2f}" if name in prev_mem and prev_mem[name] > 0 else ""
                prev_mem[name] = mib
                rows.append((causal, n, name, ms, speed, mib))
                rss_s = "n/a" if rss is None else f"{rss / 2**20:.1f}"
                print(f"| {causal} | {n} | {name} | {ms:.1f} | {speed:.2f} | {mib:.1f} | {rss_s} | {growth} |", flush=True)
    print("\ncrossover (smallest n from which the method stays faster than SDPA):")
    for causal in (False, True):
        for name in list(methods)[1:]:
            speeds = [(n, s) for c, n, m, _, s, _ in rows if c == causal and m == name]
            cross = next((n for i, (n, _) in enumerate(speeds) if all(s > 1 for _, s in speeds[i:])), None)
            print(f"  causal={causal!s:5s} {name:10s}: {cross if cross else 'not within the grid'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
