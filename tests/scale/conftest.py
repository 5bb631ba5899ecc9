"""Fixtures for the corpus-scale pipelines: a tiny model, small corpora, a local Ray cluster (2 CPUs)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from simlab.testing import make_tiny_bert

WORDS = "the a cat dog sat ran on mat fast slow big small red blue 猫 狗 坐 跑 在 上 大 小 红 蓝".split()


def sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` short sentences over the tiny model's vocabulary (duplicates possible, as in real corpora)."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, 2 + i % 7)) for i in range(n)]


def write_txt(path, n: int, empty_every: int = 0, seed: int = 0):
    """A txt corpus of ``n`` lines; every ``empty_every``-th line (1-based) is blank."""
    lines = sentences(n, seed)
    if empty_every:
        lines = ["" if (i + 1) % empty_every == 0 else s for i, s in enumerate(lines)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path, ids, texts):
    path.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in zip(ids, texts)),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-scale"))


@pytest.fixture(scope="session")
def scale_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("scale-cache")


@pytest.fixture
def encoder(tiny_model, scale_cache, monkeypatch):
    from simlab.encode import Encoder

    monkeypatch.setenv("SIMLAB_CACHE", str(scale_cache))
    return Encoder(tiny_model, max_length=32, name="tiny")


@pytest.fixture(scope="session")
def ray_cluster(scale_cache):
    """One local Ray cluster (2 CPUs) for the whole session; yields its address for `--ray ADDRESS` drivers.

    Ray's raylet gives its dashboard agent ~20 s to start; on a machine with many busy processes per core that
    can fail even after retries. That is skipped with the reason outside CI and an error in CI (CI=1).
    """
    ray = pytest.importorskip("ray")
    from simlab.distributed.ray import start_local_cluster
    from simlab.errors import SimlabError

    env = {"SIMLAB_CACHE": str(scale_cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    try:
        start_local_cluster(num_cpus=2, attempts=3, runtime_env={"env_vars": env})
    except SimlabError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no local Ray cluster on this machine now: {exc}")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
