"""Read a Hugging Face model folder's vocabulary-bearing files and write the trimmed folder.

What is rewritten: ``model.safetensors`` (:mod:`simlab.trim.model`), ``config.json``, ``tokenizer.json``
(:mod:`simlab.trim.tokenizer`), ``vocab.txt`` (WordPiece, one token a line in id order) and the
``added_tokens_decoder`` ids of ``tokenizer_config.json``. SentencePiece / BPE model files
(``sentencepiece.bpe.model``, ``spiece.model``, ...) are left out: they would give a slow tokenizer the old
vocabulary, and ``tokenizer.json`` is what ``AutoTokenizer`` loads. Everything else (sentence-transformers
modules, pooling configs, special-token maps) is copied unchanged.

>>> src = read_source(Path("e5-small"))                               # doctest: +SKIP
>>> src.tokenizer["model"]["type"], src.config["vocab_size"]          # doctest: +SKIP
('Unigram', 250037)
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simlab.errors import ModelError

REWRITTEN = {"model.safetensors", "config.json", "tokenizer.json", "vocab.txt", "tokenizer_config.json",
             "README.md", "simlab_conversion.json", "simlab_trim.json"}
DROPPED = {"sentencepiece.bpe.model", "spiece.model", "source.spm", "target.spm", "merges.txt", "vocab.json",
           "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "model.onnx"}


@dataclass
class Source:
    """A model folder's parts that trimming changes."""

    folder: Path
    config: dict
    tokenizer: dict  # tokenizer.json as a dict
    state: dict  # name -> numpy array (model.safetensors)
    tokenizer_config: dict | None
    conversion: dict | None  # simlab_conversion.json (e5-small): pooler and prefix facts


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{path}: cannot read it as JSON ({e})") from None


def tokenizer_json(folder: Path) -> dict:
    """``tokenizer.json`` of ``folder``, or the fast tokenizer ``AutoTokenizer`` builds from it (vocab.txt)."""
    path = folder / "tokenizer.json"
    if path.is_file():
        return _read_json(path)
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as e:
        raise ModelError(f"{folder}: no tokenizer.json and no tokenizer transformers can load ({e})") from None
    if not hasattr(tok, "backend_tokenizer"):
        raise ModelError(f"{folder}: the tokenizer has no fast (tokenizers) form to trim")
    return json.loads(tok.backend_tokenizer.to_str())


def read_source(folder: Path) -> Source:
    """The parts of ``folder`` that trimming reads (weights as numpy float arrays, memory-mapped by safetensors)."""
    from safetensors.numpy import load_file

    weights = folder / "model.safetensors"
    if not weights.is_file():
        what = "sharded weights (model.safetensors.index.json)" if (folder / "model.safetensors.index.json").is_file() \
            else "no model.safetensors"
        raise ModelError(f"{folder}: {what}; simlab trim reads one model.safetensors file")
    tc = folder / "tokenizer_config.json"
    conv = folder / "simlab_conversion.json"
    return Source(folder, _read_json(folder / "config.json"), tokenizer_json(folder), load_file(str(weights)),
                  _read_json(tc) if tc.is_file() else None, _read_json(conv) if conv.is_file() else None)


def trim_tokenizer_config(tc: dict, table: np.ndarray) -> dict:
    """``tokenizer_config.json`` with its ``added_tokens_decoder`` keys (ids) renumbered through ``table``.

    >>> trim_tokenizer_config({"added_tokens_decoder": {"5": {"content": "[M]"}}}, np.array([0, -1, -1, -1, -1, 1]))
    {'added_tokens_decoder': {'1': {'content': '[M]'}}}
    """
    out = dict(tc)
    dec = tc.get("added_tokens_decoder")
    if isinstance(dec, dict):
        out["added_tokens_decoder"] = {str(int(table[int(k)])): v for k, v in dec.items() if table[int(k)] >= 0}
    return out


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_folder(src: Source, out: Path, config: dict, tokenizer: dict, state: dict, table: np.ndarray) -> None:
    """Write the trimmed model into the (new, empty) folder ``out``: copied files first, then the rewritten ones."""
    from safetensors.numpy import save_file

    out.mkdir(parents=True, exist_ok=True)
    for p in sorted(src.folder.iterdir()):
        if p.name in REWRITTEN or p.name in DROPPED or p.name.startswith("."):
            continue
        if p.is_dir():
            shutil.copytree(p, out / p.name)
        else:
            shutil.copy2(p, out / p.name)
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(out / "model.safetensors"),
              {"format": "pt"})
    _write_json(out / "config.json", config)
    (out / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False) + "\n", encoding="utf-8")
    if src.tokenizer_config is not None:
        _write_json(out / "tokenizer_config.json", trim_tokenizer_config(src.tokenizer_config, table))
    if tokenizer["model"]["type"] == "WordPiece":
        by_id = sorted(tokenizer["model"]["vocab"].items(), key=lambda kv: kv[1])
        (out / "vocab.txt").write_text("".join(t + "\n" for t, _ in by_id), encoding="utf-8")


def folder_bytes(folder: Path, names=("model.safetensors",)) -> int:
    """Total size of the named files in ``folder``."""
    return sum((folder / n).stat().st_size for n in names if (folder / n).is_file())


def normal_permissions(folder: Path) -> None:
    """mkdtemp makes 0700 folders; give the result the usual umask modes."""
    umask = os.umask(0)
    os.umask(umask)
    for p in [folder, *folder.rglob("*")]:
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)
