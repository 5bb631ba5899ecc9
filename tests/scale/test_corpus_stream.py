"""Corpus readers: txt and jsonl with ids, shard planning, bad lines as file:line errors (as the STS readers)."""

from __future__ import annotations

import json
import random

import pytest

from simlab.errors import DataError, SimlabError
from simlab.retrieval import corpus_stream as cs
from simlab.retrieval import read_corpus
from simlab.retrieval.corpus_stream import plan_shards, read_shard


def read_all(paths, shard_size, fmt=None):
    files, shards = plan_shards(paths, shard_size, fmt)
    ids, texts, empty = [], [], []
    for s in shards:
        d = read_shard(s.to_dict())  # a dict, as a worker receives it
        ids += d.ids
        texts += d.texts
        empty += d.empty_lines
    return files, shards, ids, texts, empty


def test_txt_ids_are_line_numbers_across_shards(tmp_path):
    p = tmp_path / "c.txt"
    p.write_bytes("今天天气\n\n明天下雨\r\n  \n猫\n最后一行没有换行".encode())
    files, shards, ids, texts, empty = read_all([p], 2)
    assert ids == ["1", "3", "5", "6"] and empty == [2, 4]
    assert texts == ["今天天气", "明天下雨", "猫", "最后一行没有换行"]  # "\r\n" ends a line like "\n"
    assert [(s.line_start, s.lines) for s in shards] == [(1, 2), (3, 2), (5, 2)]
    assert files[0]["lines"] == 6 and files[0]["bytes"] == p.stat().st_size
    c = read_corpus(p)
    assert (c.ids, c.texts, c.empty_lines) == (ids, texts, empty)


def test_jsonl_ids_and_several_files(tmp_path):
    a = tmp_path / "a.jsonl"
    a.write_text('{"id": "x1", "text": "猫坐在垫子上"}\n\n{"id": 7, "sentence": "狗在跑"}\n{"id": "e", "text": " "}\n',
                 encoding="utf-8")
    t1, t2 = tmp_path / "t1.txt", tmp_path / "t2.txt"
    t1.write_text("one\ntwo\n")
    t2.write_text("three\n")
    files, shards, ids, texts, empty = read_all([a, t1, t2], 3)
    # jsonl ids come from the records; with several txt files the line number is prefixed by the path
    assert ids == ["x1", "7", f"{t1}:1", f"{t1}:2", f"{t2}:1"]
    assert texts == ["猫坐在垫子上", "狗在跑", "one", "two", "three"]
    assert empty == [2, 4] and [f["format"] for f in files] == ["jsonl", "txt", "txt"]
    _, _, single, _, _ = read_all([t1], 1)
    assert single == ["1", "2"]  # one txt file keeps read_corpus's plain line numbers


@pytest.mark.parametrize("line, message", [
    ('{"text": "x"}', "missing or invalid 'id'"),
    ('{"id": "1", "body": "x"}', "no text field"),
    ('{"id": "1", "text": 3}', "must be a string"),
    ('{"id": "1", "text": "x"', "not valid JSON"),
    ('["1", "x"]', "expected a JSON object"),
    ('{"id": "0", "text": "again"}', "id '0' already used on line 1"),
])
def test_bad_jsonl_lines_name_file_and_line(tmp_path, line, message):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"id": "0", "text": "ok"}\n{"id": "9", "text": "fine"}\n' + line + "\n", encoding="utf-8")
    for read in (lambda: read_all([p], 10), lambda: read_corpus(p)):
        with pytest.raises(DataError, match=rf"bad.jsonl:3: .*{message}") as info:
            read()
        assert isinstance(info.value, SimlabError) and isinstance(info.value, ValueError)


def test_bad_line_in_a_later_shard_has_its_own_line_number(tmp_path):
    p = tmp_path / "big.jsonl"
    rows = [json.dumps({"id": i, "text": f"t{i}"}) for i in range(25)]
    rows[17] = '{"id": 17, "txt": "typo"}'
    p.write_text("\n".join(rows) + "\n")
    _, shards = plan_shards([p], 10)
    read_shard(shards[0])
    with pytest.raises(DataError, match=r"big.jsonl:18: no text field"):
        read_shard(shards[1])


def test_invalid_utf8_is_a_line_error(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes(b"ok\ncaf\xe9\n")
    with pytest.raises(DataError, match=r"latin1.txt:2: not valid UTF-8"):
        read_all([p], 5)
    with pytest.raises(DataError, match=r"latin1.txt:2: not valid UTF-8"):
        read_corpus(p)


def test_a_file_changed_after_planning_is_detected(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("a\nb\nc\nd\n")
    _, shards = plan_shards([p], 2)
    p.write_text("a\nb\n")
    with pytest.raises(DataError, match="changed after planning|ended early"):
        read_shard(shards[1])


def test_sharded_reading_equals_read_corpus_on_random_files(tmp_path, monkeypatch):
    """Property: for any file, chunk size and shard size, the shards together are read_corpus's documents."""
    rng = random.Random(0)
    for trial in range(150):
        monkeypatch.setattr(cs, "CHUNK", rng.choice([1, 2, 5, 64, 1 << 20]))
        lines = [rng.choice(["", " ", "猫 狗", "x" * rng.randint(1, 20), "a\rb"]) for _ in range(rng.randint(1, 30))]
        text = "\n".join(lines) + rng.choice(["", "\n"])
        p = tmp_path / f"t{trial}.txt"
        p.write_text(text, encoding="utf-8", newline="")
        files, shards, ids, texts, empty = read_all([p], rng.randint(1, 8))
        expect_lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
        assert files[0]["lines"] == expect_lines
        assert sum(s.lines for s in shards) == expect_lines
        if ids:
            c = read_corpus(p)
            assert (c.ids, c.texts, c.empty_lines) == (ids, texts, empty)
        else:
            with pytest.raises(DataError, match="no non-empty documents"):
                read_corpus(p)


def test_option_errors(tmp_path):
    from simlab.errors import BadInputError, MissingFileError

    with pytest.raises(MissingFileError):
        plan_shards([tmp_path / "nope.txt"], 10)
    (tmp_path / "a.txt").write_text("x\n")
    with pytest.raises(BadInputError, match="shard size"):
        plan_shards([tmp_path / "a.txt"], 0)
    with pytest.raises(BadInputError, match="format"):
        plan_shards([tmp_path / "a.txt"], 10, "csv")
