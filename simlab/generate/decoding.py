"""Autoregressive decoding over a step function: top-p sampling, greedy and beam search.

A *step function* ``step(state, tokens) -> (logits, state)`` feeds the last chosen token of every row
(``tokens`` (B,)) and returns the next-token logits (B, V); ``state`` is anything with ``select(index)``
(e.g. :class:`simlab.generate.masked_forward.KVCache`), so rows can be dropped, repeated and reordered.
Decoding starts from ``logits0`` (B, V) and ``state0`` that the caller made from the prompt (for UniLM: one
pass over ``[CLS] x [SEP]``; kexue.fm/archives/7427, 8454).

* top-p (nucleus) sampling (Holtzman et al. 2020; RoFormer-Sim samples with p = 0.95): keep the smallest set
  of most likely tokens whose mass reaches p, renormalise, sample.
* greedy: argmax each step.
* beam search: keep the ``beam`` best partial sequences by summed log-probability; a hypothesis that emits
  ``end_id`` is finished. Since log-probabilities are <= 0, extending never raises a score, so decoding stops
  once the best finished score is at least the best live one (the result is then exact for that beam).

>>> import torch
>>> [round(p, 6) for p in top_p_filter(torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])), 0.8).exp()[0].tolist()]
[0.5, 0.3, 0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["top_p_filter", "sample", "greedy", "beam_search", "Hypothesis"]

Step = Callable[[Any, torch.Tensor], tuple[torch.Tensor, Any]]


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Logits (…, V) with everything outside the top-p nucleus set to -inf (the top token is always kept)."""
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if top_p >= 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(-1)
    mass_before = probs.cumsum(-1) - probs  # mass of strictly more likely tokens
    drop_sorted = mass_before >= top_p  # the first token has mass_before 0 and is kept
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def _finish_rows(seqs: list[list[int]], end_id: int | None) -> list[list[int]]:
    return [s[:-1] if end_id is not None and s and s[-1] == end_id else s for s in seqs]


def sample(step: Step, logits0: torch.Tensor, state0, max_len: int, end_id: int | None, *, top_p: float = 0.95,
           temperature: float = 1.0, generator: torch.Generator | None = None,
           banned: list[int] | None = None) -> list[list[int]]:
    """One sampled sequence per row of ``logits0`` (without the end token). Finished rows leave the batch."""
    return _run(step, logits0, state0, max_len, end_id, banned,
                lambda lg: torch.multinomial(top_p_filter(lg / temperature, top_p).softmax(-1), 1,
                                             generator=generator)[:, 0])


def greedy(step: Step, logits0: torch.Tensor, state0, max_len: int, end_id: int | None,
           banned: list[int] | None = None) -> list[list[int]]:
    """Argmax decoding, one sequence per row of ``logits0`` (deterministic; ties -> lowest id)."""
    return _run(step, logits0, state0, max_len, end_id, banned, lambda lg: lg.argmax(-1))


def _run(step, logits, state, max_len, end_id, banned, choose) -> list[list[int]]:
    B = logits.shape[0]
    out: list[list[int]] = [[] for _ in range(B)]
    alive = torch.arange(B)
    for t in range(max_len):
        logits = logits.float()
        if banned:
            logits = logits.clone()
            logits[:, banned] = float("-inf")
        tok = choose(logits).cpu()  # (b,)
        for r, k in zip(alive.tolist(), tok.tolist()):
            out[r].append(k)
        keep = torch.ones_like(tok, dtype=torch.bool) if end_id is None else tok != end_id
        if t == max_len - 1 or not keep.any():
            break
        if not keep.all():
            idx = keep.nonzero()[:, 0]
            alive, tok = alive[idx], tok[idx]
            state = state.select(idx.to(_device(state)))
        logits, state = step(state, tok.to(_device(state)))
    return _finish_rows(out, end_id)


def _device(state) -> torch.device:
    return getattr(state, "device", None) or getattr(getattr(state, "positions", None), "device", torch.device("cpu"))


@dataclass
class Hypothesis:
    tokens: list[int]  # without the end token
    score: float  # summed log-probability (the end token's included when finished)
    finished: bool


def beam_search(step: Step, logits0: torch.Tensor, state0, max_len: int, end_id: int | None, beam: int = 4,
                banned: list[int] | None = None) -> list[Hypothesis]:
    """Beam search from one prompt (``logits0`` (1, V)); hypotheses best first.

    A hypothesis ends when it emits ``end_id`` or reaches ``max_len`` tokens. Scores are summed
    log-probabilities without length normalisation (as bert4keras' ``beam_search``).
    """
    if logits0.shape[0] != 1:
        raise ValueError(f"beam_search decodes one prompt; logits0 has {logits0.shape[0]} rows")
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    seqs: list[list[int]] = [[]]
    scores = torch.zeros(1, dtype=torch.float64)
    finished: list[Hypothesis] = []
    logits, state = logits0, state0
    for t in range(max_len):
        logp = torch.log_softmax(logits.double(), -1).cpu()  # (K, V)
        if banned:
            logp[:, banned] = float("-inf")
        V = logp.shape[1]
        cand = (scores[:, None] + logp).flatten()  # (K·V,)
        k = min(beam, int(torch.isfinite(cand).sum()))
        top_scores, top_idx = cand.topk(k)
        parents, toks, new_scores, new_seqs = [], [], [], []
        for s, i in zip(top_scores.tolist(), top_idx.tolist()):
            p, tok = divmod(i, V)
            if end_id is not None and tok == end_id:
                finished.append(Hypothesis(seqs[p], s, True))
            elif t == max_len - 1:
                finished.append(Hypothesis(seqs[p] + [tok], s, False))
            else:
                parents.append(p)
                toks.append(tok)
                new_scores.append(s)
                new_seqs.append(seqs[p] + [tok])
        if not parents:
            break
        best_done = max((h.score for h in finished), default=float("-inf"))
        if best_done >= max(new_scores):
            break  # no live hypothesis can overtake a finished one
        seqs, scores = new_seqs, torch.tensor(new_scores, dtype=torch.float64)
        dev = _device(state)
        state = state.select(torch.tensor(parents, device=dev))
        logits, state = step(state, torch.tensor(toks, device=dev))
    return sorted(finished, key=lambda h: -h.score)
