"""Grid plan: model/task parsing, k grid, settings per model, stable cell keys."""

from __future__ import annotations

import pytest

from simlab.data import resolve_tasks
from simlab.errors import WhiteningError
from simlab.grid.cells import Cell, GridConfig, k_grid, parse_models, parse_poolings, plan_model


def test_parse_models_per_model_tasks_and_alias():
    specs = parse_models("e5-small:all,minilm:en,bert-base-chinese=/tmp/x:STS-B+STS13", default_tasks="zh")
    assert [(s.name, s.source) for s in specs] == [("e5-small", "e5-small"), ("minilm", "minilm"),
                                                   ("bert-base-chinese", "/tmp/x")]
    assert list(specs[0].tasks) == resolve_tasks("all")
    assert list(specs[1].tasks) == resolve_tasks("en")
    assert specs[2].tasks == ("STS-B", "STS13")
    assert parse_models("minilm", default_tasks="zh")[0].tasks == tuple(resolve_tasks("zh"))


@pytest.mark.parametrize("bad, match", [("minilm,minilm", "twice"), ("minilm,,e5-small", "empty model"),
                                        ("minilm:", "empty task list"), ("minilm:STS99", "unknown task"),
                                        ("=x", "ALIAS=SOURCE"), ("a|b=minilm", "may not contain")])
def test_parse_models_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        parse_models(bad)


def test_k_grid_covers_8_to_d_and_d_over_3():
    assert k_grid(32) == [8, 16, 24, 32]
    g = k_grid(384)
    assert g[0] == 8 and g[-1] == 384 and 128 in g and 256 in g and g == sorted(set(g))
    assert k_grid(768)[-1] == 768 and 256 in k_grid(768)
    assert k_grid(312)[-1] == 312 and all(k <= 312 for k in k_grid(312))
    assert k_grid(5) == [5]


def test_settings_deduplicate_whiten_and_sweep():
    cfg = GridConfig(parse_models("minilm:STS13"), whiten="none,full,256", k_sweep=True)
    labels = [s.label for s in cfg.settings_for(384)]
    assert labels[:3] == ["none", "full", "256"] and labels.count("256") == 1
    assert set(labels[3:]) == {str(k) for k in k_grid(384)} - {"256"}
    assert [s.label for s in GridConfig([], whiten="none,64").settings_for(384)] == ["none", "64"]
    explicit = GridConfig([], whiten="none", k_sweep=True, k_grid=(8, 100, 384))
    assert [s.k for s in explicit.settings_for(384)] == [None, 8, 100, 384]
    with pytest.raises(WhiteningError, match="k = 500 exceeds the vector dimension d = 384 of minilm"):
        GridConfig([], whiten="none", k_sweep=True, k_grid=(8, 100, 500)).settings_for(384, "minilm")
    with pytest.raises(WhiteningError, match="'9999': k = 9999 exceeds the vector dimension d = 384"):
        GridConfig([], whiten="none,9999").settings_for(384)  # never a silently clamped column labelled 9999


def test_poolings_and_cells():
    cfg = GridConfig(parse_models("m=/x:STS13"), poolings="pooler,cls", whiten="none,full")
    plan = plan_model(cfg, cfg.models[0], 32, ("cls", "last-avg"))
    assert plan.poolings == ["cls"] and plan.unavailable == ["pooler"]
    keys = [c.key for _, _, c in plan.cells("STS13")]
    assert keys == ["m|STS13|cls|none", "m|STS13|cls|full"]
    assert Cell("m", "STS13", "cls", "none").key == keys[0]  # stable, derived from the four parts only
    all_cfg = GridConfig(cfg.models, poolings="all", whiten="none,full")  # the default's 256 > d = 32
    assert plan_model(all_cfg, cfg.models[0], 32, ("cls", "last-avg")).poolings == ["cls", "last-avg"]
    with pytest.raises(ValueError, match="bogus"):
        parse_poolings("cls,bogus")


def test_config_json_is_plain_and_carries_identities():
    cfg = GridConfig(parse_models("m=/x:STS13"), k_sweep=True, k_grid=(8, 16))
    js = cfg.to_json({"m": "m@abc"})
    assert js["models"] == [{"name": "m", "source": "/x", "tasks": ["STS13"], "identity": "m@abc"}]
    assert js["k_grid"] == [8, 16] and js["format"] == "simlab-grid-1"
