"""Masked-language-model masking (BERT, arXiv 1810.04805 §3.1 and appendix A.1) and the batch collator.

15 % of the non-special tokens are chosen; of those 80 % become ``[MASK]``, 10 % a random token, 10 % stay.
With whole-word masking (the Chinese wwm BERTs, arXiv 1906.08101) whole jieba words are chosen until about
15 % of the tokens are covered, then each chosen token gets the same 80/10/10 treatment.
Labels are the original ids at chosen positions and -100 elsewhere (ignored by the loss).

>>> import torch
>>> ids = torch.tensor([[2, 10, 11, 12, 3, 0]])
>>> special = torch.tensor([[True, False, False, False, True, True]])
>>> inputs, labels = mask_tokens(ids, special, mask_id=4, vocab_size=20, mlm_prob=1.0,
...                              generator=torch.Generator().manual_seed(0))
>>> labels.tolist()
[[-100, 10, 11, 12, -100, -100]]
"""

from __future__ import annotations

import torch


def whole_word_selection(word_starts: torch.Tensor, special: torch.Tensor, mlm_prob: float,
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """Boolean (B, T): whole words (runs beginning at ``word_starts == 1``) chosen in random order until
    ``round(mlm_prob * candidates)`` tokens are covered (at least one word); words that would overshoot are
    skipped, as in the reference wwm implementation."""
    B, T = word_starts.shape
    chosen = torch.zeros(B, T, dtype=torch.bool)
    for b in range(B):
        words: list[list[int]] = []
        for t in range(T):
            if special[b, t]:
                continue
            if word_starts[b, t] or not words or special[b, t - 1]:
                words.append([t])
            else:
                words[-1].append(t)
        n_cand = sum(len(w) for w in words)
        if not n_cand:
            continue
        target = max(1, round(mlm_prob * n_cand))
        covered = 0
        for i in torch.randperm(len(words), generator=generator).tolist():
            if covered >= target:
                break
            if covered + len(words[i]) > target and covered > 0:
                continue
            chosen[b, words[i]] = True
            covered += len(words[i])
    return chosen


def mask_tokens(input_ids: torch.Tensor, special: torch.Tensor, mask_id: int, vocab_size: int,
                mlm_prob: float = 0.15, word_starts: torch.Tensor | None = None,
                generator: torch.Generator | None = None, random_low: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, labels)`` for MLM. ``special`` (B, T) marks tokens never masked ([CLS], [SEP], [PAD]).

    Random replacements are drawn uniformly from ``[random_low, vocab_size)``.
    """
    if word_starts is None:
        prob = torch.full(input_ids.shape, mlm_prob)
        prob.masked_fill_(special, 0.0)
        chosen = torch.bernoulli(prob, generator=generator).bool()
    else:
        chosen = whole_word_selection(word_starts, special, mlm_prob, generator)
    labels = input_ids.masked_fill(~chosen, -100)
    inputs = input_ids.clone()
    to_mask = torch.bernoulli(torch.full(input_ids.shape, 0.8), generator=generator).bool() & chosen
    to_random = torch.bernoulli(torch.full(input_ids.shape, 0.5), generator=generator).bool() & chosen & ~to_mask
    inputs[to_mask] = mask_id
    random_ids = torch.randint(random_low, vocab_size, input_ids.shape, generator=generator)
    inputs[to_random] = random_ids[to_random]
    return inputs, labels


def example_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed for the mask of sequence ``index`` in ``epoch`` (splitmix64-style mixing)."""
    x = (seed * 0x9E3779B97F4A7C15 + epoch * 0xBF58476D1CE4E5B9 + index * 0x94D049BB133111EB) & (2**64 - 1)
    x ^= x >> 31
    x = (x * 0xD6E8FEB86659FD93) & (2**64 - 1)
    return (x ^ (x >> 32)) & (2**63 - 1)


class MLMCollator:
    """Pads a list of ``{"input_ids"[, "word_starts"][, "labels"][, "idx"]}`` and masks it.

    Items that already carry ``labels`` (the fixed, pre-masked held-out set) are only padded. With ``seed`` set
    and items carrying their dataset index ``idx``, each sequence's mask is a pure function of
    (seed, epoch, index): the same whatever the batch, the process, or a resume in between. (Trainer restores
    its RNG state on resume only *after* prefetching the first batch, so masks drawn from the global RNG would
    differ for that batch; ``epoch_fn`` reports the current epoch, e.g. ``lambda: int(trainer.state.epoch)``.)
    Without them, masking draws from torch's global RNG.
    """

    def __init__(self, tokenizer, mlm_prob: float = 0.15, wwm: bool = False, seed: int | None = None,
                 epoch_fn=None):
        self.seed = seed
        self.epoch_fn = epoch_fn or (lambda: 0)
        self.pad_id = tokenizer.pad_token_id
        self.mask_id = tokenizer.mask_token_id
        self.vocab_size = len(tokenizer)
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)))
        self.mlm_prob = mlm_prob
        self.wwm = wwm

    def pad(self, seqs: list[torch.Tensor], value: int) -> torch.Tensor:
        T = max(len(s) for s in seqs)
        out = torch.full((len(seqs), T), value, dtype=torch.long)
        for i, s in enumerate(seqs):
            out[i, : len(s)] = s
        return out

    def __call__(self, features: list[dict]) -> dict:
        ids = self.pad([f["input_ids"] for f in features], self.pad_id)  # (B, T)
        attention = self.pad([torch.ones(len(f["input_ids"]), dtype=torch.long) for f in features], 0)
        if "labels" in features[0]:
            inputs, labels = ids, self.pad([f["labels"] for f in features], -100)
        else:
            special = torch.isin(ids, self.special_ids) | (attention == 0)
            starts = self.pad([f["word_starts"] for f in features], 1) if self.wwm and "word_starts" in features[0] else None
            if self.seed is not None and "idx" in features[0]:
                epoch = int(self.epoch_fn())
                rows = [mask_tokens(ids[b:b + 1], special[b:b + 1], self.mask_id, self.vocab_size, self.mlm_prob,
                                    None if starts is None else starts[b:b + 1],
                                    generator=torch.Generator().manual_seed(example_seed(self.seed, epoch, int(f["idx"]))))
                        for b, f in enumerate(features)]
                inputs, labels = torch.cat([r[0] for r in rows]), torch.cat([r[1] for r in rows])
            else:
                inputs, labels = mask_tokens(ids, special, self.mask_id, self.vocab_size, self.mlm_prob, starts)
        return {"input_ids": inputs, "attention_mask": attention, "token_type_ids": torch.zeros_like(inputs),
                "labels": labels}


def masked_accuracy(predictions, label_ids) -> dict:
    """Held-out masked-token accuracy from argmax predictions (``preprocess_logits_for_metrics``)."""
    import numpy as np

    preds, labels = np.asarray(predictions), np.asarray(label_ids)
    keep = labels != -100
    return {"masked_accuracy": float((preds[keep] == labels[keep]).mean()) if keep.any() else float("nan")}
