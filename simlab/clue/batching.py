"""Padding features into batches, and the prediction loop every task shares.

A feature is a dict: ``input_ids`` (a list of ids, or for multiple choice one list per option), ``labels``
(class index, ``[start, end]``, or ``[(type, start, end), ...]`` for NER), and for CMRC2018 a ``span_mask``
(which tokens may bound an answer). bert4keras ``sequence_padding`` pads each batch to its longest row; so
does :class:`Collator`.

>>> c = Collator(pad_id=0, kind="classify")
>>> b = c([{"input_ids": [5, 6, 7], "labels": 1}, {"input_ids": [5, 6], "labels": 0}])
>>> b["input_ids"].tolist(), b["attention_mask"].tolist(), b["labels"].tolist()
([[5, 6, 7], [5, 6, 0]], [[1, 1, 1], [1, 1, 0]], [1, 0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def _pad(rows: list[list[int]], value: int, length: int | None = None) -> torch.Tensor:
    length = length or max(len(r) for r in rows)
    out = torch.full((len(rows), length), value, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.as_tensor(r, dtype=torch.long)
    return out


@dataclass
class Collator:
    """``Trainer``'s ``data_collator``: pad ids, build masks and label tensors for one task kind."""

    pad_id: int
    kind: str
    heads: int = 1

    def __call__(self, features: list[dict]) -> dict:
        if self.kind == "choice":
            K = len(features[0]["input_ids"])
            T = max(len(opt) for f in features for opt in f["input_ids"])
            ids = torch.stack([_pad(f["input_ids"], self.pad_id, T) for f in features])  # (B, K, T)
            mask = torch.stack([_pad([[1] * len(o) for o in f["input_ids"]], 0, T) for f in features])  # (B, K, T)
            batch = {"input_ids": ids, "attention_mask": mask}
            assert ids.shape[1] == K
        else:
            batch = {"input_ids": _pad([f["input_ids"] for f in features], self.pad_id),
                     "attention_mask": _pad([[1] * len(f["input_ids"]) for f in features], 0)}  # (B, T)
        if "span_mask" in features[0]:
            batch["span_mask"] = _pad([f["span_mask"] for f in features], 0, batch["input_ids"].shape[-1])
        if "labels" in features[0]:
            batch["labels"] = self._labels(features, batch["input_ids"].shape[-1])
        return batch

    def _labels(self, features: list[dict], T: int) -> torch.Tensor:
        if self.kind in ("classify", "choice"):
            return torch.tensor([int(f["labels"]) for f in features], dtype=torch.long)  # (B,)
        if self.kind == "span":
            return torch.tensor([list(f["labels"]) for f in features], dtype=torch.long)  # (B, 2)
        dense = torch.zeros(len(features), self.heads, T, T)  # (B, H, L, L) 0/1 targets
        for b, f in enumerate(features):
            for h, s, e in f["labels"]:
                dense[b, h, s, e] = 1.0
        return dense


def feature_length(f: dict) -> int:
    ids = f["input_ids"]
    return max(len(o) for o in ids) if ids and isinstance(ids[0], list) else len(ids)


def predict(model, features: list[dict], collator: Collator, batch_size: int, device=None) -> list:
    """``model.predict_batch`` over ``features`` in batches of similar length; outputs in input order.

    Runs in eval mode without gradients and restores the model's previous mode.
    """
    device = device or next(model.parameters()).device
    order = np.argsort([feature_length(f) for f in features], kind="stable")
    outputs: list = [None] * len(features)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                batch = collator([{k: v for k, v in features[i].items() if k != "labels"} for i in idx])
                batch = {k: v.to(device) for k, v in batch.items()}
                for i, out in zip(idx, model.predict_batch(batch)):
                    outputs[int(i)] = out
    finally:
        model.train(was_training)
    return outputs
