"""Malformed input in tmp folders: every bad line raises BadLineError "path:line: reason", or is skipped and
recorded with skip_bad_lines=True; missing files/folders raise DataNotFoundError naming the expected layout."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from simlab.data import BadLineError, DataNotFoundError, fit_sentences, load_split
from simlab.data.readers import read_lines, read_sentence_file, read_senteval_cn, read_sts_pairs

STS12 = ("MSRpar", "MSRvid", "SMTeuroparl", "surprise.OnWN", "surprise.SMTnews")


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def make_sts12(root: Path, gold: dict[str, str] | None = None, inputs: dict[str, str] | None = None) -> Path:
    folder = root / "SentEval-STS" / "STS12-en-test"
    for i, name in enumerate(STS12):
        write(folder / f"STS.input.{name}.txt", (inputs or {}).get(name, f"a{i} .\tb{i} .\nc{i} .\td{i} .\n"))
        write(folder / f"STS.gs.{name}.txt", (gold or {}).get(name, "4.5\n1\n"))
    return folder


# ---------------------------------------------------------------- Chinese .data files


BQ_BAD = (
    "好\t不好\t0\n"  # 1 ok
    "只有两列\t1\n"  # 2 wrong field count
    "甲\t乙\tabc\n"  # 3 unparsable score
    "甲\t\t1\n"  # 4 empty sentence2
    "甲\t乙\t2\n"  # 5 label not 0/1
    "\n"  # 6 blank line
    "甲\t乙\t1\t多\n"  # 7 four fields
    "甲\t乙\tnan\n"  # 8 not finite
    '"引号""原样"""\t乙\t1\n'  # 9 ok: CSV-style quotes stay raw (PAWSX, MANIFEST §4)
)
BAD_LINES = {
    2: "expected 3",
    3: "'abc' is not a number",
    4: "empty sentence2",
    5: "not 0 or 1",
    6: "empty line",
    7: "got 4",
    8: "not finite",
}


def test_each_bad_line_raises_with_file_and_line(tmp_path):
    path = write(tmp_path / "BQ" / "BQ.test.data", BQ_BAD)
    lines = BQ_BAD.splitlines(keepends=True)
    for lineno, reason in BAD_LINES.items():
        write(path, lines[0] + lines[lineno - 1])  # one good line, then the bad one at line 2
        with pytest.raises(BadLineError, match=reason) as info:
            load_split("BQ", "test", tmp_path)
        assert (
            str(info.value).startswith(f"{path}:2: ") and info.value.lineno == 2 and info.value.path == path
        )
        assert isinstance(info.value, ValueError)


def test_skip_mode_records_every_bad_line(tmp_path):
    path = write(tmp_path / "BQ" / "BQ.test.data", BQ_BAD)
    with pytest.raises(BadLineError, match=rf"^{path}:2: expected 3 TAB-separated fields, got 2$"):
        load_split("BQ", "test", tmp_path)  # strict mode stops at the first one
    ps = load_split("BQ", "test", tmp_path, skip_bad_lines=True)
    assert [(p, n) for p, n, _ in ps.skipped] == [(path, n) for n in BAD_LINES]
    assert all(want in reason for (_, _, reason), want in zip(ps.skipped, BAD_LINES.values()))
    assert ps.sentences1 == ["好", '"引号""原样"""'] and ps.sentences2 == ["不好", "乙"]
    np.testing.assert_array_equal(ps.scores, [0.0, 1.0])
    assert "7 bad lines skipped" in ps.summary()


def test_crlf_and_missing_final_newline(tmp_path):
    write(tmp_path / "ATEC" / "ATEC.test.data", "一\t二\t1\n三\t四\t0", newline="\r\n")
    ps = load_split("atec", "test", tmp_path)
    assert (
        ps.sentences1 == ["一", "三"] and ps.sentences2 == ["二", "四"] and ps.scores.tolist() == [1.0, 0.0]
    )


def test_line_ends_only_at_newline(tmp_path):
    # str.splitlines would cut these lines at U+2028 / \x85 and misalign the file
    path = write(tmp_path / "x.data", "a\u2028b\tc\x85d\t1\n")
    rows = read_senteval_cn(path)
    assert rows.sentences1 == ["a\u2028b"] and rows.sentences2 == ["c\x85d"]


def test_bom_and_invalid_utf8(tmp_path):
    assert read_lines(write(tmp_path / "bom.txt", "\ufeffa\tb\t1\n")) == ["a\tb\t1"]
    bad = tmp_path / "bad.data"
    bad.write_bytes("好\t好\t1\n".encode() + b"\xff\xfe\t x\t0\n")
    with pytest.raises(BadLineError, match=rf"^{bad}:2: not valid UTF-8"):
        read_senteval_cn(bad)


def test_bad_line_error_pickles():
    err = pickle.loads(pickle.dumps(BadLineError("a/b.txt", 3, "oops")))
    assert (str(err), err.lineno, err.reason) == ("a/b.txt:3: oops", 3, "oops")


# ---------------------------------------------------------------- SentEval STS12-16


def test_blank_gold_lines_are_unscored_and_counted(tmp_path):
    make_sts12(tmp_path, gold={"MSRvid": "\n2.5\n", "SMTeuroparl": "  \n\n"})
    ps = load_split("STS-12", "test", tmp_path)
    assert ps.unscored == 3 and len(ps) == 10 - 3 and ps.skipped == []
    assert ps.subsets == [
        ("MSRpar", 0, 2),
        ("MSRvid", 2, 3),
        ("SMTeuroparl", 3, 3),
        ("surprise.OnWN", 3, 5),
        ("surprise.SMTnews", 5, 7),
    ]
    assert ps.sentences1[2] == "c1 ." and ps.scores[2] == 2.5
    assert "3 unscored pairs dropped" in ps.summary()


def test_sts_bad_input_and_bad_gold(tmp_path):
    folder = make_sts12(
        tmp_path, inputs={"MSRvid": "only one field\nc .\td .\n"}, gold={"surprise.OnWN": "4\n5.5\n"}
    )
    with pytest.raises(BadLineError, match=rf"^{folder / 'STS.input.MSRvid.txt'}:1: expected 2"):
        load_split("STS12", "test", tmp_path)
    ps = load_split("STS12", "test", tmp_path, skip_bad_lines=True)
    assert [(p.name, n) for p, n, _ in ps.skipped] == [
        ("STS.input.MSRvid.txt", 1),
        ("STS.gs.surprise.OnWN.txt", 2),
    ]
    assert "outside 0..5" in ps.skipped[1][2]
    assert len(ps) == 8 and [b - a for _, a, b in ps.subsets] == [2, 1, 2, 1, 2]


def test_sts_line_count_mismatch_is_always_an_error(tmp_path):
    folder = make_sts12(tmp_path, gold={"MSRpar": "4\n"})
    for skip in (False, True):
        with pytest.raises(
            BadLineError, match=rf"^{folder / 'STS.gs.MSRpar.txt'}:2: .*has 2 lines but .*has 1"
        ):
            load_split("STS12", "test", tmp_path, skip_bad_lines=skip)


def test_sts_missing_subset_file_names_it(tmp_path):
    folder = make_sts12(tmp_path)
    (folder / "STS.input.MSRvid.txt").unlink()
    with pytest.raises(
        DataNotFoundError, match=r"STS\.input\.MSRvid\.txt.*STS12 expects .*SentEval-STS/STS12-en-test"
    ):
        load_split("STS12", "test", tmp_path)


# ---------------------------------------------------------------- STSBenchmark and SICK


def test_stsbenchmark_extra_columns_and_raw_quotes(tmp_path):
    path = write(
        tmp_path / "SentEval-STS" / "STSBenchmark" / "sts-test.csv",
        'g\tf\t2012\t0001\t5.000\ta "quoted\tb .\n'  # 7 fields; the lone quote stays (QUOTE_NONE)
        "g\tf\t2012\t0002\t1.5\tc .\td .\tsrc1\tsrc2\n"  # 9 fields (official release): columns 4, 5, 6
        "g\tf\t2012\t0003\t1.5\tonly six\n",  # 6 fields: bad
    )
    with pytest.raises(BadLineError, match=rf"^{path}:3: expected at least 7 TAB-separated fields, got 6"):
        load_split("STSB", "test", tmp_path)
    ps = load_split("STSB", "test", tmp_path, skip_bad_lines=True)
    assert (
        ps.sentences1 == ['a "quoted', "c ."]
        and ps.sentences2 == ["b .", "d ."]
        and ps.scores.tolist() == [5, 1.5]
    )
    assert [n for _, n, _ in ps.skipped] == [3]


def test_sick_header_crlf_and_range(tmp_path):
    header = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\n"
    path = write(
        tmp_path / "SICK" / "SICK_trial.txt",
        header + "1\tA b\tC d\t4.5\tNEUTRAL\n2\tE\tF\t0.5\tNEUTRAL\n",
        newline="\r\n",
    )
    with pytest.raises(BadLineError, match=rf"^{path}:3: score 0.5 outside 1..5"):
        load_split("SICK", "trial", tmp_path)
    ps = load_split("SICK", "trial", tmp_path, skip_bad_lines=True)
    assert (ps.sentences1, ps.sentences2, ps.scores.tolist()) == (["A b"], ["C d"], [4.5])
    write(path, "pair_ID\tsentence_A\tsentence_B\tscore\n1\ta\tb\t3\n")
    with pytest.raises(BadLineError, match=rf"^{path}:1: header .* lacks column\(s\) relatedness_score"):
        load_split("SICK", "trial", tmp_path, skip_bad_lines=True)


# ---------------------------------------------------------------- missing data


def test_missing_file_names_path_and_layout(tmp_path):
    with pytest.raises(DataNotFoundError) as info:
        load_split("LCQMC", "valid", tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "LCQMC" / "LCQMC.valid.data") in msg
    assert "<data>/LCQMC/LCQMC.{valid,test}.data" in msg and "sentence1<TAB>sentence2<TAB>label" in msg
    with pytest.raises(DataNotFoundError, match=r"SICK_test_annotated\.txt.*relatedness_score"):
        load_split("SICK-R", "test", tmp_path)
    assert isinstance(info.value, FileNotFoundError)


def test_missing_data_dir(tmp_path, monkeypatch):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_split("ATEC", "test", tmp_path / "nowhere")
    monkeypatch.delenv("SIMLAB_DATA", raising=False)
    with pytest.raises(DataNotFoundError, match="SIMLAB_DATA"):
        load_split("ATEC", "test")


def test_unknown_split_and_task(tmp_path):
    with pytest.raises(ValueError, match=r"ATEC has no split 'train': its splits are valid, test"):
        load_split("ATEC", "train", tmp_path)
    with pytest.raises(ValueError, match="unknown task 'MRPC'"):
        load_split("MRPC", "test", tmp_path)


# ---------------------------------------------------------------- fit on a sentence file


def test_fit_file_counts_and_reports_blank_lines(tmp_path):
    path = write(tmp_path / "corpus.txt", "第一句\n\n第二句\n   \n第三句\n", newline="\r\n")
    assert read_sentence_file(path) == (["第一句", "第二句", "第三句"], [2, 4])
    with pytest.warns(UserWarning, match=r"left out 2 blank lines \(lines 2, 4\)"):
        sents = fit_sentences("ATEC", "file", tmp_path, file=path)
    assert list(sents) == ["第一句", "第二句", "第三句"] and sents.blank_lines == [(path, 2), (path, 4)]
    assert sents.sources == [path] and "2 blank lines" in sents.summary()
    with pytest.warns(UserWarning):
        assert list(fit_sentences("ATEC", str(path))) == list(sents)  # a path given as the policy


def test_fit_file_errors(tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        fit_sentences("ATEC", "file", file=tmp_path / "nope.txt")
    empty = write(tmp_path / "empty.txt", "\n\n")
    with pytest.raises(ValueError, match="no sentences"):
        fit_sentences("ATEC", "file", file=empty)
    with pytest.raises(ValueError, match="pass policy='file'"):
        fit_sentences("ATEC", file=empty)
    with pytest.raises(ValueError, match="needs file=PATH"):
        fit_sentences("ATEC", "file")
    with pytest.raises(ValueError, match="unknown fit policy 'tset'.*all, test, train"):
        fit_sentences("ATEC", "tset", tmp_path)


def test_fit_policies_on_a_tiny_folder(tmp_path):
    write(tmp_path / "STS-B" / "STS-B.train.data", "a\tb\t5\nc\td\t0\n")
    write(tmp_path / "STS-B" / "STS-B.valid.data", "e\tf\t3\n")
    write(tmp_path / "STS-B" / "STS-B.test.data", "g\th\t1\na\tb\t2\n")
    assert fit_sentences("STS-B", "all", tmp_path) == ["a", "c", "b", "d", "e", "f", "g", "a", "h", "b"]
    assert fit_sentences("STS-B", "test", tmp_path) == ["g", "a", "h", "b"]
    assert fit_sentences("STS-B", " TEST", tmp_path) == ["g", "a", "h", "b"]
    assert fit_sentences("STSB-zh", "train", tmp_path) == ["a", "c", "b", "d"]
    write(tmp_path / "STS-B" / "STS-B.valid.data", "e\tf\t3\nbroken line\n")
    with pytest.raises(BadLineError, match=r"STS-B.valid.data:2: "):
        fit_sentences("STS-B", "all", tmp_path)
    assert fit_sentences("STS-B", "all", tmp_path, skip_bad_lines=True) == [
        "a",
        "c",
        "b",
        "d",
        "e",
        "f",
        "g",
        "a",
        "h",
        "b",
    ]


def test_read_sts_pairs_direct(tmp_path):
    inp = write(tmp_path / "STS.input.x.txt", "a\tb\nc\td\n")
    gold = write(tmp_path / "STS.gs.x.txt", "\n3.2\n")
    rows = read_sts_pairs(inp, gold)
    assert (rows.sentences1, rows.scores, rows.unscored) == (["c"], [3.2], 1)
