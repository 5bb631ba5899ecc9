"""The data stages of ``simlab pretrain``: corpus pieces -> tokenizer -> packed sequences, in ``OUT/data``.

Each stage records a fingerprint of what it was built from and is reused on a rerun with the same inputs, so
``--resume`` after a kill redoes none of them. A stage file that is missing, damaged (not JSON) or built from other
inputs is rebuilt: these are caches, never user input.

>>> stages = prepare_data(cfg, out / "data")                # doctest: +SKIP
>>> stages.tokenizer, stages.packed["train"]["sequences"]   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from simlab.errors import TrainingError
from simlab.io import atomic_write_json
from simlab.pretrain.config import DEFAULT_CORPUS, PretrainConfig
from simlab.pretrain.corpus import (
    CorpusStats,
    clean_pieces,
    default_sources,
    is_heldout,
    read_texts,
    sts_sentence_keys,
)
from simlab.train.vocab import save_tokenizer


@dataclass
class DataStages:
    """What the data stages produced: corpus counts, the tokenizer, its STS coverage, packed-set counts."""

    corpus: dict
    tokenizer: object
    coverage: dict | None
    packed: dict


def prepare_data(cfg: PretrainConfig, data: Path) -> DataStages:
    """Stages 1-3 for a config whose preset values are filled in (:func:`~simlab.pretrain.config.with_preset`)."""
    corpus = prepare_pieces(cfg, data, max_chars=cfg.max_len - 2)
    tokenizer = prepare_tokenizer(cfg, data)
    coverage = tokenizer_coverage(tokenizer, cfg.data_dir)
    packed = prepare_packed(cfg, data, tokenizer, cfg.max_len)
    return DataStages(corpus, tokenizer, coverage, packed)


def fingerprint(obj) -> str:
    """16 hex digits of the sha256 of ``obj`` as sorted JSON."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached(path: Path, key: str, field: str = "key") -> dict | None:
    """The JSON record at ``path`` when it exists, parses and was built for ``key``; else None (rebuild)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get(field) == key else None


def _corpus_key(data: Path) -> str | None:
    """The fingerprint of the pieces stage (the later stages are keyed on it)."""
    try:
        record = json.loads((data / "corpus_stats.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record.get("fingerprint") if isinstance(record, dict) else None


def _sources(cfg: PretrainConfig) -> list[tuple[str, Path, str, tuple]]:
    """(label, path, format, fields) of each corpus file: zh-default's files present in the data folder, and the
    user's own files (checked to exist by :meth:`PretrainConfig.check`)."""
    from simlab.paths import data_dir as resolve_data

    sources = []
    for item in cfg.corpus:
        if item == DEFAULT_CORPUS:
            root = resolve_data(cfg.data_dir)
            sources += [(str(p.relative_to(root)), p, fmt, fields) for p, fmt, fields in default_sources(root)
                        if p.is_file()]
        else:
            path = Path(item).expanduser()
            sources.append((str(item), path, "auto", (cfg.text_field,)))
    return sources


def _sts_keys(cfg: PretrainConfig) -> set[str]:
    """The STS sentences to keep out of the corpus (required for zh-default; a user's corpus goes unfiltered,
    with one line saying so, when no STS data is around)."""
    try:
        return sts_sentence_keys(cfg.data_dir)
    except FileNotFoundError:
        if DEFAULT_CORPUS in cfg.corpus:
            raise
        print("simlab: STS data not found; corpus not filtered against STS sentences", file=sys.stderr)
        return set()


def prepare_pieces(cfg: PretrainConfig, data: Path, max_chars: int) -> dict:
    """Stage 1: clean corpus pieces into ``data/train.txt`` and ``data/heldout.txt`` (+ corpus_stats.json)."""
    key = fingerprint([cfg.corpus, cfg.text_field, max_chars, cfg.heldout_permille, cfg.limit_texts,
                       cfg.data_dir if DEFAULT_CORPUS in cfg.corpus else None])
    stats_path = data / "corpus_stats.json"
    if (done := cached(stats_path, key, field="fingerprint")) and (data / "train.txt").is_file():
        return done
    sources, sts_keys = _sources(cfg), _sts_keys(cfg)
    stats = CorpusStats()
    for rel, _, _, _ in sources:
        stats.read[rel] += 0
    streams = ((rel, _limited(read_texts(p, fmt, fields), cfg.limit_texts)) for rel, p, fmt, fields in sources)
    data.mkdir(parents=True, exist_ok=True)
    tmp_train, tmp_held = data / ".train.txt.tmp", data / ".heldout.txt.tmp"
    with open(tmp_train, "w", encoding="utf-8") as ft, open(tmp_held, "w", encoding="utf-8") as fh:
        for _, piece in clean_pieces(streams, sts_keys, max_chars, stats):
            if is_heldout(piece, cfg.heldout_permille):
                stats.heldout_pieces += 1
                fh.write(piece + "\n")
            else:
                ft.write(piece + "\n")
    if sum(stats.pieces.values()) == 0:
        raise TrainingError(f"the corpus {' '.join(cfg.corpus)} gave no text to train on")
    if stats.heldout_pieces == 0:
        raise TrainingError(f"the corpus {' '.join(cfg.corpus)} left no held-out piece at --heldout-permille "
                            f"{cfg.heldout_permille}: raise it or give more text")
    os.replace(tmp_train, data / "train.txt")
    os.replace(tmp_held, data / "heldout.txt")
    result = {"fingerprint": key, "sts_sentences_filtered_against": len(sts_keys), **stats.as_dict()}
    atomic_write_json(stats_path, result)
    return result


def _limited(texts, n):
    for i, t in enumerate(texts):
        if n is not None and i >= n:
            return
        yield t


def _lines(path: Path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield line.rstrip("\n")


def init_path(name: str) -> str:
    """The folder or hub id of an ``--init`` model name."""
    from simlab.models.registry import resolve_model

    return resolve_model(name).path_or_id


def prepare_tokenizer(cfg: PretrainConfig, data: Path):
    """Stage 2: the tokenizer: the ``--init`` checkpoint's own, or a char vocabulary built on train pieces."""
    from transformers import AutoTokenizer

    if cfg.init:
        return AutoTokenizer.from_pretrained(init_path(cfg.init))
    folder = data / "tokenizer"
    key = fingerprint([cfg.vocab_size, cfg.min_freq, _corpus_key(data)])
    if cached(folder / "simlab_vocab.json", key) and (folder / "tokenizer.json").is_file():
        return AutoTokenizer.from_pretrained(folder)
    from simlab.train.vocab import build_tokenizer, char_counts

    counts = char_counts(_lines(data / "train.txt"))
    tok = build_tokenizer(_lines(data / "train.txt"), vocab_size=cfg.vocab_size, min_freq=cfg.min_freq, counts=counts)
    tmp = data / ".tokenizer.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    save_tokenizer(tok, tmp)
    atomic_write_json(tmp / "simlab_vocab.json", {"key": key, "vocab_size": len(tok), "min_freq": cfg.min_freq,
                                                  "distinct_chars": len(counts)})
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return AutoTokenizer.from_pretrained(folder)


def tokenizer_coverage(tokenizer, data_dir=None) -> dict | None:
    """Share of the characters of the 5 STS tasks' test sentences that map to ``[UNK]`` (None without data)."""
    from simlab.data import load_split
    from simlab.pretrain.corpus import STS_TASKS
    from simlab.train.vocab import unk_share

    try:
        sents = [s for t in STS_TASKS for ps in [load_split(t, "test", data_dir)] for s in ps.sentences1 + ps.sentences2]
    except FileNotFoundError:
        return None
    return unk_share(tokenizer, sents)


def prepare_packed(cfg: PretrainConfig, data: Path, tokenizer, max_len: int) -> dict:
    """Stage 3: tokenise and pack train and held-out pieces (``data/{train,heldout}.*.npy``)."""
    from simlab.pretrain.packing import write_packed

    first = tokenizer.convert_ids_to_tokens(list(range(min(200, len(tokenizer)))))
    key = fingerprint([max_len, cfg.wwm, len(tokenizer), first, _corpus_key(data)])
    meta_path = data / "packed.json"
    if done := cached(meta_path, key):
        return done
    meta = {"key": key, "max_len": max_len, "wwm": cfg.wwm}
    for split in ("train", "heldout"):
        meta[split] = write_packed(data / split, tokenizer, _lines(data / f"{split}.txt"), max_len, wwm=cfg.wwm)
    atomic_write_json(meta_path, meta)
    return meta
