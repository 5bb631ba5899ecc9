"""Which engine × precision ``auto`` may pick on this CPU kind: the recorded Spearman change against torch fp32.

``simlab/resources/auto_fidelity.json`` holds, per CPU kind (:func:`simlab.machine.cpu_kind`), the largest
|Δ Spearman ×100| of every test-split cell of the main job (``simlab eval --tasks all --pooling all --whiten
none,full,256``: 12 tasks, full splits) for each engine × precision against the torch fp32 run, as
``benchmarks/bench_auto_fidelity.py --record`` writes it::

    {"kinds": {"x86-amx": {"configs": {"openvino:bf16": {"max_abs_change": 0.18, "cells": 186, ...}}}}}

A configuration is *faithful* on a kind when its record there says ``max_abs_change`` ≤ 0.1 over a non-empty set
of cells (the bound the CLI help promises). torch fp32 is the reference, so it is faithful everywhere. Anything
else that was not measured on this kind is not: the fp32 graph engines are not exact by construction (ONNX
Runtime and OpenVINO sum in other orders, so cosines that tie or nearly tie can swap), and their change depends on
the kernels a CPU kind gets. So a CPU kind never measured falls back to torch fp32 (issue 24).

>>> book = {"kinds": {"k": {"configs": {"openvino:bf16": {"max_abs_change": 0.18, "cells": 186}}}}}
>>> faithful("openvino", "bf16", "k", book)[0], faithful("torch", "fp32", "other", book)[0]
(False, True)
>>> faithful("openvino", "fp32", "other", book)[1]
'openvino fp32 was never measured on CPU kind other (benchmarks/bench_auto_fidelity.py --record)'
"""

from __future__ import annotations

import functools
import json
import math
from importlib import resources

THRESHOLD = 0.1  # Spearman ×100 points, on every full test-split cell
REFERENCE = ("torch", "fp32")
RESOURCE = "auto_fidelity.json"


@functools.lru_cache(maxsize=1)
def load_record() -> dict:
    """The bundled record (``{"kinds": {}}`` when the file does not exist: then nothing but fp32 torch is faithful)."""
    path = resources.files("simlab").joinpath("resources", RESOURCE)
    if not path.is_file():
        return {"kinds": {}}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data.get("kinds"), dict) else {"kinds": {}}


def recorded(engine: str, precision: str, kind: str, book: dict | None = None) -> dict | None:
    """The record of ``engine:precision`` on CPU ``kind`` (None when it was never measured there)."""
    book = load_record() if book is None else book
    entry = book.get("kinds", {}).get(kind) or {}
    return (entry.get("configs") or {}).get(f"{engine}:{precision}")


def faithful(engine: str, precision: str, kind: str | None = None, book: dict | None = None) -> tuple[bool, str]:
    """(may ``auto`` pick it here?, why): recorded max |Δ Spearman ×100| ≤ 0.1 over measured cells on ``kind``."""
    if (engine, precision) == REFERENCE:
        return True, "torch fp32 is the reference"
    if kind is None:
        from simlab.machine import cpu_kind

        kind = cpu_kind()
    rec = recorded(engine, precision, kind, book)
    if rec is None:
        return False, (f"{engine} {precision} was never measured on CPU kind {kind} "
                       "(benchmarks/bench_auto_fidelity.py --record)")
    change, cells = rec.get("max_abs_change"), int(rec.get("cells") or 0)
    if not cells or change is None or not math.isfinite(float(change)):
        return False, f"{engine} {precision} has no usable measurement on CPU kind {kind}"
    if float(change) > THRESHOLD:
        where = " / ".join(map(str, rec.get("worst_cell") or ()))
        return False, (f"{engine} {precision} moved a cell by {float(change):.3g} Spearman points on CPU kind {kind}"
                       f"{f' ({where})' if where else ''}, more than {THRESHOLD}")
    return True, f"{engine} {precision}: largest change {float(change):.3g} over {cells} cells on CPU kind {kind}"
