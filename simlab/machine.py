"""Facts about the machine in hand, in one place: CPU model and flags, native bf16, core count, library versions.

Every record simlab writes (model cards, run folders, benchmark JSON) names the CPU with :func:`machine_info`, and
every ``auto`` that depends on the CPU asks :func:`cpu_has_bf16`.

>>> isinstance(cpu_has_bf16(), bool)
True
>>> sorted(machine_info())[:3]
['cores', 'cpu', 'cpu_kind']
"""

from __future__ import annotations

import functools
import os
import platform


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset[str]]:
    """(model name, flags) of the first CPU in /proc/cpuinfo; ("", {}) where that file does not exist."""
    name, flags = "", frozenset()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name") and not name:
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = frozenset(line.split(":", 1)[1].split())
                if name and flags:
                    break
    except OSError:
        pass
    return name or platform.processor() or platform.machine(), flags


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags (``avx2``, ``avx512f``, ``amx_bf16``, ...); empty where unknown."""
    return _cpuinfo()[1]


def cpu_model() -> str:
    """The CPU's model name, e.g. ``Intel(R) Xeon(R) Processor``."""
    return _cpuinfo()[0]


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX-BF16)."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def cpu_kind() -> str:
    """A short class of the CPU, the key under which simlab records measurements that depend on it:
    ``x86-amx`` (AMX + AVX-512 bf16), ``x86-avx512``, ``x86-avx2``, or the machine name elsewhere.

    >>> cpu_kind() in ("x86-amx", "x86-avx512", "x86-avx2") or bool(cpu_kind())
    True
    """
    flags = cpu_flags()
    if "amx_bf16" in flags:
        return "x86-amx"
    if "avx512f" in flags:
        return "x86-avx512"
    if "avx2" in flags:
        return "x86-avx2"
    return platform.machine() or "unknown"


def machine_info() -> dict:
    """What a record should say about the machine: CPU model and kind, cores, torch threads, versions."""
    info = {"cpu": cpu_model(), "cpu_kind": cpu_kind(), "cores": os.cpu_count(), "bf16_native": cpu_has_bf16(),
            "platform": platform.platform(), "python": platform.python_version()}
    try:
        import torch

        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                    device="cuda" if torch.cuda.is_available() else "cpu")
    except ImportError:  # a record written without torch (e.g. the server's whitening-only path)
        pass
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:
        pass
    return info


def describe(info: dict | None = None) -> str:
    """One line for a card: ``Intel(R) Xeon(R) Processor (x86-amx), 2 cores, 2 torch threads, cpu``."""
    info = info or machine_info()
    parts = [f"{info['cpu']} ({info['cpu_kind']})", f"{info['cores']} cores"]
    if "torch_threads" in info:
        parts += [f"{info['torch_threads']} torch threads", info["device"]]
    return ", ".join(parts)


def set_threads(n: int | None) -> None:
    """The one place that applies ``--threads``: torch's intra-op pool and the BLAS pools (threadpoolctl)."""
    if not n:
        return
    import torch

    torch.set_num_threads(int(n))
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(int(n))
    except ImportError:
        pass
