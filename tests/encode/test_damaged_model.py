"""A damaged model folder (truncated ``model.safetensors``, ``config.json`` that is not JSON) is a ModelError naming
the file: in :func:`simlab.models.hf_loading.load_hf_model`, in :class:`simlab.encode.Encoder`, and as ONE line
``simlab: error: ...`` (exit 2, no traceback) in every command that loads an encoder (real CLI, subprocess)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from simlab.errors import ModelError
from simlab.testing import assert_bad_input, make_tiny_bert


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """{kind: folder} for a healthy tiny BERT and damaged copies of it."""
    root = tmp_path_factory.mktemp("damaged")
    good = make_tiny_bert(root / "good")
    size = (good / "model.safetensors").stat().st_size
    out = {"good": good}

    def copy(kind, name, cut):
        folder = root / kind
        shutil.copytree(good, folder)
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[:cut(len(data))])
        out[kind] = folder

    copy("half", "model.safetensors", lambda n: n // 2)  # an interrupted copy
    copy("last-byte", "model.safetensors", lambda n: n - 1)  # the smallest truncation
    copy("header", "model.safetensors", lambda n: 6)  # not even the 8-byte header length
    copy("config", "config.json", lambda n: n // 2)
    copy("tokenizer", "tokenizer.json", lambda n: n // 2)
    assert (out["half"] / "model.safetensors").stat().st_size == size // 2
    return out


@pytest.mark.parametrize("kind", ["half", "last-byte", "header"])
def test_truncated_weights_name_the_file(damaged, kind):
    from simlab.models.hf_loading import check_model_folder, load_hf_model

    weights = str(damaged[kind] / "model.safetensors")
    with pytest.raises(ModelError, match="truncated or corrupted safetensors") as exc:
        load_hf_model(str(damaged[kind]))
    assert weights in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(ModelError, match="truncated or corrupted"):
        check_model_folder(damaged[kind])
    check_model_folder(damaged["good"])  # a healthy folder passes


@pytest.mark.parametrize("kind, name", [("config", "config.json"), ("tokenizer", "tokenizer.json")])
def test_json_that_is_not_json_names_file_and_line(damaged, kind, name):
    from simlab.encode import Encoder

    with pytest.raises(ModelError, match=r"not valid JSON \(line \d+, column \d+") as exc:
        Encoder(str(damaged[kind]))
    assert str(damaged[kind] / name) in str(exc.value)


def test_encoder_on_truncated_weights(damaged):
    from simlab.encode import load_encoder

    with pytest.raises(ModelError, match="model.safetensors: truncated"):
        load_encoder(str(damaged["half"]))  # through the registry's pooler probe, before transformers
    load_encoder(str(damaged["good"]))


def test_grid_lazy_encoder_reads_config_without_traceback(damaged):
    from simlab.grid.cells import ModelSpec
    from simlab.grid.models import LazyEncoder

    enc = LazyEncoder(ModelSpec("m", str(damaged["config"]), ("STS-B",)))
    with pytest.raises(ModelError, match="config.json: not valid JSON"):
        _ = enc.dim


# --- the real CLI: one line, exit 2 --------------------------------------------------------------------------------
def test_cli_encode_truncated_weights(damaged, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat\na dog ran\n", encoding="utf-8")
    assert_bad_input(["encode", str(corpus), "--model", str(damaged["half"]), "--out", str(tmp_path / "v")],
                     str(damaged["half"] / "model.safetensors"), "truncated or corrupted",
                     env={"SIMLAB_CACHE": str(tmp_path / "cache")})


@pytest.mark.skipif(not os.environ.get("SIMLAB_DATA"), reason="needs SIMLAB_DATA (CI has it)")
@pytest.mark.parametrize("kind, needle", [("last-byte", "model.safetensors"), ("config", "config.json")])
def test_cli_eval_damaged_model(damaged, tmp_path, kind, needle):
    assert_bad_input(["eval", "--model", str(damaged[kind]), "--tasks", "STS-B", "--out", str(tmp_path / "o")],
                     str(damaged[kind] / needle), data_dir=Path(os.environ["SIMLAB_DATA"]),
                     env={"SIMLAB_CACHE": str(tmp_path / "cache")})


@pytest.mark.skipif(not os.environ.get("SIMLAB_DATA"), reason="needs SIMLAB_DATA (CI has it)")
def test_cli_grid_damaged_model(damaged, tmp_path):
    assert_bad_input(["grid", "--models", f"m={damaged['half']}:STS-B", "--out", str(tmp_path / "g")],
                     str(damaged["half"] / "model.safetensors"), data_dir=Path(os.environ["SIMLAB_DATA"]),
                     env={"SIMLAB_CACHE": str(tmp_path / "cache")})
