"""simlab records as mteb result files: mteb's names, split names and main score (pooled Spearman), read back by
mteb's own TaskResult loader."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("mteb")

from simlab.evaluate.mteb_results import model_label, write_mteb_results  # noqa: E402


def record(task, split_scores, setting="none", k=None):
    return {"task_name": task, "model": {"name": "org/m", "identity": "org/m@abc123", "dim": 32}, "pooling": "cls",
            "whitening": {"setting": setting, "k": k}, "max_length": 64, "prefix": "", "evaluation_time": 1.5,
            "scores": {sp: [{"hf_subset": "default", "languages": ["eng-Latn"], **s}] for sp, s in split_scores.items()}}


def test_names_splits_and_main_score(tmp_path):
    from mteb.results import TaskResult

    recs = [record("STS12", {"test": {"spearman": 0.60, "wmean": 0.60, "all": 0.55, "n_pairs": 9}}, "16@b0g0", 16),
            record("STSBenchmark", {"dev": {"spearman": 0.7, "n_pairs": 5}, "test": {"spearman": 0.8, "n_pairs": 5}}),
            record("STS22-zh", {"test": {"spearman": 0.3, "n_pairs": 5}})]
    paths = write_mteb_results(recs, tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "simlab__org_m-cls-whiten16@b0g0/abc123/STS12.json", "simlab__org_m-cls/abc123/STSBenchmark.json",
        "simlab__org_m-cls/abc123/STS22.json"]
    sts12 = TaskResult.from_disk(paths[0])
    # mteb's cosine_spearman pools every pair of the split; the study's size-weighted mean is kept beside it
    assert sts12.scores["test"][0]["main_score"] == 0.55 == sts12.get_score()
    assert sts12.scores["test"][0]["simlab_wmean"] == 0.60
    stsb = TaskResult.from_disk(paths[1])
    assert sorted(stsb.scores) == ["test", "validation"] and stsb.scores["validation"][0]["cosine_spearman"] == 0.7
    assert TaskResult.from_disk(paths[2]).scores["test"][0]["hf_subset"] == "zh"  # mteb STS22's Chinese subset
    meta = json.loads((tmp_path / "simlab__org_m-cls" / "abc123" / "model_meta.json").read_text())
    assert (meta["name"], meta["revision"], meta["embed_dim"], meta["max_tokens"]) == ("simlab/org_m-cls", "abc123",
                                                                                      32, 64)


def test_label_matches_mteb_encoder_naming():
    assert model_label({"name": "e5-small"}, "last-avg", None, "none") == "simlab/e5-small-last-avg"
    assert model_label({"name": "a/b"}, "cls", 256, "256") == "simlab/a_b-cls-whiten256"
