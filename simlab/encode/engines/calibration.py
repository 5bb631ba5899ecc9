"""Calibration sentences for int8 quantisation: local, NON-test sentences of the STS tasks.

Static int8 needs activation ranges. They are measured on sentences the evaluation never scores: the valid
splits of the Chinese tasks and STS-B's train split, STSBenchmark train/dev and SICK-R train/trial — never a
test split, so no reported score has seen its own sentences during calibration. The sample is deterministic
(every n-th unique sentence), so its digest is stable and part of the exported model's cache key.

>>> texts = calibration_sentences("en", n=64)                         # doctest: +SKIP
>>> len(texts), calibration_digest(texts)[:8]                         # doctest: +SKIP
(64, '...')
"""

from __future__ import annotations

import hashlib

ZH_SOURCES = (("ATEC", "valid"), ("BQ", "valid"), ("LCQMC", "valid"), ("PAWSX", "valid"), ("STS-B", "train"))
EN_SOURCES = (("STSBenchmark", "train"), ("STSBenchmark", "dev"), ("SICK-R", "train"), ("SICK-R", "trial"))


def calibration_sentences(language: str | None = None, n: int = 512, data_dir=None) -> list[str]:
    """``n`` unique non-test sentences (English for ``"en"``, Chinese for ``"zh"``, both otherwise), spread
    evenly over the sources. Raises :class:`simlab.errors.DataError` when no task data is available."""
    from simlab.data import load_split
    from simlab.errors import DataError, MissingFileError

    sources = {"en": EN_SOURCES, "zh": ZH_SOURCES}.get(language or "", ZH_SOURCES + EN_SOURCES)
    pools = []
    for task, split in sources:
        try:
            pools.append(list(dict.fromkeys(load_split(task, split, data_dir).sentences())))
        except (MissingFileError, FileNotFoundError, DataError):
            continue
    if not pools:
        raise DataError("int8 calibration needs local non-test sentences (set SIMLAB_DATA, or pass calibration=[...] "
                        "to the Encoder)")
    per = max(1, n // len(pools))
    out: list[str] = []
    for pool in pools:
        step = max(1, len(pool) // per)
        out += pool[::step][:per]
    return list(dict.fromkeys(out))[:n]


def calibration_digest(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8") + b"\x00")
    return h.hexdigest()[:16]
