"""experiments/logreg_experiments.py: the scikit-learn part end to end (1 seed) and the FewCLUE splits it builds."""

from __future__ import annotations

import json
import os

import pytest

from experiments import logreg_experiments


def test_sklearn_part_runs_and_reports(tmp_path, capsys):
    mod = logreg_experiments
    out = tmp_path / "r.json"
    assert mod.main(["--part", "sklearn", "--seeds", "1", "--repeats", "1", "--json", str(out)]) == 0
    res = json.loads(out.read_text(encoding="utf-8"))["scikit-learn datasets"]
    assert set(res) == {f"{d} ({r})" for d in ("iris", "wine", "breast_cancer", "digits") for r in ("75%", "60")}
    for row in res.values():
        assert set(row) == set(mod.methods())
        # same estimator, same settings → same accuracy
        assert row["analytic"]["acc"] == pytest.approx(row["LDA svd"]["acc"], abs=0.02) or row["analytic"]["acc"] < 0.5
    assert res["iris (75%)"]["analytic"]["acc"] > 0.9
    assert res["digits (60)"]["analytic LW"]["acc"] > 0.7  # shrinkage rescues n_train < d
    assert "| iris (75%) (4, 3, 112) |" in capsys.readouterr().out


@pytest.mark.skipif(not os.environ.get("SIMLAB_DATA"), reason="needs SIMLAB_DATA")
def test_fewclue_splits():
    mod = logreg_experiments
    from simlab.paths import data_dir

    sets = mod.fewclue_sets(data_dir())
    assert set(sets) == {"tnews", "iflytek", "eprstmt", "iflytek-1k", "tnews-12k"}
    for tr_x, tr_y, te_x, te_y in sets.values():
        assert len(tr_x) == len(tr_y) and len(te_x) == len(te_y) and len(tr_x) > 100
    assert len(sets["iflytek-1k"][0]) == 1000 and set(sets["iflytek-1k"][0]) <= set(sets["iflytek"][0])
    assert (len(sets["tnews"][0]), len(sets["tnews"][2])) == (1185, 2010)
    big = sets["tnews-12k"]
    assert not set(big[0]) & set(sets["tnews"][2])  # no test sentence leaks into the larger train set
    assert set(big[1]) == set(sets["tnews"][1])  # same 15 label codes
