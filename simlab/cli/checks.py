"""Option checks shared by the evaluation-side commands (``eval``, ``grid``, ``whiten``, ``encode``, ``index build``,
``search``, ``export``), run before anything heavy loads so a mistake costs a second, not a model load (issue 21).

Each raises :class:`~simlab.errors.BadInputError` (one ``simlab: error:`` line, exit 2) naming the option as the
user spelled it.

>>> import argparse
>>> check_positive(argparse.Namespace(batch_size=0), "batch_size")
Traceback (most recent call last):
...
simlab.errors.BadInputError: --batch-size must be ≥ 1, got 0
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from simlab.errors import BadInputError


def flag(name: str) -> str:
    """``batch_size`` → ``--batch-size``."""
    return "--" + name.replace("_", "-")


def check_positive(args, *names: str) -> None:
    """Every option in ``names`` that was given (not None) is ≥ 1 (the recipes' range check,
    :func:`simlab.config.check_value`)."""
    from simlab.config import check_value

    for name in names:
        check_value(flag(name), getattr(args, name, None), {"ge": 1})


def check_k_kept(white, k: int | None, path) -> None:
    """``--k`` against a loaded whitening: ≤ d (naming d) and ≤ the dimensions the file keeps."""
    if k is None:
        return
    from simlab.whitening import check_k

    check_k(k, white.n_features_in_, "--k", str(path))  # k > d names d
    if k > white.n_components_:
        raise BadInputError(f"--k {k}: {path} keeps {white.n_components_} of {white.n_features_in_} dimensions; "
                            f"choose --k ≤ {white.n_components_}")


def check_pooling(pooling: str, option: str = "--pooling") -> str:
    """A pooling simlab knows (whether the model has it, e.g. a pooler, is checked once it loads)."""
    from simlab.encode import POOLINGS

    if pooling not in POOLINGS:
        raise BadInputError(f"{option} {pooling!r}: unknown pooling; choose from {', '.join(POOLINGS)}")
    return pooling


def model_folder(model: str | None) -> Path | None:
    """The local folder ``--model`` names (None for a short name or a hub id): a folder the command reads from."""
    if model and Path(model).expanduser().is_dir():
        return Path(model).expanduser()
    return None


def local_identity(model: str | None) -> str | None:
    """``name@weights-hash`` of a local model folder without loading it (None when not a folder or unreadable;
    the model load then says what is wrong). Equals the loaded encoder's ``identity``."""
    folder = model_folder(model)
    if folder is None:
        return None
    from simlab.encode.identity import cached_weights_hash, weight_files

    try:
        if not weight_files(folder):
            return None
        return f"{Path(model).name}@{cached_weights_hash(str(folder))}"
    except OSError:
        return None


def check_input_file(path, what: str, hint: str = "") -> None:
    """A file the command reads: missing is MissingFileError, a folder is BadInputError (both name it)."""
    from simlab.errors import MissingFileError

    p = Path(path).expanduser()
    if p.is_dir():
        raise BadInputError(f"{what} {path} is a folder, not a file{hint}")
    if not p.is_file():
        raise MissingFileError(f"{what} {path} does not exist{hint}")


def local_config(model: str | None) -> dict:
    """The ``config.json`` of a local model folder, or {} (not a folder, or unreadable: the load names it)."""
    import json

    folder = model_folder(model)
    if folder is None:
        return {}
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def check_model_fit(model: str | None, max_length: int | None = None, k: int | None = None) -> None:
    """Before a local model loads: ``--max-length`` within its position table and ``--k`` ≤ its hidden size d,
    read from its config.json (a short name or hub id is checked by :func:`check_encoder_fit` once loaded)."""
    config = local_config(model)
    positions, d = config.get("max_position_embeddings"), config.get("hidden_size")
    if isinstance(positions, int) and max_length is not None and max_length > positions:
        raise BadInputError(f"--max-length {max_length}: {model} takes at most {positions} tokens "
                            "(max_position_embeddings in its config.json)")
    if isinstance(d, int) and k is not None:
        from simlab.whitening import check_k

        check_k(k, d, "--k", str(model))


def check_encoder_fit(encoder, option: str = "--max-length") -> None:
    """Once loaded: the encoder's max length within the model's position table (longer inputs would crash)."""
    config = getattr(getattr(encoder, "model", None), "config", None)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and encoder.max_length > positions:
        raise BadInputError(f"{option} {encoder.max_length}: {encoder.name} takes at most {positions} tokens "
                            "(max_position_embeddings)")


def check_output_file(out: str | os.PathLike, reads=(), *, what: str, is_own=None, overwrite: bool | None = None,
                      option: str = "--out") -> Path:
    """Refuse an output FILE that would damage something: a folder, a file the command reads (or one inside a
    folder it reads, e.g. the model's), or an existing file that ``is_own(path)`` does not recognise as a
    ``what``. With ``overwrite`` False (the command has an ``--overwrite`` flag that was not given) any
    existing file is refused."""
    from simlab.outdir import overlaps

    out = Path(out).expanduser()
    if out.is_dir():
        raise BadInputError(f"{option} {out}: is a folder; give the path of the {what} to write")
    for src in reads:
        if src is not None and Path(src).expanduser().exists() and overlaps(out, src):
            raise BadInputError(f"{option} {out}: this path overlaps {src}, which this command reads from; "
                                "choose another output path")
    if out.exists():
        if is_own is not None and not is_own(out):
            raise BadInputError(f"{option} {out}: exists and is not a {what}; choose another path")
        if overwrite is False:
            raise BadInputError(f"{option} {out}: exists; add --overwrite to replace it, or choose another path")
    return out


def warn(message: str) -> None:
    """One ``simlab: warning:`` line on stderr."""
    print(f"simlab: warning: {' '.join(message.split())}", file=sys.stderr)


def check_not_reading(out: str | os.PathLike, reads=(), option: str = "--out") -> None:
    """Refuse an output folder that is (or is inside) something the command reads, or is a file. For commands
    that add their own files to ``out`` (eval, grid): a folder that merely holds the model is fine."""
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise BadInputError(f"{option} {out}: exists and is not a folder")
    for src in reads:
        if src is None or not Path(src).expanduser().exists():
            continue
        a, b = out.resolve(), Path(src).expanduser().resolve()
        if a == b or b in a.parents:
            raise BadInputError(f"{option} {out}: this folder overlaps {src}, which this command reads from; "
                                "choose another output folder")


def check_scoring_options(args, models=()) -> None:
    """``simlab eval`` / ``simlab grid``: numbers, a ``--fit-on`` file (read now: a missing, empty or non-UTF-8
    file is named before any model loads) and ``--out`` (never a model folder or the fit file)."""
    check_positive(args, "batch_size", "max_length", "threads", "k")
    for model in models:
        check_model_fit(model, getattr(args, "max_length", None), getattr(args, "k", None))
    fit_file = None
    if str(args.fit_on).strip().lower() not in ("all", "test", "train"):
        from simlab.data.readers import read_sentence_file
        from simlab.errors import DataError, MissingFileError

        fit_file = Path(args.fit_on)
        if not fit_file.is_file():
            raise MissingFileError(f"--fit-on {args.fit_on}: not all, test or train, and no such file (a UTF-8 text "
                                   "file, one sentence per line)")
        if not read_sentence_file(fit_file)[0]:
            raise DataError(f"--fit-on {fit_file}: the file has no sentences")
    check_not_reading(args.out, [fit_file, *(model_folder(m) for m in models)])
