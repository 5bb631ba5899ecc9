"""A whitening records the model and pooling it was fitted on; applying it elsewhere is refused (issue 21)."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.errors import WhiteningError
from simlab.whitening import Whitening
from simlab.whitening.source import check_source, weights_of


@pytest.fixture
def fitted():
    return Whitening(source_model="m@aaaa1111", pooling="cls").fit(np.random.default_rng(0).normal(size=(50, 6)))


def test_save_load_keeps_the_source(fitted, tmp_path):
    fitted.save(tmp_path / "w.safetensors")
    w = Whitening.load(tmp_path / "w.safetensors")
    assert (w.source_model, w.pooling) == ("m@aaaa1111", "cls")
    assert (w.with_params(0.5, 0.5).pooling, w.with_params(0.5, 0.5).source_model) == ("cls", "m@aaaa1111")
    assert np.array_equal(w.kernel_, fitted.kernel_)


def test_matching_source_passes(fitted):
    assert check_source(fitted, "w", pooling="cls", identity="other-name@aaaa1111") is None  # same weights
    assert check_source(fitted, "w", pooling="cls") is None  # identity not known yet: checked later


@pytest.mark.parametrize("pooling, identity, needles", [
    ("last-avg", "m@aaaa1111", ["fitted on cls vectors", "not on last-avg vectors"]),
    ("cls", "m2@bbbb2222", ["fitted on the vectors of m@aaaa1111", "m2@bbbb2222: other weights"]),
])
def test_other_model_or_pooling_is_refused(fitted, pooling, identity, needles):
    with pytest.raises(WhiteningError) as exc:
        check_source(fitted, "w.safetensors", pooling=pooling, identity=identity)
    assert str(exc.value).startswith("w.safetensors: ")
    for needle in needles:
        assert needle in str(exc.value)


def test_unrecorded_source_is_a_warning_not_a_refusal():
    old = Whitening().fit(np.random.default_rng(0).normal(size=(50, 6)))  # a file written before issue 21
    note = check_source(old, "old.safetensors", pooling="cls", identity="m@aaaa1111")
    assert note.startswith("old.safetensors does not record the model or pooling")
    named = Whitening(source_model="m").fit(np.random.default_rng(0).normal(size=(50, 6)))  # a name, no hash
    assert "the model or pooling" in check_source(named, "p", pooling="cls", identity="m@aaaa1111")
    assert weights_of("a@b@c1") == "c1" and weights_of("") is None


def test_damaged_whitening_files_name_the_file(fitted, tmp_path):
    p = tmp_path / "w.safetensors"
    fitted.save(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(WhiteningError, match=r"w.safetensors: damaged whitening file"):
        Whitening.load(p)
    from safetensors.numpy import save_file

    save_file({"mean": np.zeros(3)}, str(p), metadata={"format": "simlab-whitening"})
    with pytest.raises(WhiteningError, match="not a simlab whitening file .*no kernel, eigenvalues"):
        Whitening.load(p)
    save_file({"mean": np.zeros(3), "kernel": np.eye(3), "eigenvalues": np.ones(3)}, str(p),
              metadata={"format": "simlab-whitening"})
    with pytest.raises(WhiteningError, match="damaged whitening file .metadata 'k'"):
        Whitening.load(p)


def test_index_fit_records_its_pooling(tmp_path):
    from simlab.retrieval import Corpus, Index

    X = np.random.default_rng(0).normal(size=(80, 6))
    index = Index.build(Corpus.from_texts([f"d{i}" for i in range(80)]), vectors=X, pooling="cls", whitening="fit")
    index.save(tmp_path / "idx")
    w = Whitening.load(tmp_path / "idx" / "whitening.safetensors")
    assert (w.pooling, w.source_model) == ("cls", "precomputed")
    with pytest.raises(WhiteningError, match="fitted on cls vectors"):
        check_source(w, "idx/whitening.safetensors", pooling="last-avg")
