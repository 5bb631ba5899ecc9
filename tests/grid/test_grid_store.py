"""JSONL result store: atomic appends, torn last line discarded, damage elsewhere refused, config guard, lock."""

from __future__ import annotations

import json

import pytest

from simlab.grid.store import (
    CorruptResultsError,
    GridConfigError,
    ResultStore,
    encode_line,
    load_records,
    read_results,
)

CONFIG = {"format": "simlab-grid-1", "whiten": "none,full"}


def _rec(i):
    return {"cell": f"m|T|cls|{i}", "main_score": i / 10, "text": "中文 ✓"}


def _fill(folder, n):
    with ResultStore(folder) as st:
        st.open(CONFIG)
        for i in range(n):
            st.append(f"m|T|cls|{i}", _rec(i))
    return folder / "results.jsonl"


def test_roundtrip_in_order(tmp_path):
    path = _fill(tmp_path, 5)
    res = read_results(path)
    assert list(res.records) == [f"m|T|cls|{i}" for i in range(5)] and res.discarded == 0
    assert res.records["m|T|cls|3"] == _rec(3)
    assert path.read_bytes().count(b"\n") == 5
    config, records = load_records(tmp_path)
    assert config == CONFIG and records == [_rec(i) for i in range(5)]


@pytest.mark.parametrize("cut", [1, 17, -2])
def test_torn_last_line_is_discarded_and_cut_off(tmp_path, cut):
    path = _fill(tmp_path, 4)
    data = path.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[:last_start + cut] if cut > 0 else data[:cut])  # a kill mid-write
    res = read_results(path)
    assert list(res.records) == [f"m|T|cls|{i}" for i in range(3)] and res.discarded > 0
    with ResultStore(tmp_path) as st:
        st.open(CONFIG)
        assert st.discarded == res.discarded and len(st.records) == 3
        st.append("m|T|cls|3", _rec(3))  # the lost cell is recomputed and appended cleanly
    again = read_results(path)
    assert again.records == {f"m|T|cls|{i}": _rec(i) for i in range(4)} and again.discarded == 0


def test_checksum_mismatch_on_last_line_is_discarded(tmp_path):
    path = _fill(tmp_path, 2)
    lines = path.read_bytes().splitlines(keepends=True)
    entry = json.loads(lines[-1])
    entry["record"]["main_score"] = 99.0  # complete line, wrong content
    path.write_bytes(lines[0] + (json.dumps(entry) + "\n").encode())
    assert list(read_results(path).records) == ["m|T|cls|0"]


def test_damage_before_the_last_line_is_an_error(tmp_path):
    path = _fill(tmp_path, 3)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0][:10] + b"\n" + b"".join(lines[1:]))
    with pytest.raises(CorruptResultsError, match="line 1"):
        read_results(path)


def test_duplicate_cells_are_refused(tmp_path):
    path = _fill(tmp_path, 2)
    path.write_bytes(path.read_bytes() + encode_line("m|T|cls|0", _rec(0)))
    with pytest.raises(CorruptResultsError, match="twice"):
        read_results(path)
    with ResultStore(tmp_path / "b") as st:
        st.open(CONFIG)
        st.append("k", {"x": 1})
        with pytest.raises(ValueError, match="already stored"):
            st.append("k", {"x": 1})


def test_other_config_is_a_clear_error(tmp_path):
    _fill(tmp_path, 1)
    with pytest.raises(GridConfigError, match=r"whiten: 'none,full' -> 'none'"):
        ResultStore(tmp_path).open({**CONFIG, "whiten": "none"})
    (tmp_path / "grid.json").unlink()
    with pytest.raises(GridConfigError, match="without grid.json"):
        ResultStore(tmp_path).open(CONFIG)


def test_second_writer_is_locked_out(tmp_path):
    with ResultStore(tmp_path) as st:
        st.open(CONFIG)
        with pytest.raises(RuntimeError, match="another simlab grid run"):
            ResultStore(tmp_path).open(CONFIG)
    with ResultStore(tmp_path) as st:  # released on close
        st.open(CONFIG)
