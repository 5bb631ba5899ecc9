"""``--engine`` / ``--precision`` for every command that encodes (eval, grid, whiten, index build, search).

The default is ``auto`` (:func:`simlab.encode.engines.resolve`: the fastest engine and precision installed here
whose recorded Spearman change against torch fp32 is ≤ 0.1 on every full test cell of the main job on this CPU
kind, simlab/resources/auto_fidelity.json; torch fp32 on a kind never measured), or ``$SIMLAB_ENGINE`` /
``$SIMLAB_PRECISION`` when set. The study's exact numbers are one flag away: ``--engine torch --precision fp32``.
"""

from __future__ import annotations

import os

ENGINE_CHOICES = ("auto", "torch", "onnx", "openvino")
PRECISION_CHOICES = ("auto", "fp32", "bf16", "int8")


def add_engine_args(p, default: str | None = None) -> None:
    """Add ``--engine`` and ``--precision``; ``default`` None = ``$SIMLAB_ENGINE``/``$SIMLAB_PRECISION`` or auto."""
    p.add_argument("--engine", choices=ENGINE_CHOICES,
                   default=default if default is not None else os.environ.get("SIMLAB_ENGINE", "auto"),
                   help="inference engine: torch (exact study path), onnx, openvino, or auto (the fastest installed "
                        "one recorded within 0.1 Spearman of torch fp32 on every full test cell on this CPU kind; "
                        "torch fp32 on a kind never measured; $SIMLAB_ENGINE sets the default)")
    p.add_argument("--precision", choices=PRECISION_CHOICES,
                   default=default if default is not None else os.environ.get("SIMLAB_PRECISION", "auto"),
                   help="fp32 | bf16 | int8 | auto ($SIMLAB_PRECISION sets the default); --engine torch "
                        "--precision fp32 reproduces the study tables exactly")


def resolved(args) -> tuple[str, str]:
    """(engine, precision) of the parsed ``args`` with ``auto`` resolved (BadInputError if impossible)."""
    from simlab.encode.engines import resolve

    return resolve(getattr(args, "engine", "torch"), getattr(args, "precision", "fp32"))
