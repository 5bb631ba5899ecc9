"""Which engines and precisions exist here, and what ``auto`` means.

``auto`` is a fixed preference list, decided from benchmarks/bench_encode.py (README "Encoding speed"), filtered
by what is installed and what the CPU runs natively: bf16 only where the CPU has bf16 instructions (avx512_bf16 /
amx_bf16; elsewhere it is emulated and 4× slower than fp32), never int8 (see AUTO_ORDER). It is also filtered by
fidelity (:mod:`.fidelity`): ``auto`` only picks a configuration whose recorded Spearman change against torch fp32
is ≤ 0.1 on every full test-split cell of the main job ON THIS CPU KIND; a kind never measured gets torch fp32.
Nothing in a cache key or a record ever says "auto": it is resolved first.

>>> resolve("torch", "auto")[0]
'torch'
"""

from __future__ import annotations

import importlib.util

from simlab.errors import BadInputError
from simlab.machine import cpu_has_bf16

ENGINES = ("torch", "onnx", "openvino")
PRECISIONS = ("fp32", "bf16", "int8")
_MODULE = {"torch": "torch", "onnx": "onnxruntime", "openvino": "openvino"}
_EXTRA = {"onnx": "pip install 'simlab[onnx]'", "openvino": "pip install 'simlab[openvino]'"}

# Fastest first, from benchmarks/bench_encode.py (README "Encoding speed"): the fp32 entries give vectors equal to
# torch fp32 (cosine 1.00000), bf16 only where the CPU has it natively. int8 is NOT in the auto list: its measured
# fidelity (min cosine 0.97 OpenVINO/NNCF, 0.82 ONNX Runtime static) and speed (no gain over OpenVINO fp32 on AVX2)
# do not earn it, nor does their Spearman change on the 12 tasks (up to 0.99 / 3.23 / 7.07 points for OpenVINO / torch /
# ONNX Runtime int8; README "Encoding speed").
AUTO_ORDER = (("openvino", "bf16"), ("openvino", "fp32"), ("onnx", "fp32"), ("torch", "fp32"))


def engine_installed(engine: str) -> bool:
    return importlib.util.find_spec(_MODULE[engine]) is not None


def supported(engine: str, precision: str) -> str | None:
    """None if ``engine`` can run ``precision`` here, else the reason it cannot."""
    if engine not in ENGINES:
        return f"unknown engine {engine!r}; choose from {', '.join(ENGINES)} or auto"
    if precision not in PRECISIONS:
        return f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)} or auto"
    if not engine_installed(engine):
        return f"engine {engine!r} is not installed ({_EXTRA.get(engine, '')})"
    if engine == "onnx" and precision == "bf16":
        return "ONNX Runtime's CPU provider has no bf16 kernels; use --engine openvino or torch for bf16"
    if engine == "openvino" and precision == "bf16" and not cpu_has_bf16():
        return ("this CPU has no bf16 instructions (avx512_bf16 / amx_bf16), so OpenVINO would run fp32 under a "
                "bf16 label; use fp32")
    return None


def resolve(engine: str | None = "auto", precision: str | None = "auto") -> tuple[str, str]:
    """(engine, precision) with ``auto`` replaced by the fastest supported choice that is faithful on this CPU kind
    (:func:`simlab.encode.engines.fidelity.faithful`); BadInputError if impossible. What the caller fixes is kept:
    an explicit engine with ``auto`` precision falls back to that engine's fp32, an explicit bf16 / int8 to the
    fastest engine that runs it."""
    engine = (engine or "auto").lower()
    precision = (precision or "auto").lower()
    if engine != "auto" and precision != "auto":
        why = supported(engine, precision)
        if why:
            raise BadInputError(why)
        return engine, precision
    from simlab.encode.engines.fidelity import faithful

    for e, p in AUTO_ORDER:  # the fastest installed configuration that was measured faithful on this CPU kind
        if (engine in ("auto", e)) and (precision in ("auto", p)) and supported(e, p) is None and faithful(e, p)[0]:
            return e, p
    if engine != "auto":  # an explicit engine with auto precision: fp32 always works there
        why = supported(engine, "fp32")
        if why:
            raise BadInputError(why)
        return engine, "fp32"
    if precision in ("bf16", "int8"):  # a precision asked for explicitly: the fastest engine that runs it
        for e in [e for e, p in AUTO_ORDER if p == precision] + list(ENGINES):
            if supported(e, precision) is None:
                return e, precision
    why = supported("torch", precision)
    if why:
        raise BadInputError(why)
    return "torch", precision
