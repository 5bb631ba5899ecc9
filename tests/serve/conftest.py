"""Fixtures for tests/serve: the tiny BERT, a whitening fitted on it, and live ``simlab serve`` processes on
127.0.0.1 (a free port chosen by the server itself, ``--port 0``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

WORDS = "the a cat dog sat ran on mat fast slow big small red blue 猫 狗 坐 跑 在 上 大 小 红 蓝".split()
API_KEY = "sk-simlab-test"
INDEX_POOLING = "first-last-avg"
POOLING = "last-avg"


def sentences(n: int, seed: int = 0, lo: int = 2, hi: int = 12) -> list[str]:
    """Deterministic sentences over the tiny model's vocabulary, of varied lengths."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(lo, hi)))) for _ in range(n)]


class LiveServer:
    """``python -m simlab.cli.main serve ARGS --port 0`` in a subprocess; ``url`` once it listens."""

    def __init__(self, args, log_path, env=None):
        full = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "OMP_NUM_THREADS": "1", **(env or {})}
        full.pop("SIMLAB_DEBUG", None)
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "simlab.cli.main", "serve", "--port", "0", *map(str, args)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=full)
        self.url = None

    def text(self) -> str:
        with open(self.log_path) as f:
            return f.read()

    def wait_listening(self, timeout: float = 60) -> str:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            m = re.search(r"listening on (http://[\d.]+:\d+)", self.text())
            if m:
                self.url = m.group(1)
                return self.url
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.text()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"server did not listen within {timeout} s: {self.text()[-3000:]}")

    def wait_ready(self, timeout: float = 180) -> str:
        import httpx

        self.wait_listening()
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.text()[-3000:]}")
            try:
                if httpx.get(self.url + "/ready", timeout=5).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready within {timeout} s: {self.text()[-3000:]}")

    def stop(self, sig=signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    from simlab.testing import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("serve") / "tiny")


@pytest.fixture(scope="session")
def encoder(tiny):
    """The offline reference: simlab's own encoder on the same folder (max_length = the model's 64 positions)."""
    from simlab.encode import load_encoder

    return load_encoder(str(tiny), max_length=64)


@pytest.fixture(scope="session")
def whitening_file(tiny, encoder, tmp_path_factory):
    """A whitening as `simlab whiten` writes it (source_model = name@weights hash; fit_on names no pooling)."""
    from simlab.whitening import Whitening

    X = encoder.encode(sentences(400, seed=1), pooling=POOLING)
    path = tmp_path_factory.mktemp("white") / "white.safetensors"
    Whitening(n_components=24, fit_on="file:corpus.txt", source_model=encoder.identity).fit(X).save(path)
    return path


def start(args, tmp_path_factory, name="server", env=None) -> LiveServer:
    return LiveServer(args, tmp_path_factory.mktemp(name) / "log.txt", env=env)


@pytest.fixture(scope="session")
def server(tiny, whitening_file, tmp_path_factory):
    """The main live server: tiny model, last-avg, the whitening, an API key, small limits to test."""
    s = start(["--model", tiny, "--pooling", POOLING, "--whitening", whitening_file, "--api-key", API_KEY,
               "--threads", 1, "--max-inputs", 64, "--max-tokens-per-request", 3000, "--max-payload-bytes", 200_000,
               "--log-level", "error"], tmp_path_factory)
    try:
        s.wait_ready()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def client(server):
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=60)


@pytest.fixture(scope="session")
def index_dir(encoder, tmp_path_factory):
    from simlab.retrieval import Index

    folder = tmp_path_factory.mktemp("index") / "faq"
    Index.build(sentences(200, seed=11), encoder, pooling=INDEX_POOLING, whitening="fit", k=16).save(folder)
    return folder


@pytest.fixture(scope="session")
def search_server(tiny, index_dir, tmp_path_factory):
    s = start(["--model", tiny, "--pooling", "last-avg", "--index", f"faq={index_dir}", "--threads", 1],
              tmp_path_factory, "search")
    try:
        s.wait_ready()
        yield s
    finally:
        s.stop()
