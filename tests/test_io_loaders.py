"""simlab.io's loader path (issue 21): a damaged file is one SimlabError naming the file (and line), checked
against the parsers themselves (json, safetensors); write_folder leaves the old folder whole when a build fails."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simlab.errors import CacheError, DataError, MissingFileError, SimlabError
from simlab.io import iter_text_lines, load_safetensors, read_json, read_text_lines, write_folder


@pytest.mark.parametrize("text, where", [('{"a": 1', "line 1 column 8"), ('{"a": 1,\n "b": }', "line 2 column 7"),
                                         ("", "line 1 column 1")])
def test_read_json_names_file_line_and_column(tmp_path, text, where):
    p = tmp_path / "index.json"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(json.JSONDecodeError) as ref:  # the reference: what json itself reports
        json.loads(text)
    with pytest.raises(DataError) as exc:
        read_json(p, "index description")
    assert str(exc.value).startswith(f"{p}: damaged index description (not valid JSON: {ref.value.msg} at {where})")


def test_read_json_other_failures(tmp_path):
    p = tmp_path / "m.json"
    with pytest.raises(MissingFileError, match="manifest .*m.json does not exist"):
        read_json(p, "manifest")
    p.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(CacheError, match=r"m.json: damaged cache entry \(not valid UTF-8 at byte 7\)"):
        read_json(p, "cache entry", CacheError)
    p.write_text("[1, 2]")
    with pytest.raises(DataError, match="expected a JSON object, got list"):
        read_json(p)
    assert read_json(p, object_only=False) == [1, 2]
    p.write_bytes(b'\xef\xbb\xbf{"a": 1}')  # a byte-order mark is not an error
    assert read_json(p) == {"a": 1}
    with pytest.raises(DataError, match="is a folder"):
        read_json(tmp_path)


def test_text_lines_name_the_line(tmp_path):
    p = tmp_path / "c.txt"
    p.write_bytes(b"\xef\xbb\xbfone\r\ntwo\n\nfour")
    assert read_text_lines(p) == ["one", "two", "", "four"]
    assert [n for n, _ in iter_text_lines(p)] == [1, 2, 3, 4]
    p.write_bytes(b"ok\nok\n\xe4\xbd bad\n")
    with pytest.raises(UnicodeDecodeError) as ref:
        b"\xe4\xbd bad".decode("utf-8")
    with pytest.raises(DataError, match=rf"c.txt:3: not valid UTF-8 \(byte {ref.value.start}\)"):
        read_text_lines(p)
    with pytest.raises(MissingFileError):
        read_text_lines(tmp_path / "none.txt")


def test_load_safetensors_reads_and_names_damage(tmp_path):
    from safetensors import SafetensorError, safe_open
    from safetensors.numpy import save_file

    p = tmp_path / "w.safetensors"
    save_file({"a": np.arange(6.0).reshape(2, 3)}, str(p), metadata={"format": "x"})
    tensors, meta = load_safetensors(p)
    assert meta == {"format": "x"} and np.array_equal(tensors["a"], np.arange(6.0).reshape(2, 3))
    data = p.read_bytes()
    for cut in (3, 40, len(data) - 8):  # header cut, JSON cut, data cut
        p.write_bytes(data[:cut])
        with pytest.raises(SafetensorError) as ref:
            with safe_open(str(p), framework="numpy") as f:
                [f.get_tensor(k) for k in f.keys()]
        with pytest.raises(DataError) as exc:
            load_safetensors(p, "vector file")
        assert str(exc.value) == f"{p}: damaged vector file ({ref.value})"
        assert isinstance(exc.value, SimlabError)


def test_write_folder_swaps_whole_folders(tmp_path):
    out = tmp_path / "index"
    out.mkdir()
    (out / "old.txt").write_text("old")

    def broken(tmp):
        (tmp / "half.txt").write_text("half")
        raise KeyboardInterrupt  # Ctrl-C in the middle of a build

    with pytest.raises(KeyboardInterrupt):
        write_folder(out, broken)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"] and (out / "old.txt").read_text() == "old"
    assert write_folder(out, lambda tmp: (tmp / "new.txt").write_text("new") and "built") == "built"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
