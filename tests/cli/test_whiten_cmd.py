"""``simlab whiten`` fits exactly the study's whitening and feeds ``simlab export``."""

from __future__ import annotations

import os

import numpy as np
import pytest

from simlab import testing as tb
from simlab.cli.main import main
from simlab.testing import make_tiny_bert
from simlab.whitening import Whitening


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-whiten"))


@pytest.mark.skipif(not os.environ.get("SIMLAB_DATA"), reason="needs SIMLAB_DATA (CI has it)")
def test_whiten_on_a_task_equals_fitting_its_sentences(tiny, tmp_path, monkeypatch):
    from simlab.data import fit_sentences
    from simlab.encode import Encoder

    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "w.safetensors"
    assert main(["whiten", "--model", str(tiny), "--pooling", "last-avg", "--task", "STS13", "--k", "16",
                 "--out", str(out)]) == 0
    w = Whitening.load(out)
    sents = list(fit_sentences("STS13", "all"))
    enc = Encoder(tiny)
    X = tb.float64_twin(enc).encode(sents, pooling="last-avg")  # float64 forward passes, rounded once
    ref = Whitening(n_components=16).fit(X)
    assert (w.n_features_in_, w.n_components_, w.n_samples_seen_) == (32, 16, 3000)
    # the command's float32 forward passes (first-order bound γ_n·|x|) vs float64 ones rounded to float32, then
    # float64 means of 3000 rows
    dx = tb.forward_error(enc.model.config, enc.max_length, X, tb.U32) + tb.U32 * np.abs(X).max(1)
    assert np.all(np.abs(w.mean_ - ref.mean_) <= dx.mean() + 2 * tb.gamma(len(X), tb.U64) * np.abs(X).mean(0))
    assert w.fit_on == "all splits of STS13" and w.source_model.startswith(str(tiny))


def test_whiten_corpus_then_export_loads_in_sentence_transformers(tiny, tmp_path, monkeypatch, capsys):
    st = pytest.importorskip("sentence_transformers")
    from simlab.encode import Encoder

    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "cache"))
    words = "the a cat dog sat ran on mat fast slow big small red blue".split()
    texts = [" ".join(np.random.default_rng(i).choice(words, 3 + i % 5)) for i in range(80)]
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(texts[:40]) + "\n\n" + "\n".join(texts[40:]) + "\n")
    wfile = tmp_path / "w.safetensors"
    main(["whiten", "--model", str(tiny), "--pooling", "cls", "--corpus", str(corpus), "--k", "16",
          "--out", str(wfile)])
    assert "1 empty lines left out" in capsys.readouterr().err
    main(["export", "--model", str(tiny), "--pooling", "cls", "--whiten", str(wfile), "--out", str(tmp_path / "st")])
    assert st.SentenceTransformer(str(tmp_path / "st"), device="cpu").encode(texts[:10]).shape == (10, 16)
    tb.assert_st_export_matches(tmp_path / "st", Encoder(tiny), "cls", Whitening.load(wfile), None, texts[:10])
