"""The weights hash behind every cache key, and its memo."""

from __future__ import annotations

import os

from simlab.encode.identity import cached_weights_hash, weights_hash


def test_weights_hash_memo_follows_the_files(tmp_path, monkeypatch):

    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"abc")
    first = cached_weights_hash(str(folder))
    assert first == weights_hash(str(folder))
    assert cached_weights_hash(str(folder)) == first  # from the memo
    (folder / "model.safetensors").write_bytes(b"abcd")  # new size -> re-hashed
    assert cached_weights_hash(str(folder)) == weights_hash(str(folder)) != first
    st = (folder / "model.safetensors").stat()
    (folder / "model.safetensors").write_bytes(b"abce")  # same size, new mtime -> re-hashed
    os.utime(folder / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert cached_weights_hash(str(folder)) == weights_hash(str(folder))
