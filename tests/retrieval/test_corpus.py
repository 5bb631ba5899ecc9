"""Corpus files: txt and jsonl, duplicates kept with their ids, empty lines counted (never silently dropped)."""

from __future__ import annotations

import json

import pytest

from simlab.retrieval import Corpus, read_corpus


def test_txt_ids_are_line_numbers_and_empty_lines_are_reported(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("今天天气很好\n\n   \n今天天气很好\n明天会下雨吗\n", encoding="utf-8")
    c = read_corpus(p)
    assert c.ids == ["1", "4", "5"]
    assert c.texts == ["今天天气很好", "今天天气很好", "明天会下雨吗"]
    assert c.empty_lines == [2, 3]
    assert c.n_duplicates == 1
    s = c.summary()
    assert "2 empty lines" in s and "1 duplicate" in s and "3 documents" in s


def test_jsonl_with_ids_duplicates_and_empty_records(tmp_path):
    p = tmp_path / "c.jsonl"
    rows = [{"id": "a", "text": "猫坐在垫子上"}, {"id": 7, "text": "猫坐在垫子上"}, {"id": "b", "text": ""},
            {"id": "c", "sentence": "狗在跑"}]
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows[:2]) + "\n\n"
                 + "\n".join(json.dumps(r, ensure_ascii=False) for r in rows[2:]) + "\n", encoding="utf-8")
    c = read_corpus(p)
    assert c.ids == ["a", "7", "c"] and c.texts == ["猫坐在垫子上", "猫坐在垫子上", "狗在跑"]
    assert c.empty_lines == [3, 4]  # a blank line and a record with an empty text
    assert c.format == "jsonl" and c.n_duplicates == 1


@pytest.mark.parametrize("line, message", [
    ('{"text": "x"}', "missing or invalid 'id'"),
    ('{"id": "1", "body": "x"}', "no text field"),
    ('{"id": "1", "text": 3}', "must be a string"),
    ('{"id": "1", "text": "x"', "not valid JSON"),
    ('["1", "x"]', "expected a JSON object"),
])
def test_jsonl_bad_lines_name_the_line(tmp_path, line, message):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"id": "0", "text": "ok"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"bad.jsonl:2: .*{message}"):
        read_corpus(p)


def test_repeated_ids_and_empty_corpus_are_errors(tmp_path):
    p = tmp_path / "dup.jsonl"
    p.write_text('{"id": 1, "text": "a"}\n{"id": "1", "text": "b"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="id '1' already used on line 1"):
        read_corpus(p)
    e = tmp_path / "empty.txt"
    e.write_text("\n \n", encoding="utf-8")
    with pytest.raises(ValueError, match="no non-empty documents"):
        read_corpus(e)
    with pytest.raises(FileNotFoundError):
        read_corpus(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="document 1 is empty"):
        Corpus.from_texts(["a", " "])
