"""Cache of exported models (ONNX files, OpenVINO IR), keyed by the weights hash: each is converted ONCE.

Layout: ``cache_dir("engines")/<key>/`` with the engine's files and ``export.json`` (written last). The key is
sha256 of (weights identity, heads-graph version, engine, precision, engine library version, calibration
digest), so new weights, a new graph, a new converter or other calibration sentences convert afresh. A conversion
writes into a temporary sibling folder that is renamed into place (atomic): a killed conversion leaves no
half-written model that a later run would load.

>>> folder = exported("e5@3f2a…", "openvino", "fp32", {"openvino": "2026.4"}, convert)     # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from simlab.paths import cache_dir

log = logging.getLogger(__name__)
META = "export.json"
CONVERSIONS: list[str] = []  # keys converted by this process (tests check that a second load converts nothing)


def export_key(weights_id: str, engine: str, precision: str, versions: dict, calibration: str = "") -> str:
    from simlab.encode.engines.heads import HEADS_VERSION

    parts = {"weights": weights_id, "heads": HEADS_VERSION, "engine": engine, "precision": precision,
             "versions": versions, "calibration": calibration}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def exported(weights_id: str, engine: str, precision: str, versions: dict, convert: Callable[[Path], None],
             calibration: str = "", root: str | os.PathLike | None = None) -> Path:
    """The folder of the exported model, running ``convert(tmp_folder)`` only when it is not cached yet."""
    key = export_key(weights_id, engine, precision, versions, calibration)
    base = Path(root) if root is not None else cache_dir("engines")
    folder = base / key
    if (folder / META).is_file():
        return folder
    if folder.exists():  # not written by this module (renames are atomic): never load it, convert afresh
        shutil.rmtree(folder, ignore_errors=True)
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=base))
    t0 = time.perf_counter()
    try:
        convert(tmp)
        meta = {"weights": weights_id, "engine": engine, "precision": precision, "versions": versions,
                "calibration": calibration, "seconds": round(time.perf_counter() - t0, 1)}
        (tmp / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        try:
            os.replace(tmp, folder)  # atomic; fails if another process finished first
        except OSError:
            if not (folder / META).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    CONVERSIONS.append(key)
    log.info("exported %s %s/%s in %.1fs -> %s", weights_id, engine, precision, time.perf_counter() - t0, folder)
    return folder
