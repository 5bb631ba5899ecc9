"""Every mistake a user can make gets one clear line (issue 9): run the real ``simlab`` command in a subprocess.

Each case asserts the exit code (2 = bad input, as argparse), no "Traceback", exactly one ``simlab: error:``
line, and, where a file is at fault, its path and line number. ``--debug`` / ``SIMLAB_DEBUG=1`` bring the
traceback back; an unexpected exception is reported as a bug (exit 1); Ctrl-C says what was written (exit 130).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simlab.cli.main import main

DATA = os.environ.get("SIMLAB_DATA")
needs_data = pytest.mark.skipif(not DATA or not (Path(DATA) / "STS-B").is_dir(), reason="needs SIMLAB_DATA")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from simlab.testing import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny-errors"))  # hidden size d = 32


@pytest.fixture
def data(tmp_path):
    """A copy of the STS-B part of the data layout, to break at will."""
    root = tmp_path / "data"
    shutil.copytree(Path(DATA) / "STS-B", root / "STS-B")
    return root


def simlab(*args, env=None, data_dir=None, cwd=None):
    """Run ``python -m simlab.cli.main ARGS`` (the `simlab` console script's code) offline; (rc, stdout, stderr)."""
    full = {k: v for k, v in os.environ.items() if k not in ("SIMLAB_DATA", "SIMLAB_DEBUG")}
    full.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    if data_dir is not None:
        full["SIMLAB_DATA"] = str(data_dir)
    full.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "simlab.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=full, cwd=cwd, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def assert_one_error_line(rc, out, err, *needles, code=2):
    """Exit code, no traceback, exactly one ``simlab: error:`` line that contains every needle."""
    assert rc == code, (rc, err)
    assert "Traceback" not in out + err, err
    lines = [line for line in err.splitlines() if line.startswith("simlab: error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# -- bad input, data, model -------------------------------------------------------------------------------------
@needs_data
def test_malformed_data_line_names_file_and_line(tiny, data, tmp_path):
    f = data / "STS-B" / "STS-B.train.data"
    lines = f.read_text(encoding="utf-8").split("\n")
    lines[60] = lines[60].rsplit("\t", 1)[0]  # line 61: 2 fields instead of 3
    f.write_text("\n".join(lines), encoding="utf-8")
    res = simlab("eval", "--model", tiny, "--tasks", "STS-B", "--whiten", "none", "--out", tmp_path / "out",
                 "--no-cache", data_dir=data)
    assert_one_error_line(*res, f"{f}:61:", "expected 3 TAB-separated fields, got 2")
    assert not (tmp_path / "out" / "results.json").exists()


@needs_data
def test_invalid_utf8_names_file_and_line(tiny, data, tmp_path):
    f = data / "STS-B" / "STS-B.test.data"
    raw = f.read_bytes().split(b"\n")
    raw[6] = raw[6][:3] + b"\xff\xfe" + raw[6][3:]  # line 7
    f.write_bytes(b"\n".join(raw))
    res = simlab("whiten", "--model", tiny, "--task", "STS-B", "--out", tmp_path / "w.safetensors", data_dir=data)
    assert_one_error_line(*res, f"{f}:7:", "not valid UTF-8")


def test_no_data_folder(tmp_path, capsys):
    assert_one_error_line(*simlab("eval", "--tasks", "ATEC"), "no data folder given", "SIMLAB_DATA")
    rc = main(["eval", "--tasks", "ATEC", "--data-dir", str(tmp_path / "nope")])  # in-process: the same handler
    assert_one_error_line(rc, *capsys.readouterr(), f"data folder {tmp_path / 'nope'} does not exist")


@needs_data
def test_missing_data_file_names_the_expected_path(tiny, data, tmp_path):
    res = simlab("whiten", "--model", tiny, "--task", "ATEC", "--out", tmp_path / "w.safetensors", data_dir=data)
    assert_one_error_line(*res, f"missing data file {data / 'ATEC' / 'ATEC.valid.data'}", "ATEC expects")


def test_unknown_task():
    assert_one_error_line(*simlab("eval", "--tasks", "ATEC,ATECX"), "unknown task 'ATECX'", "valid are tasks ATEC")


@needs_data
def test_unknown_model(data, tmp_path):
    res = simlab("eval", "--model", "no-such-model", "--tasks", "STS-B", "--whiten", "none",
                 "--out", tmp_path / "out", data_dir=data)
    assert_one_error_line(*res, "could not load model 'no-such-model'", "e5-small")


def test_missing_whitening_file(tmp_path):
    res = simlab("export", "--format", "faiss", "--whiten", tmp_path / "none.safetensors", "--out", tmp_path / "x")
    assert_one_error_line(*res, f"whitening file {tmp_path / 'none.safetensors'} does not exist")


# -- k > d: a clear error naming d, never a silently clamped run ---------------------------------------------------
@needs_data
@pytest.mark.parametrize("whiten, extra", [("none,9999", []), ("none,k", ["--k", "9999"])])
def test_eval_k_larger_than_d(tiny, data, tmp_path, whiten, extra):
    res = simlab("eval", "--model", tiny, "--tasks", "STS-B", "--whiten", whiten, *extra, "--out", tmp_path / "out",
                 data_dir=data)
    assert_one_error_line(*res, "k = 9999 exceeds the vector dimension d = 32")
    assert not (tmp_path / "out").exists()  # refused before encoding anything


@needs_data
def test_grid_k_grid_larger_than_d(tiny, data, tmp_path, monkeypatch, capsys):
    res = simlab("grid", "--models", f"tiny={tiny}:STS-B", "--whiten", "none", "--k-sweep", "--k-grid", "8,9999",
                 "--out", tmp_path / "g", "--no-progress", data_dir=data, env={"SIMLAB_CACHE": str(tmp_path / "c")})
    assert_one_error_line(*res, "k = 9999 exceeds the vector dimension d = 32 of tiny")
    assert not (tmp_path / "g" / "results.jsonl").exists()  # refused while planning, before any cell
    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "c"))
    rc = main(["grid", "--models", f"tiny={tiny}:STS-B", "--whiten", "none,9999", "--out", str(tmp_path / "g2"),
               "--no-progress", "--data-dir", str(data)])
    assert_one_error_line(rc, *capsys.readouterr(), "'9999': k = 9999 exceeds the vector dimension d = 32")


@needs_data
def test_whiten_k_larger_than_d(tiny, data, tmp_path):
    res = simlab("whiten", "--model", tiny, "--task", "STS-B", "--k", "9999", "--out", tmp_path / "w.safetensors",
                 data_dir=data)
    assert_one_error_line(*res, "--k = 9999 exceeds the vector dimension d = 32")
    assert not (tmp_path / "w.safetensors").exists()


def test_index_build_k_larger_than_d(tiny, tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat\na dog ran\nred mat\n", encoding="utf-8")
    res = simlab("index", "build", "--model", tiny, "--corpus", corpus, "--whiten", "fit", "--k", "9999",
                 "--out", tmp_path / "ix", "--no-cache")
    assert_one_error_line(*res, "--k = 9999 exceeds the vector dimension d = 32")
    rc = main(["index", "build", "--model", str(tiny), "--corpus", str(corpus), "--k", "9999", "--out",
               str(tmp_path / "ix"), "--no-cache"])  # plain truncation (--whiten none): the same check
    assert_one_error_line(rc, *capsys.readouterr(), "--k = 9999 exceeds the vector dimension d = 32")
    assert not (tmp_path / "ix").exists()


def test_export_k_larger_than_d(tiny, tmp_path):
    from simlab.whitening import Whitening

    Whitening().fit(np.random.default_rng(0).normal(size=(100, 32))).save(tmp_path / "w.safetensors")
    res = simlab("export", "--model", tiny, "--whiten", tmp_path / "w.safetensors", "--k", "9999",
                 "--out", tmp_path / "st")
    assert_one_error_line(*res, "--k = 9999 exceeds the vector dimension d = 32")
    res = simlab("export", "--format", "faiss", "--whiten", tmp_path / "w.safetensors", "--k", "9999",
                 "--out", tmp_path / "w.faiss")
    assert_one_error_line(*res, "k = 9999 exceeds the vector dimension d = 32")


# -- --debug, bugs, Ctrl-C ------------------------------------------------------------------------------------------
def test_debug_shows_the_traceback(monkeypatch):
    rc, out, err = simlab("--debug", "eval", "--tasks", "ATECX")
    assert rc == 1 and "Traceback" in err and "BadInputError: unknown task 'ATECX'" in err, err
    assert "simlab: error:" not in err
    from simlab.errors import BadInputError

    with pytest.raises(BadInputError, match="ATECX"):  # --debug after the subcommand, in-process
        main(["eval", "--tasks", "ATECX", "--debug"])
    monkeypatch.setenv("SIMLAB_DEBUG", "1")
    with pytest.raises(BadInputError, match="ATECX"):
        main(["eval", "--tasks", "ATECX"])


def test_unexpected_exception_is_reported_as_a_bug(monkeypatch, capsys):
    import simlab.cli.dims_cmd as dims_cmd

    def broken(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(dims_cmd, "run", broken)
    assert main(["dims", "100"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: boom" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("simlab: internal error (RuntimeError): this is a bug in simlab")
    assert "please report it with the command and this traceback at the simlab issue tracker" in last
    assert "simlab: error:" not in err
    with pytest.raises(RuntimeError, match="boom"):
        main(["dims", "100", "--debug"])


def test_ctrl_c_says_what_was_written_without_traceback(monkeypatch, capsys):
    import simlab.cli.dims_cmd as dims_cmd

    def interrupted(args):
        args.written.append("out/results.jsonl (3 cells)")
        args.resume_note = "finished cells are kept"
        raise KeyboardInterrupt

    monkeypatch.setattr(dims_cmd, "run", interrupted)
    assert main(["dims", "100"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "interrupted" in err
    assert "already written: out/results.jsonl (3 cells)" in err
    assert "run the same command again to resume: finished cells are kept" in err


@needs_data
def test_ctrl_c_during_grid_then_rerun_resumes(tiny, tmp_path, monkeypatch, capsys):
    """A real grid run interrupted while storing its second cell: the message names results.jsonl and the one
    cell in it; the rerun keeps that cell and scores only the other."""
    from simlab.grid.store import ResultStore

    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "cache"))
    append = ResultStore.append

    def append_then_ctrl_c(self, key, record, sync=True):
        if self.records:  # Ctrl-C arrives once one cell is stored
            raise KeyboardInterrupt
        append(self, key, record, sync)

    args = ["grid", "--models", f"tiny={tiny}:STS-B", "--poolings", "cls", "--whiten", "none,full",
            "--out", str(tmp_path / "g"), "--no-progress"]
    monkeypatch.setattr(ResultStore, "append", append_then_ctrl_c)
    assert main(args) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"already written: {tmp_path / 'g' / 'results.jsonl'}: 1 new cell this run (last tiny|STS-B|cls|none)" in err
    assert "run the same command again to resume" in err
    monkeypatch.setattr(ResultStore, "append", append)
    assert main(args) == 0
    assert "1 cells scored, 1 already done" in " ".join(capsys.readouterr().err.split())


@needs_data
def test_progress_bar_names_the_task_and_its_place(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "cache"))
    assert main(["eval", "--model", str(tiny), "--tasks", "STS13,STS-B", "--pooling", "cls", "--whiten", "none",
                 "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "STS13 (1/2)" in err and "STS-B (2/2)" in err and "encode " not in err
    recs = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
    assert {r["task_name"] for r in recs} == {"STS13", "STS-B"}


def test_a_commands_own_resume_flag_is_kept(monkeypatch):
    """main() keeps the Ctrl-C notes in args.written / args.resume_note, and never touches a --resume option."""
    mod = pytest.importorskip("simlab.cli.finetune_cmd")
    seen = []
    monkeypatch.setattr(mod, "run", lambda args: seen.append((args.resume, args.written)) or 0)
    assert main(["finetune", "--model", "x", "--resume"]) == 0
    assert main(["finetune", "--model", "x"]) == 0
    assert seen == [(True, []), (False, [])]
