"""The decoding step of a UniLM-style model with a KV cache (one new token per row per call).

Every new token is a target-side token (segment 1). Under the UniLM mask it may see the whole cached
prompt and the earlier target tokens, i.e. every cached column, so no mask is needed. UniVAE's lower
("independent") layers hide the encoder's column 0 from the decoder (kexue.fm/archives/8475); pass those
layer indices as ``hide_first``.

Cost: each step runs one token through the layers against S cached keys, O(S) per step, instead of
re-running all S + 1 tokens (O(S²) attention per step without the cache).

>>> import torch
>>> from simlab.generate.backbone import UniLMBackbone
>>> bb = UniLMBackbone.new(vocab_size=30, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
...                        intermediate_size=32).eval()
>>> logits0, state = start(bb, torch.tensor([[2, 7, 9, 3]]), torch.zeros(1, 4, dtype=torch.long))
>>> logits1, state = make_step(bb)(state, torch.tensor([5]))
>>> logits1.shape, state.cache.length
(torch.Size([1, 30]), 5)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from simlab.generate.backbone import UniLMBackbone
from simlab.generate.masked_forward import KVCache, roformer_forward

__all__ = ["DecodeState", "start", "make_step"]


@dataclass
class DecodeState:
    """The KV cache and the RoPE position of each row's next token (B,)."""

    cache: KVCache
    next_pos: torch.Tensor

    @property
    def device(self) -> torch.device:
        return self.next_pos.device

    def select(self, index: torch.Tensor) -> DecodeState:
        return DecodeState(self.cache.select(index), self.next_pos.index_select(0, index))

    def repeat_interleave(self, n: int) -> DecodeState:
        idx = torch.arange(len(self.next_pos), device=self.device).repeat_interleave(n)
        return self.select(idx)


@torch.no_grad()
def start(backbone: UniLMBackbone, prompt_ids: torch.Tensor, prompt_segments: torch.Tensor,
          masks=None, positions: torch.Tensor | None = None, hook=None,
          next_pos: torch.Tensor | None = None) -> tuple[torch.Tensor, DecodeState]:
    """Run the prompt once (all layers, its own mask); returns the next-token logits (B, V) from its last
    position and the state. ``next_pos`` defaults to one past the last prompt position."""
    h, cache = roformer_forward(backbone.roformer, prompt_ids, prompt_segments, positions=positions, masks=masks,
                                hook=hook)
    if next_pos is None:
        next_pos = cache.positions[:, -1] + 1
    return backbone.logits(h[:, -1]), DecodeState(cache, next_pos)


def make_step(backbone: UniLMBackbone, hide_first: Iterable[int] = (), segment: int = 1):
    """``step(state, tokens (B,)) -> (logits (B, V), state)`` for :mod:`simlab.generate.decoding`."""
    hide = frozenset(hide_first)
    n_layers = backbone.config.num_hidden_layers

    @torch.no_grad()
    def step(state: DecodeState, tokens: torch.Tensor) -> tuple[torch.Tensor, DecodeState]:
        B, S = tokens.shape[0], state.cache.length
        masks = None
        if hide:
            m = torch.ones(B, 1, S + 1, dtype=torch.bool, device=tokens.device)  # (B, 1, S + 1)
            m[:, :, 0] = False
            masks = [m if l in hide else None for l in range(n_layers)]
        ids = tokens.view(B, 1)
        h, cache = roformer_forward(backbone.roformer, ids, torch.full_like(ids, segment),
                                    positions=state.next_pos.view(B, 1), masks=masks, cache=state.cache)
        return backbone.logits(h[:, -1]), DecodeState(cache, state.next_pos + 1)

    return step
