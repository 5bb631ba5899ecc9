"""Evaluation protocols: how each task is encoded and scored. One table per protocol, nothing scattered.

``study`` (the default) is kexue.fm/archives/8321 as bojone/BERT-whitening ``chn/eval.py`` runs it: no prompt, each
task's own max length (64; PAWSX 128), every split in the data folder loaded (whitening fits on all of them),
first-last-avg with ``none,full,256`` whitening.

``cmteb`` is C-MTEB's STS protocol (FlagEmbedding ``research/C_MTEB``, the table of ``../shared/specs/cmteb.md``;
mteb's ``AbsTaskSTS``):

- the model's own prompt before BOTH sentences: e5's ``query: `` (its model card: "use the query: prefix for
  symmetric tasks such as semantic similarity"); a model without prompts gets none;
- the model's maximum length, as sentence-transformers (and so mteb) truncates: ``max_seq_length`` of
  ``sentence_bert_config.json``, else min(``max_position_embeddings``, the tokenizer's ``model_max_length``);
- only C-MTEB's scored split is read: test, AFQMC validation (simlab's ``valid``);
- the model's own pooling (sentence-transformers' ``1_Pooling``; mean = ``last-avg``, which is also what
  sentence-transformers puts on a plain transformers folder) and no whitening, unless asked.

An explicit ``--prefix`` / ``--max-length`` / ``--pooling`` / ``--whiten`` / ``--split`` overrides the protocol.

>>> PROTOCOLS["cmteb"].splits_for("AFQMC"), PROTOCOLS["cmteb"].splits_for("ATEC"), PROTOCOLS["study"].splits_for("ATEC")
(('valid',), ('test',), None)
>>> prompt_text(PROTOCOLS["cmteb"], {"query": "query: ", "passage": "passage: "}), prompt_text(PROTOCOLS["study"], {"query": "q"})
('query: ', '')
>>> st_max_length(None, 514, 512), st_max_length(256, 512, 10**30), st_max_length(None, 64, 10**30)
(512, 256, 64)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from simlab.errors import BadInputError


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol (see the module docstring for the two that exist)."""

    name: str
    prompt: str | None  # the role of the model's prompts put before both sentences; None = no prompt
    max_length: str  # "task" = TaskSpec.max_length; "model" = the model's maximum (sentence-transformers' rule)
    splits: str  # "all" = every split in the data folder; "scored" = only the split scored (mteb's eval split)
    pooling: str  # default pooling(s): names for --pooling, or "model" = the model's own (sentence-transformers)
    whiten: str  # default --whiten
    source: str
    scored_splits: Mapping[str, str] = field(default_factory=dict)  # task -> scored split where not TaskSpec's

    def eval_split(self, task: str, split: str | None = None) -> str:
        """The split scored for ``task`` (simlab's split names: ``valid`` is mteb's ``validation``); an explicit
        ``split`` (``--split``) wins."""
        from simlab.data import get_task

        spec = get_task(task)
        return split or self.scored_splits.get(spec.name, spec.eval_split)

    def splits_for(self, task: str, split: str | None = None) -> tuple[str, ...] | None:
        """The splits to read for ``task``; None = every split the data folder has (TaskSpec.splits)."""
        return (self.eval_split(task, split),) if self.splits == "scored" else None


PROTOCOLS: dict[str, Protocol] = {
    "study": Protocol("study", prompt=None, max_length="task", splits="all", pooling="first-last-avg",
                      whiten="none,full,256", source="kexue.fm/archives/8321; bojone/BERT-whitening chn/eval.py"),
    "cmteb": Protocol("cmteb", prompt="query", max_length="model", splits="scored", pooling="model", whiten="none",
                      scored_splits={"AFQMC": "valid"},
                      source="C-MTEB STS (FlagEmbedding research/C_MTEB; mteb AbsTaskSTS, cosine Spearman)"),
}


def get_protocol(name: str) -> Protocol:
    """The :class:`Protocol` called ``name`` (``study`` | ``cmteb``); BadInputError naming the choices otherwise."""
    key = (name or "study").strip().lower()
    if key not in PROTOCOLS:
        raise BadInputError(f"unknown protocol {name!r}: choose from {', '.join(PROTOCOLS)}")
    return PROTOCOLS[key]


def prompt_text(protocol: Protocol, prompts: Mapping[str, str]) -> str:
    """The text put before every sentence: the model's prompt for the protocol's role, "" if it has none."""
    return "" if protocol.prompt is None else str(prompts.get(protocol.prompt) or "")


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_prompts(path: str, registry_prompts: Mapping[str, str] | None = None) -> dict[str, str]:
    """A model's own prompts by role: simlab's registry entry (e5-small: query / passage), else the ``prompts`` of
    the folder's ``config_sentence_transformers.json`` (where mteb's SentenceTransformer wrapper reads them)."""
    if registry_prompts:
        return dict(registry_prompts)
    prompts = _read(Path(path) / "config_sentence_transformers.json").get("prompts") or {}
    return {str(k): str(v) for k, v in prompts.items() if isinstance(v, str) and v}


def st_max_length(st_max_seq_length: int | None, positions: int | None, tokenizer_limit: int | None) -> int:
    """sentence-transformers' truncation length (``models.Transformer``): ``max_seq_length`` of
    ``sentence_bert_config.json`` when given, else min(``max_position_embeddings``, ``model_max_length``).

    A tokenizer without a real limit reports ~1e30; RoBERTa-style models (514 positions) have 512 there."""
    if st_max_seq_length:
        return int(st_max_seq_length)
    limits = [int(x) for x in (positions, tokenizer_limit) if x and 0 < x < 1_000_000]
    if not limits:
        raise BadInputError("the model states no maximum length (no max_position_embeddings, no model_max_length): "
                            "give --max-length")
    return min(limits)


def model_max_length(encoder) -> int:
    """The maximum length of ``encoder``'s model (:func:`st_max_length`), from its folder's config files, or from
    the loaded tokenizer and config for a hub id (an :class:`~simlab.encode.Encoder` or the grid's LazyEncoder)."""
    folder = Path(encoder.path)
    if (folder / "config.json").is_file():
        tok = _read(folder / "tokenizer_config.json").get("model_max_length")
        return st_max_length(_read(folder / "sentence_bert_config.json").get("max_seq_length"),
                             _read(folder / "config.json").get("max_position_embeddings"),
                             tok if isinstance(tok, (int, float)) else None)
    enc = encoder.load() if hasattr(encoder, "load") else encoder
    return st_max_length(None, getattr(enc.model.config, "max_position_embeddings", None),
                         getattr(enc.tokenizer, "model_max_length", None))


# sentence-transformers Pooling modes -> simlab poolings (simlab.encode.pooling): the mean over the last layer's
# tokens (attention mask, special tokens included) is last-avg; the first token of the last layer is cls
_ST_POOLING = {"pooling_mode_mean_tokens": "last-avg", "pooling_mode_cls_token": "cls"}


def model_pooling(path: str) -> str:
    """The model's own pooling: its sentence-transformers ``1_Pooling`` (mean -> ``last-avg``, cls -> ``cls``), and
    ``last-avg`` for a plain transformers folder (what sentence-transformers, hence mteb, wraps it with).
    A pooling simlab does not have (max, mean-sqrt-len, weighted mean) is a BadInputError: pass --pooling."""
    folder = Path(path)
    modules = _read_list(folder / "modules.json")
    pool_dirs = [m.get("path", "") for m in modules if str(m.get("type", "")).endswith("models.Pooling")]
    if not pool_dirs:
        return "last-avg"
    cfg = _read(folder / pool_dirs[0] / "config.json")
    on = [k for k, v in cfg.items() if k.startswith("pooling_mode") and v is True]
    if len(on) == 1 and on[0] in _ST_POOLING:
        return _ST_POOLING[on[0]]
    raise BadInputError(f"{folder / pool_dirs[0] / 'config.json'}: pooling {', '.join(on) or 'none'} has no simlab "
                        f"equivalent; pass --pooling")


def _read_list(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []
