"""The CLUE model: any HF encoder + the head of the task's kind (kexue.fm/archives/8739, spec §1.2).

| kind      | feature                          | head                         | loss                                 |
|-----------|----------------------------------|------------------------------|--------------------------------------|
| classify  | pooled (default raw last [CLS])  | Dense(C)                     | softmax cross-entropy                |
| choice    | pooled, one row per option       | Dense(1), reshaped (B, K)    | softmax cross-entropy over K options |
| span      | every token (CMRC2018)           | GlobalPointer, 1 head        | cross-entropy over the L×L cells     |
| ner       | every token (CLUENER)            | GlobalPointer, 1 head a type | multilabel categorical cross-entropy |

Segment ids are never passed, so they are all 0 (8739). Dense heads use bert4keras' initializer (truncated
normal, std 0.02, zero bias). GlobalPointer's head size is the backbone's attention head size.

>>> from simlab.clue.model import ClueModel                         # doctest: +SKIP
>>> model = ClueModel(backbone, "classify", num_labels=2)           # doctest: +SKIP
>>> model(input_ids, attention_mask, labels)["loss"]                # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from simlab.clue.common import DEFAULT_POOLING
from simlab.encode.pooling import POOLER_POOLINGS, POOLINGS, pool
from simlab.errors import BadInputError, TrainingError
from simlab.nn.globalpointer import (
    NEG_INF,
    GlobalPointer,
    globalpointer_ner_loss,
    globalpointer_span_crossentropy,
)

_HIDDEN_POOLINGS = ("first-last-avg", "last2avg")  # need every layer's output


def _dense(d_in: int, d_out: int) -> nn.Linear:
    layer = nn.Linear(d_in, d_out)
    nn.init.trunc_normal_(layer.weight, std=0.02, a=-0.04, b=0.04)  # keras TruncatedNormal(0.02): ±2σ
    nn.init.zeros_(layer.bias)
    return layer


class ClueModel(nn.Module):
    """Backbone + head; ``forward`` returns ``{"loss", "logits"}`` as ``Trainer`` expects.

    ``labels``: class index (classify, choice; -100 = none), (start, end) token pair (span), or a (B, H, L, L)
    0/1 tensor (ner). ``span_mask``: (B, L) tokens allowed as span boundaries (span, ner; default the
    attention mask).
    """

    def __init__(self, backbone, kind: str, num_labels: int = 0, pooling: str = DEFAULT_POOLING,
                 heads: int = 1):
        super().__init__()
        if pooling not in POOLINGS:
            raise BadInputError(f"unknown pooling {pooling!r}; choose from {', '.join(POOLINGS)}")
        if pooling in POOLER_POOLINGS and getattr(backbone, "pooler", None) is None:
            raise BadInputError(f"--pooling {pooling}: this checkpoint has no pooler weights")
        if pooling not in POOLER_POOLINGS and getattr(backbone, "pooler", None) is not None:
            backbone.pooler = None  # unused: no gradients, no random weights in the saved model
        cfg = backbone.config
        self.backbone, self.kind, self.pooling = backbone, kind, pooling
        self.num_labels, self.heads = num_labels, heads
        hidden = cfg.hidden_size
        if kind == "classify":
            self.head = _dense(hidden, num_labels)
        elif kind == "choice":
            self.head = _dense(hidden, 1)
        elif kind in ("span", "ner"):
            head_size = hidden // cfg.num_attention_heads
            self.head = GlobalPointer(hidden, heads if kind == "ner" else 1, head_size, use_bias=False)
        else:
            raise ValueError(f"unknown kind {kind!r}")

    # ------------------------------------------------------------------------------------------------ forward
    def _encode(self, input_ids, attention_mask):
        need_all = self.pooling in _HIDDEN_POOLINGS and self.kind in ("classify", "choice")
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=need_all)
        return out

    def forward(self, input_ids, attention_mask, labels=None, span_mask=None):
        choice_shape = None
        if self.kind == "choice":  # (B, K, T) -> (B·K, T)
            choice_shape = input_ids.shape[:2]
            input_ids, attention_mask = input_ids.flatten(0, 1), attention_mask.flatten(0, 1)
        out = self._encode(input_ids, attention_mask)
        if self.kind in ("classify", "choice"):
            hidden = out.hidden_states if out.hidden_states is not None else (out.last_hidden_state,)
            feat = pool(self.pooling, hidden, attention_mask, getattr(self.backbone, "pooler", None))  # (N, D)
            logits = self.head(feat)  # (N, C) or (N, 1)
            if choice_shape is not None:
                logits = logits.view(*choice_shape)  # (B, K)
            loss = None
            if labels is not None and bool((labels >= 0).any()):
                loss = nn.functional.cross_entropy(logits.float(), labels, ignore_index=-100)
            return {"loss": loss, "logits": logits}
        mask = attention_mask if span_mask is None else span_mask
        logits = self.head(out.last_hidden_state, mask)  # (B, H, L, L) float32
        if self.kind == "span":
            logits = logits[:, 0]  # (B, L, L)
            loss = None if labels is None else globalpointer_span_crossentropy(logits, labels[:, 0], labels[:, 1])
        else:
            loss = None if labels is None else globalpointer_ner_loss(logits, labels)
        return {"loss": loss, "logits": logits}

    # ------------------------------------------------------------------------------------------------ decoding
    @torch.no_grad()
    def predict_batch(self, batch: dict) -> list:
        """Compact per-feature outputs: logit rows (classify/choice), ``(score, start, end)`` of the best cell
        outside row/column 0 (span, bert4keras ``cmrc2018.py``), or ``[(head, start, end), ...]`` with
        score > 0 (ner)."""
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        logits = self(**inputs)["logits"].float()
        if self.kind in ("classify", "choice"):
            return list(logits.cpu().numpy())
        if self.kind == "span":
            B, L, _ = logits.shape
            logits = logits.clone()
            logits[:, 0, :] -= NEG_INF
            logits[:, :, 0] -= NEG_INF
            flat = logits.reshape(B, L * L)
            score, idx = flat.max(dim=1)
            return [(float(s), int(i) // L, int(i) % L) for s, i in zip(score.cpu(), idx.cpu())]
        hits = (logits > 0).nonzero().cpu().numpy()  # (n, 4): b, h, start, end
        found = [[] for _ in range(logits.shape[0])]
        for b, h, s, e in hits:
            found[int(b)].append((int(h), int(s), int(e)))
        return found

    # ------------------------------------------------------------------------------------------------ storage
    def save(self, folder: str | Path, tokenizer=None, extra: dict | None = None) -> None:
        """``folder/backbone`` (an ordinary HF model folder, with the tokenizer), ``head.safetensors`` and
        ``clue.json`` (kind, labels count, pooling, heads, plus ``extra``)."""
        from safetensors.torch import save_file
        from transformers.utils import logging as hf_logging

        folder = Path(folder)
        hf_logging.disable_progress_bar()
        try:
            self.backbone.save_pretrained(folder / "backbone")
        finally:
            hf_logging.enable_progress_bar()
        if tokenizer is not None:
            tokenizer.save_pretrained(folder / "backbone")
        head = {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()}
        save_file(head, str(folder / "head.safetensors"))
        meta = {"kind": self.kind, "num_labels": self.num_labels, "pooling": self.pooling, "heads": self.heads,
                **(extra or {})}
        (folder / "clue.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    def load_weights_from(self, folder: str | Path) -> None:
        """Load weights written by :meth:`save` into this (same-shaped) model; a damaged file is one error line."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        folder = Path(folder)

        def load(path: Path) -> dict:
            try:
                return load_file(str(path))
            except (OSError, ValueError, RuntimeError, SafetensorError) as e:
                raise TrainingError(f"{path}: damaged weights ({' '.join(str(e).split())[:120]})") from None

        state = {}
        for shard in sorted((folder / "backbone").glob("*.safetensors")):
            state.update(load(shard))
        missing, unexpected = self.backbone.load_state_dict(state, strict=False)
        bad = [k for k in list(missing) + list(unexpected) if "pooler" not in k]
        if not state or bad:
            raise TrainingError(f"{folder}: backbone weights do not fit this model ({', '.join(bad[:5])})")
        self.head.load_state_dict(load(folder / "head.safetensors"))
