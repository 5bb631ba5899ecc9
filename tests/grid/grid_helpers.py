"""Shared by the grid tests: one tiny random BERT and one vector cache per test session (encode once)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def make_tiny_bert(folder):
    """tests/encode/conftest.py's ``make_tiny_bert``, loaded by path (``import conftest`` is ambiguous)."""
    path = Path(__file__).resolve().parents[1] / "encode" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_h_grid_encode_conftest", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_tiny_bert(folder)


def shared(tmp_path_factory) -> tuple[Path, Path]:
    """(tiny model folder, vector cache folder) under the session's base temp folder."""
    root = tmp_path_factory.getbasetemp() / "h_grid_shared"
    model = root / "tiny"
    if not (model / "model.safetensors").exists():
        make_tiny_bert(model)
    return model, root / "vectors"
