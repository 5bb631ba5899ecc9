"""SimBERT / RoFormer-Sim: one RoFormer that is a seq2seq paraphraser and a sentence encoder (7427, 8454).

Training rows are ``[CLS] x [SEP] y [SEP]`` under the UniLM mask (:func:`simlab.nn.masks.unilm_mask`), each
paraphrase pair in both orders, adjacent in the batch. Two losses, summed (8454, clue_sim spec §2.1):

* generation: cross-entropy of each target token from the position before it, on segment-1 targets only;
* retrieval: the sentence vector is a *linear* pooler on [CLS] (which, under the UniLM mask, sees only x);
  vectors L2-normalised, the in-batch cosine matrix scaled (20 in RoFormer-Sim ``stage1.py``, 30 in SimBERT),
  its diagonal set to -1e12, and softmax cross-entropy against the partner row ``i ^ 1``.

>>> import torch
>>> v = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
>>> bool(simbert_loss(v, 20.0) > 0)
True
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simlab.generate.backbone import UniLMBackbone
from simlab.generate.masked_forward import roformer_forward
from simlab.generate.text import text_ids, unilm_row
from simlab.nn.masks import unilm_mask

__all__ = ["Seq2SeqSim", "Seq2SeqCollator", "seq2seq_loss", "simbert_loss", "pad_rows"]


def seq2seq_loss(backbone: UniLMBackbone, h: torch.Tensor, input_ids: torch.Tensor, token_type_ids: torch.Tensor,
                 attention_mask: torch.Tensor, from_segment: int | None = None) -> torch.Tensor:
    """Mean cross-entropy of target tokens (segment 1, not padding) predicted from the position before.

    Logits are computed only at those positions (the vocabulary projection is the costly part).
    ``from_segment`` also requires the *predicting* position to be in that segment (UniVAE: 1, so the
    decoder's leading [CLS] is not predicted from the encoder's padding).
    """
    tgt = (token_type_ids[:, 1:] == 1) & attention_mask[:, 1:].bool()  # (B, T-1)
    if from_segment is not None:
        tgt &= token_type_ids[:, :-1] == from_segment
    logits = backbone.logits(h[:, :-1][tgt])  # (N, V)
    return F.cross_entropy(logits.float(), input_ids[:, 1:][tgt])


def simbert_loss(vectors: torch.Tensor, scale: float = 20.0) -> torch.Tensor:
    """In-batch softmax over scaled cosines; row i's positive is row ``i ^ 1`` (SimBERT ``compute_loss_of_similarity``)."""
    v = F.normalize(vectors.float(), dim=-1)  # (B, C)
    sims = v @ v.T * scale  # (B, B)
    sims = sims - torch.eye(len(v), device=v.device) * 1e12
    target = torch.arange(len(v), device=v.device) ^ 1
    return F.cross_entropy(sims, target)


def pad_rows(rows: list[list[int]], pad: int) -> torch.Tensor:
    T = max(len(r) for r in rows)
    return torch.tensor([r + [pad] * (T - len(r)) for r in rows], dtype=torch.long)


class Seq2SeqCollator:
    """Paraphrase pairs -> UniLM batch: ``(a, b)`` gives the rows a→b and b→a, adjacent (partner = i ^ 1)."""

    def __init__(self, tokenizer, max_chars: int = 32):
        self.tok, self.max_chars = tokenizer, max_chars

    def __call__(self, pairs) -> dict[str, torch.Tensor]:
        ids, segs = [], []
        for item in pairs:
            a, b = (item["a"], item["b"]) if isinstance(item, dict) else item
            xa, xb = text_ids(self.tok, a, self.max_chars), text_ids(self.tok, b, self.max_chars)
            for x, y in ((xa, xb), (xb, xa)):
                r, s = unilm_row(self.tok, x, y)
                ids.append(r)
                segs.append(s)
        input_ids = pad_rows(ids, self.tok.pad_token_id)
        return {"input_ids": input_ids, "token_type_ids": pad_rows(segs, 1),
                "attention_mask": pad_rows([[1] * len(r) for r in ids], 0)}


class Seq2SeqSim(nn.Module):
    """UniLM paraphraser + linear-pooler encoder. ``forward(**batch) -> {"loss", "gen_loss", "sim_loss"}``."""

    kind = "seq2seq"

    def __init__(self, backbone: UniLMBackbone, sim_scale: float = 20.0, sim_weight: float = 1.0):
        super().__init__()
        self.backbone = backbone
        C = backbone.config.hidden_size
        self.pooler = nn.Linear(C, C)  # with_pool='linear': Dense on [CLS], no tanh
        nn.init.normal_(self.pooler.weight, std=0.02)
        nn.init.zeros_(self.pooler.bias)
        self.sim_scale, self.sim_weight = float(sim_scale), float(sim_weight)

    def settings(self) -> dict:
        return {"sim_scale": self.sim_scale, "sim_weight": self.sim_weight}

    def extra_state(self) -> dict[str, torch.Tensor]:
        return {f"pooler.{k}": v for k, v in self.pooler.state_dict().items()}

    def load_extra_state(self, sd: dict[str, torch.Tensor]) -> None:
        self.pooler.load_state_dict({k[len("pooler."):]: v for k, v in sd.items() if k.startswith("pooler.")})

    def forward(self, input_ids, token_type_ids, attention_mask, return_loss: bool = True,
                **_) -> dict[str, torch.Tensor]:
        masks = unilm_mask(token_type_ids, attention_mask)  # (B, T, T)
        h, _ = roformer_forward(self.backbone.roformer, input_ids, token_type_ids, masks=masks)  # (B, T, C)
        gen = seq2seq_loss(self.backbone, h, input_ids, token_type_ids, attention_mask)
        out = {"gen_loss": gen.detach()}
        loss = gen
        if self.sim_weight > 0 and len(input_ids) >= 2 and len(input_ids) % 2 == 0:
            sim = simbert_loss(self.pooler(h[:, 0]), self.sim_scale)
            loss = loss + self.sim_weight * sim
            out["sim_loss"] = sim.detach()
        out["loss"] = loss
        return out

    @torch.no_grad()
    def encode(self, tokenizer, texts: list[str], batch_size: int = 64, max_chars: int = 64) -> np.ndarray:
        """L2-normalised sentence vectors (N, C) as float32 numpy: pooler([CLS]) of ``[CLS] x [SEP]``."""
        was = self.training
        self.eval()
        out = []
        for i in range(0, len(texts), batch_size):
            rows = [[tokenizer.cls_token_id] + text_ids(tokenizer, t, max_chars) + [tokenizer.sep_token_id]
                    for t in texts[i:i + batch_size]]
            ids = pad_rows(rows, tokenizer.pad_token_id)
            att = pad_rows([[1] * len(r) for r in rows], 0)
            dev = self.pooler.weight.device
            masks = unilm_mask(torch.zeros_like(ids), att).to(dev)
            h, _ = roformer_forward(self.backbone.roformer, ids.to(dev), torch.zeros_like(ids).to(dev), masks=masks)
            out.append(F.normalize(self.pooler(h[:, 0]).float(), dim=-1).cpu().numpy())
        self.train(was)
        return np.concatenate(out) if out else np.zeros((0, self.backbone.config.hidden_size), np.float32)
