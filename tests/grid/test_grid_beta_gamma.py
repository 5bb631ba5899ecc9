"""The grid's β/γ sweep (kexue.fm/archives/9079): planned cells, scores against the eval scorer, the report table."""

from __future__ import annotations

import os

import pytest
from grid_helpers import shared

from simlab.encode.cache import VectorCache
from simlab.grid import GridConfig, ModelSpec, run_grid
from simlab.grid.bg_table import bg_rows, split_label
from simlab.grid.cells import parse_models

pytestmark = pytest.mark.filterwarnings("ignore::simlab.whitening.kernel.WhiteningWarning")


def test_sweep_settings_and_config_json():
    cfg = GridConfig(parse_models("minilm:STS13"), whiten="none,full,256", k_sweep=True, bg_sweep=(0.0, 1.0))
    labels = [s.label for s in cfg.settings_for(384)]
    assert labels[:3] == ["none", "full", "256"]
    assert {"full@b0g0", "full@b0g1", "full@b1g0", "256@b0g0", "256@b0g1", "256@b1g0"} <= set(labels)
    assert not any("@" in lab and lab.split("@")[0] not in ("full", "256") for lab in labels)  # k-sweep: β=γ=1
    assert cfg.to_json()["bg_sweep"] == [0.0, 1.0]
    assert "bg_sweep" not in GridConfig(parse_models("minilm:STS13")).to_json()  # old grid.json files still match
    assert split_label("256@b0.5g0") == ("256", 0.5, 0.0)


def test_cli_parses_bg_sweep(tmp_path):
    from simlab.cli.grid_cmd import command_line, config_from_args
    from simlab.cli.main import build_parser

    args = build_parser().parse_args(["grid", "--models", "minilm:STS13", "--whiten", "none,256@b0g0",
                                      "--bg-sweep", "1,0.5,0", "--out", str(tmp_path)])
    cfg = config_from_args(args)
    assert cfg.bg_sweep == (0.0, 0.5, 1.0)
    assert "--bg-sweep 1,0.5,0" in command_line(args)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        config_from_args(build_parser().parse_args(["grid", "--bg-sweep", "0,3"]))


@pytest.mark.skipif(not os.environ.get("SIMLAB_DATA"), reason="needs SIMLAB_DATA (CI has it)")
def test_grid_with_bg_sweep_matches_the_scorer_and_reports(tmp_path_factory, tmp_path):
    from threadpoolctl import threadpool_limits

    from simlab.encode import Encoder
    from simlab.evaluate.runner import evaluate_task
    from simlab.grid.report_md import render_markdown

    model, vectors = shared(tmp_path_factory)
    cfg = GridConfig([ModelSpec("tiny", str(model), ("STS-B",))], poolings="last-avg", whiten="none,full,16",
                     bg_sweep=(0.0, 1.0))
    res = run_grid(cfg, tmp_path / "g", cache=VectorCache(vectors), progress=False, threads=1)
    by = {r["whitening"]["setting"]: r for r in res.records}
    assert set(by) == {"none", "full", "16", "full@b0g0", "full@b0g1", "full@b1g0", "16@b0g0", "16@b0g1",
                       "16@b1g0"}
    assert (by["16@b0g1"]["whitening"]["beta"], by["16@b0g1"]["whitening"]["gamma"]) == (0.0, 1.0)
    # the same cells through simlab eval's runner (the settings parser + scorer, no grid machinery)
    enc = Encoder(str(model), name="tiny", num_threads=1)
    with threadpool_limits(1):  # the grid ran with threads=1: same BLAS thread count, same rounding, same ranks
        ref = evaluate_task(enc, "STS-B", ["last-avg"], whiten=",".join(by), embed=VectorCache(vectors).embed)
    for r in ref:
        assert by[r["whitening"]["setting"]]["main_score"] == r["main_score"]
    rows = bg_rows(res.records)
    assert [(m, p, b) for m, p, b, _, _ in rows] == [("tiny", "last-avg", "full"), ("tiny", "last-avg", "16")]
    md = render_markdown(res.records)
    assert "β/γ whitening (kexue.fm/archives/9079)" in md and "β0 γ0" in md
